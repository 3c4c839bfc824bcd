"""List the verdicts that differ between two sets of page metrics (old and new), page by page.

    python records/compare.py ../shared/observed/default-3beaed4-other-machine.json records/default/2d1ffee

Each side is a folder of metrics files (``<page key>.json`` below it) or one json file with
``{"pages": {key: {"verdicts": {item: {claim: verdict}}}}}``, a verdict being
true/false/null or ``{"holds": ..., "evidence": ...}`` (the form of ``../shared/observed``).
Only pages present on both sides are compared; claims present on one side only are listed as added or gone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUTCOME = {True: "holds", False: "does not hold", None: "undecided"}


def verdicts(source: Path) -> dict[str, dict[tuple[str, str], bool | None]]:
    """page key -> {(item, claim): holds}."""
    if source.is_file():
        pages = json.loads(source.read_text())["pages"]
        return {
            k: {
                (i, c): (h["holds"] if isinstance(h, dict) else h)
                for i, cl in p.get("verdicts", {}).items()
                for c, h in cl.items()
            }
            for k, p in pages.items()
        }
    out = {}
    for f in sorted(source.rglob("*.json")):
        m = json.loads(f.read_text())
        out[m["notebook"]] = {
            (i, v["claim"]): v["holds"] for i, it in m.get("items", {}).items() for v in it["verdicts"]
        }
    return out


def main(old: str, new: str) -> None:
    a, b = verdicts(Path(old)), verdicts(Path(new))
    for page in sorted(set(a) & set(b)):
        print(f"## {page}")
        for key in sorted(set(a[page]) | set(b[page])):
            if key not in a[page]:
                print(f"  {key[0]} {key[1]}: new claim, {OUTCOME[b[page][key]]}")
            elif key not in b[page]:
                print(f"  {key[0]} {key[1]}: gone (was {OUTCOME[a[page][key]]})")
            elif a[page][key] != b[page][key]:
                print(f"  {key[0]} {key[1]}: {OUTCOME[a[page][key]]} -> {OUTCOME[b[page][key]]}")
            else:
                print(f"  {key[0]} {key[1]}: {OUTCOME[a[page][key]]} (unchanged)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
