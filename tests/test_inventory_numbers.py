"""Every number of INVENTORY.md's "notes / paper values" column is recorded in nngeom/book/reference/.

The inventory (``../shared/papers/INVENTORY.md``, beside the repository) gives, for each table and figure,
the paper's numbers to put beside ours. This test parses every table row of it and checks that each
number of the row's notes cell appears in the reference entry of that row's id, so that a page reading
``nngeom.book.report.reference(...)`` finds every number the inventory promises.

Tokenizing rule (one rule for the notes cell and for the strings of a reference entry, see
:func:`numbers_in`):

* a number is a maximal run of digits with an optional decimal part and an optional exponent:
  ``12``, ``0.086``, ``98.50`` (= 98.5), ``.05`` (= 0.05), ``1e-7``, ``1.0e-5``;
* a comma between digit groups of exactly three is a thousands separator: ``40,000`` -> 40000,
  ``196,608`` -> 196608; any other comma separates numbers: ``(1,4)`` -> 1 and 4, ``[0.4,0.6]`` ->
  0.4 and 0.6;
* everything else separates numbers: ``97.31/0.086/0.65/0.56`` -> four numbers, ``13x2`` -> 13 and 2,
  ``2..9`` -> 2 and 9, ``F9-F12`` -> 9 and 12;
* signs are not part of a number (a hyphen is almost always a dash, a range or part of a name:
  ``FC10-4``, ``eqs 7-10``, ``sign(x-0.5)``), so numbers are compared by absolute value; only the
  ``-`` of an exponent (``1e-7``) belongs to the number;
* digits inside names count like any other number: ``FC10-4`` -> 10 and 4, ``C-512`` -> 512,
  ``B_7(0)`` -> 7 and 0, ``W_k^3`` -> 3, ``vgg16`` -> 16, ``CIFAR-10`` -> 10; they are matched
  by a string of the entry that carries the same name (``network: FC10-4``, ``source: "... Table 3"``);
* a number followed by ``%`` is matched either as written (74.67) or as a fraction (0.7467).

An entry's numbers are its YAML numbers anywhere (``values``, ``settings``, ``scale``, ``rows``, nested;
booleans excluded) and the numbers of all its strings, mapping keys included (``acc_bn_lr1e-4`` carries
1e-4), tokenized by the same rule. Two numbers are equal when they agree to 12 significant digits.

Each number must be found in the entry of its own item: for a row whose id cell names several ids
(``ANX-F4, F5``, ``LRG-T3, T4, F9-F12``; inventory.yaml records the cell as ``group``) in the entry of
any id of that group, never elsewhere in the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nngeom.book import report

INVENTORY_MD = Path(__file__).resolve().parents[2] / "shared" / "papers" / "INVENTORY.md"
needs_inventory_md = pytest.mark.skipif(
    not INVENTORY_MD.is_file(),
    reason=f"{INVENTORY_MD} is absent (a plain clone has no ../shared/papers; CI has it)",
)

_ID = re.compile(r"(NIS|FSH|ANX|IPN|LRG)-(.+)$")
_ID_PART = re.compile(r"([A-Z]+)(\d*)(?:-([A-Z]+)?(\d+))?$")

_NUMBER = re.compile(
    r"""(?<![\d.])                       # not inside another number
        (?:
            \d{1,3}(?:,\d{3})+(?![\d.])  # thousands separators: 40,000  196,608
          | \d+(?:\.\d+)?(?:[eE][-+]?\d+)?   # 12  0.086  1e-7  1.0e-5
          | \.\d+(?:[eE][-+]?\d+)?       # .05
        )
        (?P<percent>\s*%)?
    """,
    re.VERBOSE,
)


# --- parsing --------------------------------------------------------------------------------------


def numbers_in(text: str) -> list[tuple[str, float, bool]]:
    """The numbers of ``text`` by the module's rule: (as written, value, followed by %)."""
    text = re.sub(r"\.{2,}", " to ", text)  # "2..9": a range, not a decimal point
    out = []
    for m in _NUMBER.finditer(text):
        written = m.group(0).rstrip("% \t")
        out.append((written, float(written.replace(",", "")), bool(m.group("percent"))))
    return out


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row: split at pipes outside backtick spans and not escaped."""
    cells, cur, in_code, i = [], [], False, 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == "|":
            cur.append("|")
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        elif ch == "|" and not in_code:
            cells.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    cells.append("".join(cur))
    s = line.strip()
    if s.startswith("|"):
        cells = cells[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        cells = cells[:-1]
    return [_plain(c) for c in cells]


def _plain(cell: str) -> str:
    """A cell without Markdown emphasis and code marks."""
    cell = cell.replace("`", "")
    cell = re.sub(r"(\*\*|__)(.+?)\1", r"\2", cell)
    return cell.strip()


def expand_ids(cell: str) -> list[str]:
    """The ids of an id cell: ``"LRG-T3, T4, F9-F12"`` -> LRG-T3, LRG-T4, LRG-F9, ..., LRG-F12."""
    parts = [p.strip() for p in cell.split(",") if p.strip()]
    m = _ID.match(parts[0]) if parts else None
    if not m:
        raise ValueError(f"not an inventory id cell: {cell!r}")
    paper, first = m.groups()
    out = []
    for part in [first] + parts[1:]:
        pm = _ID_PART.match(part)
        if not pm:
            raise ValueError(f"cannot read {part!r} in id cell {cell!r}")
        kind, start, kind2, stop = pm.groups()
        if stop is None:
            out.append(f"{paper}-{kind}{start}")
        else:
            if (kind2 or kind) != kind or not start:
                raise ValueError(f"range {part!r} in {cell!r} mixes kinds")
            out += [f"{paper}-{kind}{k}" for k in range(int(start), int(stop) + 1)]
    return out


def inventory_rows(path: Path = INVENTORY_MD) -> list[dict[str, Any]]:
    """Every item row of INVENTORY.md: its id cell, the ids it names, its notes cell, its line number."""
    rows, notes_col = [], None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.lstrip().startswith("|"):
            notes_col = None
            continue
        cells = _cells(line)
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):  # the |---| line
            continue
        if cells and cells[0].lower() == "id":  # a header: find the notes column
            notes_col = next(i for i, c in enumerate(cells) if "notes" in c.lower())
            n_header = len(cells)
            continue
        if notes_col is None:
            raise ValueError(f"INVENTORY.md line {lineno}: table row without a header: {line!r}")
        # a stray pipe inside the item text adds cells in the middle; id and notes keep their ends
        if len(cells) < n_header:
            raise ValueError(f"INVENTORY.md line {lineno}: {len(cells)} cells, the header has {n_header}: {line!r}")
        notes = cells[notes_col - n_header]
        rows.append({"cell": cells[0], "ids": expand_ids(cells[0]), "notes": notes, "line": lineno})
    return rows


# --- an entry's numbers ---------------------------------------------------------------------------


def _key(x: float) -> float:
    return float(f"{abs(x):.12g}")


def entry_numbers(entry: Any) -> set[float]:
    """Every number of a reference entry: YAML numbers anywhere and the numbers of its strings and keys."""
    found: set[float] = set()

    def walk(node: Any) -> None:
        if isinstance(node, bool) or node is None:
            return
        if isinstance(node, (int, float)):
            if math.isfinite(node):
                found.add(_key(node))
        elif isinstance(node, str):
            found.update(_key(v) for _, v, _ in numbers_in(node))
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(k)
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
        else:  # dates and the like: read as text
            walk(str(node))

    walk(entry)
    return found


def _reference(paper: str) -> dict[str, Any]:
    try:
        return report.reference(paper)
    except ValueError:
        return {}


def missing_numbers(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    """(id cell, the notes' numbers not found in the entries of its ids) for every row that misses one."""
    for row in rows:
        paper = row["ids"][0].split("-")[0]
        ref = _reference(paper)
        entries = [ref[i] for i in row["ids"] if i in ref]
        pool = entry_numbers(entries)
        absent = [i for i in row["ids"] if i not in ref]
        missing = []
        for written, value, percent in numbers_in(row["notes"]):
            ok = _key(value) in pool or (percent and _key(value / 100) in pool)
            if not ok and written not in missing:
                missing.append(written)
        if missing:
            where = f" (no entry for {', '.join(absent)} in {paper}.yaml)" if absent else ""
            yield row["cell"] + where, missing


# --- tests ----------------------------------------------------------------------------------------


def test_tokenizing_rule():
    vals = lambda s: [v for _, v, _ in numbers_in(s)]  # noqa: E731
    assert vals("40,000 points from [0.4,0.6] vs 20,000 from [0,0.1)") == [40000, 0.4, 0.6, 20000, 0, 0.1]
    assert vals("FC100-100-10 97.31/0.086/0.65/0.56") == [100, 100, 10, 97.31, 0.086, 0.65, 0.56]
    assert vals("lambda=1e-7; full 13x2 table; eps in {.3, .1, .05, .01}") == [1e-7, 13, 2, 0.3, 0.1, 0.05, 0.01]
    assert vals("C-512 99.22, B_7(0), W_k^3, x^t, n = 196,608 (5,000)") == [512, 99.22, 7, 0, 3, 196608, 5000]
    assert vals("means (1,4), (4, 15); targets 2..9; 1.0e-5 acc_bn_lr1e-4") == [1, 4, 4, 15, 2, 9, 1e-5, 1e-4]
    assert [p for _, _, p in numbers_in("74.67 % vs 33%, 0.5")] == [True, True, False]
    assert expand_ids("LRG-T3, T4, F9-F12") == ["LRG-T3", "LRG-T4", "LRG-F9", "LRG-F10", "LRG-F11", "LRG-F12"]
    assert expand_ids("ANX-F4, F5") == ["ANX-F4", "ANX-F5"] and expand_ids("LRG-AC") == ["LRG-AC"]
    assert _cells("| ANX-F3 | distortion ||r||_2 | `a|b` 0.089 |")[0] == "ANX-F3"
    assert _cells("| X | `a|b` 1 \\| 2 |") == ["X", "a|b 1 | 2"]


def test_every_inventory_id_has_a_reference_entry():
    absent: dict[str, list[str]] = {}
    for it in report.inventory():
        if it["id"] not in _reference(it["paper"]):
            absent.setdefault(it["paper"], []).append(it["id"])
    assert not absent, "inventory ids without an entry in nngeom/book/reference/<PAPER>.yaml:\n" + "\n".join(
        f"  {p}: {', '.join(ids)}" for p, ids in absent.items()
    )


@needs_inventory_md
def test_inventory_md_rows_match_inventory_yaml():
    """The id cells expand to the ids inventory.yaml lists, with the cell as their `group`."""
    inv = {it["id"]: it for it in report.inventory()}
    rows = inventory_rows()
    md_ids = [i for r in rows for i in r["ids"]]
    assert sorted(md_ids) == sorted(inv), (
        f"only in INVENTORY.md: {sorted(set(md_ids) - set(inv))}; "
        f"only in inventory.yaml: {sorted(set(inv) - set(md_ids))}"
    )
    for r in rows:
        for i in r["ids"]:
            want = r["cell"] if len(r["ids"]) > 1 else None
            assert inv[i].get("group") == want, f"{i}: group {inv[i].get('group')!r}, INVENTORY.md cell {r['cell']!r}"


@needs_inventory_md
@pytest.mark.parametrize("paper", ["NIS", "FSH", "ANX", "IPN", "LRG"])
def test_inventory_numbers_are_in_the_reference(paper):
    rows = [r for r in inventory_rows() if r["ids"][0].startswith(paper + "-")]
    assert rows, f"no rows of {paper} in {INVENTORY_MD}"
    missing = list(missing_numbers(rows))
    assert not missing, (
        f"numbers of INVENTORY.md's notes column not found in the entry of their id in "
        f"nngeom/book/reference/{paper}.yaml:\n" + "\n".join(f"  {cell}: {', '.join(nums)}" for cell, nums in missing)
    )
