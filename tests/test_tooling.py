"""Tooling: ruff (lint and format) is clean, every imported package is declared, and no runtime dependency is
declared that nothing imports."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("lib", "tests", "bench", "notebooks", "book")
# declared on purpose though no module imports them: tools that are run, plugins that are loaded by name
TOOLS = {
    "jupyter-book", "sphinxcontrib-bibtex", "ipykernel", "nbclient", "snakemake", "pytest", "ruff",
    "clarabel",  # cvxpy's solver, chosen by name: solve(solver=cp.CLARABEL)
}  # fmt: skip


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_is_clean():
    out = _ruff("check", "--output-format", "concise", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean():
    out = _ruff("format", "--check", "lib", "tests", "bench")
    assert out.returncode == 0, out.stdout + out.stderr


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_distributions() -> dict[str, set[str]]:
    """Distribution name -> the folders whose code imports it (third-party packages only)."""
    dists = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    tops = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    if top in sys.stdlib_module_names or top == "nngeom" or (ROOT / "tests" / f"{top}.py").exists():
                        continue  # the standard library, the package itself, a helper module of the tests
                    for dist in dists.get(top, [top]):
                        found.setdefault(_name(dist), set()).add(folder)
    return found


def test_every_imported_package_is_declared_and_every_dependency_is_imported():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    imported = _imported_distributions()
    undeclared = {d: sorted(f) for d, f in imported.items() if d not in runtime | extras}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    unused = sorted(runtime - set(imported) - TOOLS)
    assert not unused, f"declared in pyproject.toml's dependencies but imported nowhere: {unused}"
    # the library itself may only need what an installed nngeom (dependencies, and the book extra) provides
    lib_only = {d for d, f in imported.items() if "lib" in f}
    book = {_name(r) for r in project["optional-dependencies"]["book"]}
    assert lib_only <= runtime | book, sorted(lib_only - runtime - book)


def test_the_api_reference_documents_every_module():
    text = (ROOT / "book/api.md").read_text()
    modules = {
        ".".join(p.relative_to(ROOT / "lib").with_suffix("").parts)
        for p in (ROOT / "lib/nngeom").rglob("*.py")
        if p.name != "__init__.py" and "reference" not in p.parts
    }
    listed = set(re.findall(r"^\.\. automodule:: (\S+)$", text, flags=re.M))
    assert modules <= listed, f"modules missing from book/api.md: {sorted(modules - listed)}"
