"""Files the book serves itself so that it reads offline: MathJax 3, from the npm registry.

Sphinx loads MathJax from a CDN unless ``mathjax_path`` names another copy; a site read without internet
then shows raw LaTeX. The workflow stages MathJax's ES5 build into the book sources' ``_assets/mathjax/``,
which ``_config.yml`` adds to Sphinx's static files (the site's ``_static/mathjax/``) and names in
``mathjax_path`` (resolved against ``_static``).

    python -m nngeom.book.assets mathjax DEST     # DEST/tex-mml-chtml.js and what it loads on demand
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from nngeom.core.data import data_root
from nngeom.core.io import atomic_directory, atomic_path

__all__ = ["MATHJAX_NPM_PACKAGE", "MATHJAX_ENTRY", "fetch_mathjax", "mathjax_archive"]

MATHJAX_NPM_PACKAGE = "mathjax@3.2.2"
# SHA-256 of the registry's mathjax-3.2.2.tgz (npm pack, 2026-12-02): a different file is refused.
MATHJAX_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
#: The component Sphinx loads by default (TeX and MathML in, CommonHTML out); ``_config.yml`` names it.
MATHJAX_ENTRY = "tex-mml-chtml.js"
# What the entry loads on demand: TeX extensions (autoload, e.g. for \boldsymbol), the CommonHTML fonts,
# the context menu and the assistive MathML. Speech (sre/, 4 MB) is only loaded when a reader turns it on
# in the menu, and is left out.
MATHJAX_PARTS = (MATHJAX_ENTRY, "input", "output", "ui", "a11y", "adaptors")
NPM_TIMEOUT_S = 600.0


def mathjax_archive(cache_dir: Path | None = None) -> Path:
    """The npm tarball of ``MATHJAX_NPM_PACKAGE``, fetched once into ``cache_dir`` (default: the data
    root's ``assets/``, where the other fetched files live) and checked against its SHA-256."""
    cache = Path(cache_dir) if cache_dir is not None else data_root() / "assets"
    tgz = cache / (MATHJAX_NPM_PACKAGE.replace("@", "-") + ".tgz")
    if not tgz.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"npm is not on PATH: it is needed once to fetch {MATHJAX_NPM_PACKAGE} for the book")
        with tempfile.TemporaryDirectory(prefix="nngeom-npm-") as tmp:
            try:
                subprocess.run([npm, "pack", MATHJAX_NPM_PACKAGE, "--silent", "--prefer-offline"], cwd=tmp,
                               check=True, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)  # fmt: skip
            except subprocess.CalledProcessError as e:
                tail = " / ".join((e.stderr or e.stdout or "").strip().splitlines()[-3:])
                raise RuntimeError(f"npm pack {MATHJAX_NPM_PACKAGE} failed (exit {e.returncode}): {tail}") from None
            packed = next(Path(tmp).glob("*.tgz"), None)
            if packed is None:
                raise RuntimeError(f"npm pack {MATHJAX_NPM_PACKAGE} produced no .tgz")
            with atomic_path(tgz) as part:
                shutil.copyfile(packed, part)
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if digest != MATHJAX_SHA256:
        raise RuntimeError(
            f"{tgz} has SHA-256 {digest}, not {MATHJAX_NPM_PACKAGE}'s {MATHJAX_SHA256}; delete it to refetch"
        )
    return tgz


def fetch_mathjax(dest: Path, cache_dir: Path | None = None) -> Path:
    """Unpack MathJax's ES5 build (``MATHJAX_PARTS``) into ``dest``, replacing it as a whole (an
    interrupted run leaves the old copy or none, never half of one). Returns the entry script's path."""
    dest = Path(dest)
    prefix = "package/es5/"
    with tarfile.open(mathjax_archive(cache_dir), "r:gz") as tar, atomic_directory(dest) as part:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)
                   and m.name[len(prefix):].split("/")[0] in MATHJAX_PARTS]  # fmt: skip
        if not any(m.name == prefix + MATHJAX_ENTRY for m in members):
            raise RuntimeError(f"{MATHJAX_NPM_PACKAGE} has no es5/{MATHJAX_ENTRY}")
        for m in members:
            target = part / m.name[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(m) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    return dest / MATHJAX_ENTRY


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nngeom.book.assets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mj = sub.add_parser("mathjax", help=f"unpack {MATHJAX_NPM_PACKAGE} into DEST")
    mj.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    try:
        print(fetch_mathjax(args.dest))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
