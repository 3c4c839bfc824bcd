"""The browser check itself, on a hand-made page with one of each problem it must find."""

from __future__ import annotations

import shutil

import pytest

from nngeom.book import sitecheck

pytestmark = pytest.mark.browser

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<h1 id="top">t</h1>
<img src="missing.png">
<figure><img src="ok.svg"></figure>
<figure><img src="ok.svg"><figcaption>A caption.</figcaption></figure>
<span class="math">\\(x^2\\)</span>
<a href="#top">fine</a> <a href="other.html#here">fine</a> <a href="gone.html">dead</a>
<a href="other.html#nowhere">dead anchor</a> <a href="https://example.org/">external</a>
<script>notDefinedAnywhere();</script>
</body></html>"""
OTHER = '<!DOCTYPE html><html><body><p id="here">x</p></body></html>'
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'


def test_the_check_finds_each_planted_problem(tmp_path):
    if shutil.which("chromium") is None:
        pytest.fail("chromium is not installed: make test installs Debian's package (apt-get install chromium)")
    (tmp_path / "page.html").write_text(PAGE)
    (tmp_path / "other.html").write_text(OTHER)
    (tmp_path / "ok.svg").write_text(SVG)
    reports = {r.page: r for r in sitecheck.check_site(tmp_path)}
    assert set(reports) == {"page.html", "other.html"} and not reports["other.html"].problems
    found = {(p.kind, p.detail.split(":")[0]) for p in reports["page.html"].problems}
    kinds = {p.kind for p in reports["page.html"].problems}
    assert kinds == {"image", "load", "console", "math", "figure", "link"}, found
    details = " | ".join(str(p) for p in reports["page.html"].problems)
    assert "missing.png did not load" in details and "notDefinedAnywhere" in details
    assert "MathJax did not load" in details and "no caption" in details
    assert "gone.html: no such file" in details and "no anchor #nowhere" in details
    assert "example.org" not in details and "#top" not in details and "#here" not in details
    assert reports["page.html"].formulas == 1 and not reports["page.html"].typeset


def test_a_mathjax_archive_that_is_not_the_pinned_one_is_refused(tmp_path):
    from nngeom.book import assets

    fake = tmp_path / (assets.MATHJAX_NPM_PACKAGE.replace("@", "-") + ".tgz")
    fake.write_bytes(b"not mathjax")
    with pytest.raises(RuntimeError, match="SHA-256"):
        assets.fetch_mathjax(tmp_path / "out", cache_dir=tmp_path)
    assert not (tmp_path / "out").exists()  # nothing half-unpacked
