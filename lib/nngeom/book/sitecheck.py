"""The built site as a reader's browser shows it: every page opened in headless Chromium.

For each HTML page of a built book this reports what a reader would notice: an image that does not load,
a JavaScript error or a resource that fails to load (the console), a formula left as raw LaTeX or typeset
as a TeX error (MathJax), a figure without a caption, and an internal link to a page or anchor that does
not exist. Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``), so
nothing beyond Debian's ``chromium`` is needed.

    python -m nngeom.book.sitecheck _build/html      # prints the problems, exits 1 if there are any
"""

from __future__ import annotations

import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlparse

__all__ = ["Problem", "PageReport", "check_site", "internal_link_problems", "site_pages"]

# Sphinx's generated pages (index of names, search) carry no content of ours.
SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
PAGE_TIMEOUT_S = 60.0

# Run in the page once it has loaded: wait for MathJax to finish typesetting, then report the images, the
# formulas (Sphinx marks each with class "math"; MathJax puts an mjx-container inside) and the figures.
_PAGE_SCRIPT = """
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.querySelectorAll('img')].filter(i => !i.complete || i.naturalWidth === 0)
                   .map(i => i.getAttribute('src'));
  const maths = [...document.querySelectorAll('.math')];
  const raw = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.trim().slice(0, 80));
  const errors = [...document.querySelectorAll('mjx-merror')]
                   .map(m => (m.getAttribute('data-mjx-error') || m.textContent).slice(0, 120));
  const uncaptioned = [...document.querySelectorAll('figure')]
                   .filter(f => !(f.querySelector('figcaption') && f.querySelector('figcaption').textContent.trim()))
                   .map(f => (f.querySelector('img') || {}).src || f.id || '(figure)');
  return JSON.stringify({mathjax: !!window.MathJax, images, maths: maths.length, raw, errors, uncaptioned});
})()
"""


@dataclass(frozen=True)
class Problem:
    """One thing a reader would notice on ``page`` (a path relative to the site)."""

    page: str
    kind: str  # "image", "console", "math", "figure", "link", "load"
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class PageReport:
    page: str
    formulas: int  # elements Sphinx marked as math
    typeset: bool  # MathJax was present and every formula got its rendering
    problems: tuple[Problem, ...]


def site_pages(html_dir: Path) -> list[Path]:
    """The site's content pages (Sphinx's index and search pages, and _static, left out)."""
    html_dir = Path(html_dir)
    return sorted(p for p in html_dir.rglob("*.html")
                  if p.name not in SKIPPED_PAGES and not p.relative_to(html_dir).parts[0].startswith("_"))  # fmt: skip


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])  # type: ignore[arg-type]
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])  # type: ignore[arg-type]


def internal_link_problems(html_dir: Path, pages: list[Path] | None = None) -> list[Problem]:
    """Links between the site's own files whose target file, or anchor in it, does not exist."""
    html_dir = Path(html_dir).resolve()
    parsed: dict[Path, _Anchors] = {}

    def parse(path: Path) -> _Anchors:
        if path not in parsed:
            parser = _Anchors()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            parsed[path] = parser
        return parsed[path]

    problems = []
    for page in pages if pages is not None else site_pages(html_dir):
        page = page.resolve()
        rel = str(page.relative_to(html_dir))
        for href in parse(page).links:
            if urlparse(href).scheme or href.startswith("//"):
                continue  # external (http, mailto): not ours to check offline
            target, fragment = urldefrag(href)
            path = (page.parent / unquote(target)).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                problems.append(Problem(rel, "link", f"{href}: no such file"))
            elif fragment and path.suffix == ".html" and unquote(fragment) not in parse(path).ids:
                problems.append(Problem(rel, "link", f"{href}: no anchor #{fragment} in {path.name}"))
    return problems


class _Chromium:
    """Headless Chromium spoken to in the DevTools protocol: JSON messages ended by NUL on fds 3 and 4."""

    def __init__(self, binary: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="nngeom-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the child must see the pipes as fds 3 (commands in) and 4 (answers out)
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", "--allow-file-access-from-files",
             f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: (os.dup2(to_browser_r, 3), os.dup2(from_browser_w, 4)),
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = PAGE_TIMEOUT_S) -> dict:  # fmt: skip
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = PAGE_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)


def _console_problems(rel: str, events: list[dict[str, Any]]) -> list[Problem]:
    out = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(Problem(rel, "console", (d.get("exception", {}).get("description") or d.get("text", ""))[:200]))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(
                Problem(
                    rel,
                    "console",
                    " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))[:200],
                )
            )
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append(Problem(rel, "console", f"{entry.get('text', '')} {entry.get('url', '')}".strip()[:200]))
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            out.append(Problem(rel, "load", f"{p.get('errorText', '')} ({p.get('type', '')})"))
    return out


def check_site(html_dir: Path, chromium: str | None = None, pages: list[Path] | None = None) -> list[PageReport]:
    """Open every page of the site at ``html_dir`` (or ``pages``) in headless Chromium and report, per page,
    the problems a reader would see; internal links are checked from the files. ``chromium``: the browser
    binary (default: ``chromium`` on PATH)."""
    html_dir = Path(html_dir).resolve()
    binary = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise RuntimeError("no chromium on PATH: install Debian's package (apt-get install chromium)")
    pages = [Path(p).resolve() for p in pages] if pages is not None else site_pages(html_dir)
    links: dict[str, list[Problem]] = {}
    for problem in internal_link_problems(html_dir, pages):
        links.setdefault(problem.page, []).append(problem)
    browser = _Chromium(binary)
    reports = []
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        for page in pages:
            rel = str(page.relative_to(html_dir))
            browser.events.clear()
            browser.send("Page.navigate", {"url": page.as_uri()}, session=session)
            browser.wait_for("Page.loadEventFired")
            result = browser.send("Runtime.evaluate", {"expression": _PAGE_SCRIPT, "awaitPromise": True,
                                                       "returnByValue": True}, session=session)  # fmt: skip
            seen = json.loads(result["result"]["value"])
            problems = [Problem(rel, "image", f"{src} did not load") for src in seen["images"]]
            problems += [Problem(rel, "math", f"not typeset: {t}") for t in seen["raw"]]
            problems += [Problem(rel, "math", f"TeX error: {t}") for t in seen["errors"]]
            problems += [Problem(rel, "figure", f"no caption: {f}") for f in seen["uncaptioned"]]
            if seen["maths"] and not seen["mathjax"]:
                problems.append(Problem(rel, "math", "MathJax did not load"))
            problems += _console_problems(rel, browser.events) + links.get(rel, [])
            typeset = seen["mathjax"] and not seen["raw"] and not seen["errors"]
            reports.append(PageReport(rel, seen["maths"], bool(typeset), tuple(problems)))
    finally:
        browser.close()
    return reports


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nngeom.book.sitecheck", description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path, help="the built site (e.g. _build/html)")
    args = parser.parse_args(argv)
    reports = check_site(args.html_dir)
    problems = [p for r in reports for p in r.problems]
    for p in problems:
        print(p)
    formulas = sum(r.formulas for r in reports)
    print(f"{len(reports)} pages, {formulas} formulas, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(_main())
