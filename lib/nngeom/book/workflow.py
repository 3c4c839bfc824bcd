"""The workflow's map from a notebook (or a library module) to the library files it depends on.

The Snakefile gives each notebook job the ``lib/nngeom`` files its source imports, transitively, instead of
every library file, so that editing one paper's subpackage reruns only the pages that import it (and the
scoreboard, which reads every page's metrics). Imports are read from the source with ``ast``,
function-level imports included, without importing anything; the ``__init__.py`` of every package on the way
is an input too (Python runs it on import), and so are a package's data files (``*.yaml``: the papers'
reference numbers) when the package is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["imported_modules", "library_inputs"]

DATA_SUFFIXES = (".yaml",)


def _module_path(module: str, lib: Path) -> Path | None:
    """The file of dotted ``module`` under ``lib`` (the folder holding ``nngeom``), or None if there is none."""
    base = lib.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def imported_modules(source: Path, lib: Path) -> set[str]:
    """The ``nngeom`` modules and packages that ``source`` imports directly (``from nngeom.core import zoo``
    names ``nngeom.core`` and ``nngeom.core.zoo``; ``from nngeom.core.zoo import load`` names
    ``nngeom.core.zoo``), with every parent package."""
    tree = ast.parse(Path(source).read_text(), filename=str(source))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "nngeom")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "nngeom":
                continue
            found.add(node.module)
            for a in node.names:  # a name that is a submodule is imported as a module
                if _module_path(f"{node.module}.{a.name}", lib) is not None:
                    found.add(f"{node.module}.{a.name}")
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return found | parents


def library_inputs(source: Path, lib: Path) -> list[Path]:
    """Every library file that importing what ``source`` imports reads, transitively, sorted: the modules, the
    ``__init__.py`` of their packages, and the data files of imported packages."""
    lib = Path(lib)
    seen: set[str] = set()
    todo = list(imported_modules(Path(source), lib))
    files: set[Path] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_path(module, lib)
        if path is None:
            continue  # a name imported from a module (not a module itself), or a module that does not exist
        files.add(path)
        if path.name == "__init__.py":
            files.update(p for p in path.parent.iterdir() if p.suffix in DATA_SUFFIXES)
        todo.extend(imported_modules(path, lib) - seen)
    return sorted(files)
