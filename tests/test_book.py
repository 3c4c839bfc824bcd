"""Regression: the smoke build of every notebook through the workflow, then a warning-free book.

The smoke profile's metrics are compared with ``tests/expected/smoke.json``. Each expected number carries
its own tolerance and the reason for it (see that file): closed forms are checked to rounding, seeded
Monte-Carlo numbers to a few of their own standard errors (the draws are seeded, but a different CPU may
order floating-point sums differently and flip a rare borderline sample), and counts exactly.

Verdicts are pinned one claim at a time (holds / does not hold / undecided). A claim whose smoke outcome
moved between the CPU configurations it was measured under (see ``_comment`` in that file) is listed under
``unpinned`` with the outcomes seen; every claim a page decides must be in one of the two lists, so a new
claim cannot slip in unchecked. No page may fail.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = json.loads((ROOT / "tests/expected/smoke.json").read_text())
PROFILE = "smoke"

pytestmark = pytest.mark.book


def snakemake(*args: str, html_dir: Path) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--config",
        f"profile={PROFILE}",
        f"html_dir={html_dir}",
        "jb_flags=-W --keep-going",
        f"python={sys.executable}",
        *args,
    ]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def smoke_build(tmp_path_factory):
    html_dir = tmp_path_factory.mktemp("site")
    proc = snakemake(html_dir=html_dir)
    if proc.returncode != 0:
        # the cause (a Sphinx warning under -W, a notebook's traceback) is often far above the tail
        lines = (proc.stdout + "\n" + proc.stderr).splitlines()
        causes = [ln for ln in lines if "WARNING" in ln or "Error" in ln or "ERROR" in ln][:60]
        pytest.fail(
            "smoke build failed; warnings and errors:\n"
            + "\n".join(causes)
            + f"\n--- tail ---\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return html_dir


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]


def test_every_page_is_rendered(smoke_build):
    html = smoke_build / "_build" / "html"
    for page in toc_pages():
        assert (html / f"{page}.html").exists(), page


def test_a_rerun_has_nothing_to_do(smoke_build):
    proc = snakemake("--dry-run", "--quiet", "rules", html_dir=smoke_build)
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def _metrics(page: str) -> dict:
    return json.loads((ROOT / "_build" / "metrics" / PROFILE / f"{page}.json").read_text())


@pytest.mark.parametrize("page", sorted(EXPECTED["pages"]))
def test_metrics_match_expectations(smoke_build, page):
    check_expectations(_metrics(page), page)


def check_expectations(got: dict, page: str) -> None:
    """``got`` (a page's smoke metrics) against what tests/expected/smoke.json pins for ``page``."""
    want = EXPECTED["pages"][page]
    assert got["profile"] == PROFILE
    for name, spec in want.get("values", {}).items():
        assert name in got["values"], f"{page}: metric {name} missing"
        value = got["values"][name]
        if "equals" in spec:
            assert value == spec["equals"], (page, name, value, spec)
        else:
            assert isinstance(value, (int, float)) and math.isfinite(value), (page, name, value)
            assert abs(value - spec["value"]) <= spec["abs"], (page, name, value, spec)
    for item, status in want.get("items", {}).items():
        assert got["items"][item]["status"] == status, (page, item)
    decided = {f"{item}/{v['claim']}": v["holds"] for item, info in got["items"].items() for v in info["verdicts"]}
    pinned = {
        f"{item}/{claim}": holds for item, claims in want.get("verdicts", {}).items() for claim, holds in claims.items()
    }
    unpinned = want.get("unpinned", {})
    for key, holds in pinned.items():
        assert key in decided, f"{page}: claim {key} was not decided"
        assert decided[key] == holds, f"{page}: {key} came out {decided[key]}, expected {holds}"
    stray = sorted(set(decided) - set(pinned) - set(unpinned))
    assert not stray, f"{page}: claims neither pinned nor listed as unpinned in smoke.json: {stray}"
    gone = sorted(set(unpinned) - set(decided))
    assert not gone, f"{page}: unpinned claims the page no longer decides: {gone}"


def test_no_page_failed(smoke_build):
    from nngeom.book.notebook import failures

    failed = [(f["notebook"], f["failed"]["error"]) for f in failures(PROFILE)]
    assert not failed, f"pages failed in the smoke build (partial notebooks under _build/failed/{PROFILE}): {failed}"


def test_every_verdict_says_how_it_was_decided(smoke_build):
    for path in sorted((ROOT / "_build" / "metrics" / PROFILE).rglob("*.json")):
        got = json.loads(path.read_text())
        for item, info in got["items"].items():
            assert "status" in info and info["status"] != "not started", (path, item)
            for v in info["verdicts"]:
                assert v["holds"] in (True, False, None), (path, item, v["claim"])
                assert v["test"] or v["evidence"], f"{path.name}: {item}/{v['claim']} gives neither a test nor evidence"


def test_parameters_cells_are_collapsed(smoke_build):
    # a page opens with prose, not with its parameters: their cells carry hide-input in the staged
    # notebook, and the site renders them collapsed (myst-nb's tag_hide-input)
    html = smoke_build / "_build" / "html"
    for page in toc_pages():
        staged = ROOT / "_build" / "src" / PROFILE / f"{page}.ipynb"
        if not (ROOT / f"{page}.py").exists():
            continue
        cells = json.loads(staged.read_text())["cells"]
        tagged = [c["metadata"].get("tags", []) for c in cells]
        boiler = [t for t in tagged if {"parameters", "injected-parameters"} & set(t)]
        assert len(boiler) == 2 and all("hide-input" in t for t in boiler), (page, boiler)
        assert (html / f"{page}.html").read_text().count("tag_hide-input") >= 2, page


def test_every_api_reference_on_a_page_links_to_its_entry(smoke_build):
    # {func}/{class}/{mod} roles render as <code class="xref py ...">, inside a link only when Sphinx found
    # the target (the API reference, book/api.md, documents every module from its docstrings)
    html = smoke_build / "_build" / "html"
    role = re.compile(
        r'(<a class="reference internal"[^>]*>)?<code class="xref py py-\w+[^"]*"><span class="pre">([^<]*)<'
    )
    found, dangling = 0, []
    for page in html.rglob("*.html"):
        for m in role.finditer(page.read_text()):
            found += 1
            if not m.group(1):
                dangling.append(f"{page.relative_to(html)}: {m.group(2)}")
    assert found > 50, "no API references found: has the markup changed?"
    assert not dangling, dangling


@pytest.mark.browser
def test_every_page_reads_well_in_a_browser(smoke_build):
    # every page of the smoke site opened in headless Chromium, offline: images load, no console error,
    # every formula typeset by the MathJax the site serves itself, every figure captioned, no dead link
    from nngeom.book.sitecheck import check_site

    html = smoke_build / "_build" / "html"
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert "cdn.jsdelivr.net/npm/mathjax" not in (html / "index.html").read_text()
    reports = check_site(html)
    assert len(reports) >= len(toc_pages())
    problems = [str(p) for r in reports for p in r.problems]
    assert not problems, "\n".join(problems)
    assert sum(r.formulas for r in reports) > 100 and all(r.typeset for r in reports if r.formulas)


def test_the_build_report_measures_every_job(smoke_build):
    # every model and page job of the profile left a benchmark file, and the report page counted them all
    prof = yaml.safe_load((ROOT / "profiles" / f"{PROFILE}.yaml").read_text())["notebooks"]
    models = {m for cfg in prof.values() for m in ((cfg or {}).get("models") or [])}
    got = _metrics("book/build_report")["values"]
    assert got["models_measured"] == len(models) and got["pages_measured"] == len(prof) - 1  # all but itself
    assert got["total_wall_minutes"] > 0
    assert "Build report" in (smoke_build / "_build" / "html" / "book" / "build_report.html").read_text()


# The paper whose smoke workflow the cluster test runs through Slurm: its pages and models take a few
# minutes (the build report of a smoke build lists each job's time).
CLUSTER_PAPER, CLUSTER_DIR = "NIS", "natural_image_spaces"


@pytest.mark.cluster
def test_one_paper_through_slurm_meets_the_smoke_expectations(tmp_path):
    # a single-node Slurm (tests/slurm_cluster.py) runs one paper's smoke workflow, its model trained
    # afresh in a Slurm job, through the workflow profile profiles/slurm; its metrics must meet the same
    # expectations as a local build's (tests/expected/smoke.json). Not exact equality with a local build:
    # measured, a Slurm run's NIS 04 accuracies differed from the local build's on the same machine (its
    # model and runs trained afresh while other jobs loaded the cores), as the smoke pins allow across CPUs.
    # It needs no local smoke build, so `make test-cluster` runs it alone.
    import slurm_cluster

    reason = slurm_cluster.missing()
    if reason:
        pytest.fail(reason)
    work = tmp_path / "tree"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    for rel in files:
        if (ROOT / rel).is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes((ROOT / rel).read_bytes())
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               NNGEOM_CACHE=str(tmp_path / "models"))  # fmt: skip
    env.pop("SLURM_CONF", None)
    cmd = [sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/slurm", "--config", "profile=smoke",
           f"python={sys.executable}", f"paper={CLUSTER_PAPER}", "--", "paper"]  # fmt: skip
    with slurm_cluster.single_node_slurm(tmp_path / "slurm"):
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        jobs = subprocess.run(["squeue", "-h", "--states=all", "-o", "%j %T"], capture_output=True, text=True).stdout
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = [line for line in jobs.splitlines() if line.strip()]
    assert len(ran) >= 2 and all(line.endswith("COMPLETED") for line in ran), jobs  # the model and pages ran in Slurm
    profile = yaml.safe_load((ROOT / "profiles" / f"{PROFILE}.yaml").read_text())
    pages = [key for key in profile["notebooks"] if key.startswith(f"notebooks/{CLUSTER_DIR}/")]
    assert pages
    for key in pages:
        got = json.loads((work / "_build/metrics" / PROFILE / f"{key}.json").read_text())
        assert got["items"].keys() == EXPECTED["pages"][key]["items"].keys(), key
        check_expectations(got, key)
