"""Report the loops and functions that pages define in their cells, longest first.

A page narrates; its algorithms live in ``nngeom``. This script reads every jupytext page (``notebooks/**.py``,
``book/*.py``), splits it into cells at ``# %%``, and measures each outermost ``for``/``while`` loop,
``def`` and ``class`` of a code cell in code lines (blank and comment lines not counted). Blocks longer
than ``LIMIT`` lines are listed; ``tests/test_cells.py`` fails on any that is not in its list of known
cells still to be moved into the library, or that has grown.

    python tests/cell_report.py            # every block over the limit
    python tests/cell_report.py --all      # every block
"""

from __future__ import annotations

import argparse
import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 15  # code lines; "no cell holds a loop or algorithm longer than about 15 lines"
_CELL = re.compile(r"^# %%(.*)$")


@dataclass(frozen=True)
class Block:
    page: str  # path relative to the repository root, without .py
    cell: int  # index of the cell in the page (markdown cells counted)
    kind: str  # for, while, def or class
    header: str  # the block's first line, stripped
    lines: int  # code lines in the block

    @property
    def key(self) -> str:
        return f"{self.page}: {self.header[:50]}"


def pages(root: Path = ROOT) -> list[Path]:
    return sorted([*(root / "notebooks").rglob("[0-9][0-9]_*.py"), *(root / "book").glob("*.py")])


def cells(path: Path) -> list[tuple[str, int, str]]:
    """``(kind, first line number, source)`` of every cell; kind is ``code`` or ``markdown``."""
    out: list[tuple[str, int, list[str]]] = []
    for n, line in enumerate(path.read_text().split("\n"), start=1):
        m = _CELL.match(line)
        if m:
            out.append(("markdown" if "[markdown]" in m.group(1) else "code", n + 1, []))
        elif out:
            out[-1][2].append(line)
    return [(kind, start, "\n".join(src)) for kind, start, src in out]


def _code_lines(src: list[str], node: ast.AST) -> int:
    body = src[node.lineno - 1 : node.end_lineno]
    return sum(1 for ln in body if ln.strip() and not ln.strip().startswith("#"))


def blocks(path: Path, root: Path = ROOT) -> list[Block]:
    page = str(path.relative_to(root).with_suffix(""))
    found = []
    for i, (kind, _, source) in enumerate(cells(path)):
        if kind != "code":
            continue
        tree = ast.parse(source)
        src = source.split("\n")
        todo = list(ast.iter_child_nodes(tree))
        while todo:
            node = todo.pop(0)
            kinds = {ast.For: "for", ast.While: "while", ast.FunctionDef: "def", ast.ClassDef: "class"}
            k = next((v for t, v in kinds.items() if isinstance(node, t)), None)
            if k is None:
                todo.extend(ast.iter_child_nodes(node))  # e.g. a loop inside an if or a with
                continue
            found.append(Block(page, i, k, src[node.lineno - 1].strip(), _code_lines(src, node)))
    return found


def long_blocks(limit: int = LIMIT, root: Path = ROOT) -> list[Block]:
    return sorted((b for p in pages(root) for b in blocks(p, root) if b.lines > limit), key=lambda b: -b.lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="list every block, not only those over the limit")
    ap.add_argument("--limit", type=int, default=LIMIT)
    args = ap.parse_args()
    rows = long_blocks(0 if args.all else args.limit)
    for b in rows:
        print(f"{b.lines:4d}  {b.kind:5s}  {b.page}  cell {b.cell}: {b.header}")
    total = sum(1 for p in pages() for kind, _, _ in cells(p) if kind == "code")
    print(f"\n{len(rows)} blocks over {args.limit} code lines, in {len(pages())} pages with {total} code cells")


if __name__ == "__main__":
    main()
