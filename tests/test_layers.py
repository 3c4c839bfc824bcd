"""The library's layers import one way: core <- solvers <- one subpackage per paper <- book.

Every ``import nngeom...`` / ``from nngeom... import`` in ``lib/nngeom`` is read from the source (function-
level imports included), and each must point to the module's own layer or one below it; a paper's
subpackage may not import another paper's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "nngeom"
PAPERS = (
    "adversarial_neighborhoods",
    "feature_space",
    "intriguing_properties",
    "linear_regions",
    "natural_image_spaces",
)
LAYER = {"core": 0, "solvers": 1, **{p: 2 for p in PAPERS}, "book": 3}


def _package(module: str) -> str:
    """The top subpackage of a dotted ``nngeom`` module name (``nngeom`` itself for the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "nngeom"


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every nngeom import in ``path``; ``from nngeom.x import y`` counts as ``nngeom.x.y``
    when ``y`` is a module, which the package test below does not need to know (the subpackage is ``x``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "nngeom"]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == "nngeom"
        ):
            if node.module == "nngeom":  # from nngeom import core, ...: each name is a subpackage
                out += [(node.lineno, f"nngeom.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}:{node.lineno}: relative import; write the absolute nngeom path")
    return out


def violations(lib: Path = LIB) -> list[str]:
    found = []
    for path in sorted(lib.rglob("*.py")):
        rel = path.relative_to(lib.parent)
        parts = rel.with_suffix("").parts
        own = _package(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
        if own == "nngeom":
            continue  # the package's own __init__ (a docstring and the version)
        if own not in LAYER:
            found.append(f"{rel}: subpackage {own!r} is in no layer (add it to tests/test_layers.py)")
            continue
        for line, module in _imports(path):
            target = _package(module)
            if target == "nngeom":
                continue  # the package root holds only the version: anything may read it
            if target not in LAYER:
                found.append(f"{rel}:{line}: imports {module}, which is in no layer")
            elif LAYER[target] > LAYER[own]:
                found.append(f"{rel}:{line}: {own} (layer {LAYER[own]}) imports {module} (layer {LAYER[target]})")
            elif LAYER[target] == LAYER[own] == 2 and target != own:
                found.append(f"{rel}:{line}: paper subpackage {own} imports another paper's {module}")
    return found


def test_imports_go_one_way():
    assert violations() == []


def test_every_subpackage_is_in_a_layer():
    packages = {p.name for p in LIB.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYER), "tests/test_layers.py names the layers; a new subpackage needs one"
    assert not [p.name for p in LIB.glob("*.py") if p.name != "__init__.py"], "modules belong in a subpackage"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from nngeom.book.report import Metrics\n", "core (layer 0) imports nngeom.book.report (layer 3)"),
        ("def f():\n    from nngeom.linear_regions import regions\n", "core (layer 0) imports nngeom.linear_regions"),
        ("import nngeom.solvers.polytope\n", "core (layer 0) imports nngeom.solvers.polytope (layer 1)"),
    ],
)
def test_the_check_catches_an_upward_import(tmp_path, source, expected):
    lib = tmp_path / "nngeom"
    for pkg in LAYER:
        (lib / pkg).mkdir(parents=True)
        (lib / pkg / "__init__.py").write_text("")
    (lib / "core" / "bad.py").write_text(source)
    assert any(expected in v for v in violations(lib))


def test_the_check_catches_one_paper_importing_another(tmp_path):
    lib = tmp_path / "nngeom"
    for pkg in LAYER:
        (lib / pkg).mkdir(parents=True)
        (lib / pkg / "__init__.py").write_text("")
    (lib / "linear_regions" / "bad.py").write_text("from nngeom.adversarial_neighborhoods import persistence\n")
    (lib / "book" / "fine.py").write_text("from nngeom.linear_regions import regions\nfrom nngeom.core import zoo\n")
    assert violations(lib) == [
        "nngeom/linear_regions/bad.py:1: paper subpackage linear_regions imports another "
        "paper's nngeom.adversarial_neighborhoods"
    ]
