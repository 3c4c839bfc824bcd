"""Pin the smoke profile's verdicts from several runs under different CPU configurations.

    python tests/expected/pin_smoke.py RUN_DIR [RUN_DIR ...] [--observed FILE ...] [--write]

Each RUN_DIR is a ``_build/metrics/smoke`` directory from one smoke build (e.g. one with the default CPU
kernels and two threads, one with ``ATEN_CPU_CAPABILITY=avx2``, ``MKL_ENABLE_INSTRUCTIONS=AVX2``,
``ONEDNN_MAX_CPU_ISA=AVX2`` and one thread, each with its own empty model cache so the models are trained
again). ``--observed`` adds metrics other machines reported (the format of
``../shared/observed/smoke-*.json``) for values only, since their verdict code may be older.

A claim whose outcome is the same in every run is pinned (``verdicts``); one whose outcome differs is listed
under ``unpinned`` with the outcomes seen, so that ``tests/test_book.py`` knows it and does not pin it. For
each expected value the script prints the spread across the runs beside its tolerance, so a tolerance can
be set from measured variation; it never changes a value's tolerance itself. Without ``--write`` it only
prints what it would change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXPECTED = Path(__file__).with_name("smoke.json")


def load_run(directory: Path) -> dict[str, dict]:
    out = {}
    for p in sorted(directory.rglob("*.json")):
        m = json.loads(p.read_text())
        out[m["notebook"]] = m
    return out


def outcomes(m: dict) -> dict[str, object]:
    return {f"{item}/{v['claim']}": v["holds"] for item, info in m.get("items", {}).items() for v in info["verdicts"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--observed", nargs="*", type=Path, default=[])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    runs = [load_run(d) for d in args.runs]
    observed = [json.loads(p.read_text())["pages"] for p in args.observed]
    expected = json.loads(EXPECTED.read_text())
    pages = expected["pages"]
    word = {True: "holds", False: "does not hold", None: "undecided"}
    for page in sorted(set().union(*runs)):
        spec = pages.setdefault(page, {"values": {}})
        per_run = [outcomes(r[page]) for r in runs if page in r]
        if len(per_run) != len(runs):
            print(f"{page}: missing from some runs; verdicts left as they are", file=sys.stderr)
            continue
        keys = sorted(set().union(*per_run))
        verdicts: dict[str, dict] = {}
        # unpinned by hand (a claim near its threshold even where the runs agree) stays unpinned
        unpinned: dict[str, str] = {
            k: v for k, v in spec.get("unpinned", {}).items() if not v.startswith("outcome differs")
        }
        for key in keys:
            if key in unpinned:
                continue
            seen = [o.get(key, "absent") for o in per_run]
            if all(s == seen[0] for s in seen) and seen[0] != "absent":
                item, claim = key.split("/", 1)
                verdicts.setdefault(item, {})[claim] = seen[0]
            else:
                unpinned[key] = "outcome differs across CPU configurations: " + ", ".join(
                    word.get(s, str(s)) for s in seen
                )
        statuses = [{k: v["status"] for k, v in r[page].get("items", {}).items()} for r in runs]
        if all(st == statuses[0] for st in statuses):
            spec["items"] = statuses[0]
        else:
            print(f"{page}: item statuses differ across runs: {statuses}", file=sys.stderr)
        spec["verdicts"] = verdicts
        if unpinned:
            spec["unpinned"] = unpinned
        else:
            spec.pop("unpinned", None)
        for key, why in unpinned.items():
            print(f"UNPINNED {page} {key}: {why}")
        for name, vspec in spec.get("values", {}).items():
            got = [r[page]["values"].get(name) for r in runs] + [
                o.get(page, {}).get("values", {}).get(name) for o in observed
            ]
            got = [g for g in got if g is not None]
            if "equals" in vspec:
                bad = [g for g in got if g != vspec["equals"]]
                if bad:
                    print(f"VALUE {page} {name}: expected {vspec['equals']!r}, runs gave {got}")
            else:
                nums = [float(g) for g in got if isinstance(g, (int, float))]
                if nums:
                    spread = max(nums) - min(nums)
                    worst = max(abs(g - vspec["value"]) for g in nums)
                    flag = "OUTSIDE" if worst > vspec["abs"] else "ok"
                    print(
                        f"value {page} {name}: spread {spread:.3g}, worst |dev| {worst:.3g}, tolerance "
                        f"{vspec['abs']:g} [{flag}]"
                    )
    if args.write:
        EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")
        print(f"wrote {EXPECTED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
