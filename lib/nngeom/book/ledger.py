"""The results ledger: each page's metrics at a long profile, committed, stamped with what made them.

A default (or paper) build takes hours, ``_build/`` is not in git, and a number quoted in the README must
be one the code computed. So after a page is built at such a profile its ``metrics.json`` is recorded in
``results/<profile>/<page key>.json`` (small JSON: values, items, verdicts; no outputs) together with a
stamp: a hash of the page's inputs (its source, every library file it imports, its profile entry, the
recipes of the zoo models it uses) and the commit it was built from. Later, the ledger says for each page
whether it is *current* (its inputs hash the same today) or *stale* (something it depends on changed since),
and the scoreboard can be built from it without rerunning anything:

    python -m nngeom.book.ledger record --profile default [PAGE ...]   # from _build/metrics/default
    python -m nngeom.book.ledger status --profile default              # current / stale / missing per page
    python -m nngeom.book.ledger headline --profile default            # the README's headline counts
    python -m nngeom.book.ledger timing --profile default              # the build, assembled from the records

A record also keeps what its build cost, when the workflow measured it (Snakemake's benchmark files): the
page's wall time, CPU time and peak memory, the same for each zoo model it trained in that build, and the
machine. A default build takes longer than one working session, so it is built and recorded a paper at a
time; ``timing`` adds the recorded parts up into the cost of a whole build (each model once).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from nngeom.book.workflow import library_inputs
from nngeom.core.io import atomic_write_json
from nngeom.core.profiles import REPO_ROOT

__all__ = ["input_hash", "ledger_dir", "record", "freshness", "load_ledger", "build_timing", "LEDGER_KEY"]

LEDGER_KEY = "ledger"  # the stamp's key inside a recorded metrics file
LEDGER_PROFILES = ("default", "paper")  # the profiles worth keeping; smoke is rebuilt by every test run
SUMMARY_PAGES = ("book/scoreboard", "book/build_report")  # pages that summarise others, not results


def ledger_dir(profile: str, root: Path = REPO_ROOT) -> Path:
    return Path(root) / "results" / profile


def _profile(profile: str, root: Path) -> dict[str, Any]:
    path = Path(root) / "profiles" / f"{profile}.yaml"
    if not path.is_file():
        raise ValueError(f"no profile {profile!r} in {Path(root) / 'profiles'}")
    return yaml.safe_load(path.read_text()) or {}


def _page_entry(profile: str, key: str, root: Path) -> dict[str, Any]:
    notebooks = _profile(profile, root).get("notebooks", {}) or {}
    if key not in notebooks:
        raise ValueError(f"page {key!r} is not in profile {profile!r}; it has: {', '.join(sorted(notebooks))}")
    return notebooks[key] or {}


def input_hash(profile: str, key: str, root: Path = REPO_ROOT) -> str:
    """SHA-256 (first 16 hex digits) of everything in the checkout ``root`` that determines page ``key``'s
    metrics at ``profile``: the page's source, each library file it imports (transitively, as the
    workflow's rule sees them), its profile entry, and for the zoo models it names, their entries in the
    profile's ``zoo`` section and the library files that train them (the model rule's inputs). Only files
    are read, so the hash of an older checkout is computed the same way."""
    root = Path(root)
    source = root / f"{key}.py"
    if not source.is_file():
        raise ValueError(f"page {key!r} has no source {source}")
    entry = _page_entry(profile, key, root)
    lib = root / "lib"
    files = set(library_inputs(source, lib))
    models = sorted(entry.get("models", []) or [])
    if models:
        # (the zoo moved into nngeom.core with the library's layers; older checkouts have it at the top)
        zoo = next(p for p in (lib / "nngeom/core/zoo.py", lib / "nngeom/zoo.py") if p.is_file())
        files |= {zoo, *library_inputs(zoo, lib)}
    h = hashlib.sha256()
    h.update(b"source\0" + source.read_bytes())
    for path in sorted(files):
        h.update(b"\0lib\0" + str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    h.update(b"\0profile\0" + yaml.safe_dump(entry, sort_keys=True).encode())
    if models:
        zoo_cfg = _profile(profile, root).get("zoo", {}) or {}
        per_model = {m: (zoo_cfg.get("models", {}) or {}).get(m.split("@")[0]) for m in models}
        h.update(b"\0models\0" + yaml.safe_dump({"overrides": zoo_cfg.get("overrides"), "models": per_model},
                                                  sort_keys=True).encode())  # fmt: skip
    return h.hexdigest()[:16]


def _commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True, timeout=30)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=30).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _build_cost(profile: str, key: str, built_in: Path) -> dict[str, Any] | None:
    """What building page ``key`` cost in the checkout ``built_in``, from the workflow's benchmark files: the
    page's job and the jobs of the zoo models it names that have one (a model trained in an earlier build
    has a file from then, kept with its time), and this machine. ``None`` without the page's file."""
    from nngeom.book.buildreport import benchmark_dir, machine_summary, read_benchmarks

    jobs = {(r["kind"], r["name"]): r for r in read_benchmarks(benchmark_dir(profile, built_in))}
    page = jobs.get(("page", key))
    if page is None:
        return None
    fields = ("wall_s", "cpu_s", "max_rss_mb", "finished")
    models = _page_entry(profile, key, built_in).get("models", []) or []
    return {
        "page": {f: page[f] for f in fields},
        "models": {m: {f: jobs["model", m][f] for f in fields} for m in models if ("model", m) in jobs},
        "machine": machine_summary(),
    }


def record(profile: str, keys: list[str] | None = None, root: Path = REPO_ROOT,
           metrics_dir: Path | None = None, built_in: Path | None = None) -> list[Path]:  # fmt: skip
    """Copy the built metrics of ``keys`` (default: every page of the profile that has them) into the
    ledger of ``root``, each stamped with its input hash, the commit and the date. A failed page is not
    recorded. ``built_in``: another checkout that built them (a clone kept running while work went on);
    the metrics, the hash and the commit are then that checkout's, so a record is stale here at once if
    its inputs have changed since."""
    built_in = Path(built_in) if built_in is not None else Path(root)
    if profile not in LEDGER_PROFILES:
        raise ValueError(
            f"profile must be one of {LEDGER_PROFILES} (smoke is rebuilt by every test run); got {profile!r}"
        )
    root = Path(root)
    metrics_dir = Path(metrics_dir) if metrics_dir is not None else built_in / "_build" / "metrics" / profile
    pages = _profile(profile, built_in).get("notebooks", {}) or {}
    wanted = keys or [k for k in pages if k not in SUMMARY_PAGES and (metrics_dir / f"{k}.json").is_file()]
    written = []
    commit = _commit(built_in)
    for key in wanted:
        source = metrics_dir / f"{key}.json"
        if not source.is_file():
            raise FileNotFoundError(f"no metrics for {key} at profile {profile}: build it first ({source})")
        metrics = json.loads(source.read_text())
        if metrics.get("failed"):
            raise ValueError(f"{key} failed in its last {profile} build; there is nothing to record")
        if metrics.get("profile") != profile:
            raise ValueError(f"{source} is from profile {metrics.get('profile')!r}, not {profile!r}")
        metrics[LEDGER_KEY] = {"inputs": input_hash(profile, key, built_in), "commit": commit,
                               "recorded": dt.date.today().isoformat()}  # fmt: skip
        cost = _build_cost(profile, key, built_in)
        if cost is not None:
            metrics[LEDGER_KEY]["build"] = cost
        written.append(atomic_write_json(ledger_dir(profile, root) / f"{key}.json", metrics))
    return written


def load_ledger(profile: str, root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """The recorded metrics of ``profile``, by page key."""
    out = {}
    base = ledger_dir(profile, root)
    for path in sorted(base.rglob("*.json")):
        out[str(path.relative_to(base).with_suffix(""))] = json.loads(path.read_text())
    return out


def freshness(profile: str, root: Path = REPO_ROOT) -> dict[str, str]:
    """For every page of ``profile``: "current" (recorded, and its inputs hash the same today), "stale"
    (recorded, but something it depends on changed since) or "missing" (not recorded)."""
    recorded = load_ledger(profile, root)
    pages = [k for k in (_profile(profile, root).get("notebooks", {}) or {}) if k not in SUMMARY_PAGES]
    out = {}
    for key in pages:
        if key not in recorded:
            out[key] = "missing"
        else:
            same = recorded[key].get(LEDGER_KEY, {}).get("inputs") == input_hash(profile, key, root)
            out[key] = "current" if same else "stale"
    return out


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nngeom.book.ledger", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("record", "status", "headline", "timing"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default="default", choices=LEDGER_PROFILES)
        if name == "record":
            p.add_argument("pages", nargs="*", help="page keys (default: every page built at the profile)")
            p.add_argument(
                "--built-in",
                type=Path,
                default=None,
                help="the checkout that built them, if not this one (its metrics, hash and commit)",
            )
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            for path in record(args.profile, args.pages or None, built_in=args.built_in):
                print(path.relative_to(REPO_ROOT))
        elif args.command == "status":
            for key, state in freshness(args.profile).items():
                stamp = load_ledger(args.profile).get(key, {}).get(LEDGER_KEY, {})
                print(f"{state:8s} {key}" + (f"  (recorded {stamp['recorded']} at {stamp['commit']})" if stamp else ""))
        elif args.command == "timing":
            print(_timing_markdown(args.profile))
        else:
            print(headline(args.profile))
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_timing(profile: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    """A whole build of ``profile`` assembled from the ledger's records: per page its recorded wall time (or
    ``None`` where the record has no build cost), each zoo model once (its latest recorded training), and
    the sums. ``pages``: key -> {"wall_s", "cpu_s", "state", "commit"}; ``models``: name -> wall seconds;
    ``unmeasured``: the pages of the profile with no measured record."""
    recorded = load_ledger(profile, root)
    states = freshness(profile, root)
    pages: dict[str, dict[str, Any]] = {}
    models: dict[str, tuple[str, float]] = {}
    for key, state in states.items():
        stamp = recorded.get(key, {}).get(LEDGER_KEY, {})
        build = stamp.get("build") or {}
        page = build.get("page") or {}
        pages[key] = {"wall_s": page.get("wall_s"), "cpu_s": page.get("cpu_s"), "state": state,
                      "commit": stamp.get("commit")}  # fmt: skip
        for name, cost in (build.get("models") or {}).items():
            if cost.get("wall_s") is not None and (name not in models or cost["finished"] > models[name][0]):
                models[name] = (cost["finished"], cost["wall_s"])
    pages_s = sum(p["wall_s"] or 0.0 for p in pages.values())
    models_s = sum(w for _, w in models.values())
    return {"pages": pages, "models": {k: w for k, (_, w) in sorted(models.items())}, "pages_s": pages_s,
            "models_s": models_s, "total_s": pages_s + models_s,
            "unmeasured": [k for k, p in pages.items() if p["wall_s"] is None]}  # fmt: skip


def _timing_markdown(profile: str) -> str:
    t = build_timing(profile)
    lines = ["| page | wall time (min) | CPU time (min) | record |", "|---|---|---|---|"]
    for key, p in t["pages"].items():
        wall = "not measured" if p["wall_s"] is None else f"{p['wall_s'] / 60:.1f}"
        cpu = "" if p["cpu_s"] is None else f"{p['cpu_s'] / 60:.1f}"
        lines.append(f"| {key} | {wall} | {cpu} | {p['state']}" + (f" ({p['commit']})" if p["commit"] else "") + " |")
    lines.append(f"| zoo models ({len(t['models'])} recorded, each once) | {t['models_s'] / 60:.1f} | | |")
    lines.append(f"| **total of the measured parts** | **{t['total_s'] / 60:.1f}** | | |")
    if t["unmeasured"]:
        lines.append(f"\n{len(t['unmeasured'])} of {len(t['pages'])} pages have no measured record, so the total "
                     "is a lower bound.")  # fmt: skip
    return "\n".join(lines)


def headline(profile: str, root: Path = REPO_ROOT) -> str:
    """The README's headline results, from the ledger: items by status and claims by verdict, with how
    many pages are recorded and current."""
    from nngeom.book.report import claim_counts, scoreboard_rows

    recorded = load_ledger(profile, root)
    rows = scoreboard_rows(recorded.values(), profile)
    counts = claim_counts(rows)
    states = freshness(profile, root)
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    n_current = sum(s == "current" for s in states.values())
    return (
        f"From the ledger (results/{profile}/): {len(recorded)} of {len(states)} pages recorded, {n_current} current. "
        + ", ".join(f"{v} {k}" for k, v in sorted(by_status.items()))
        + f". On the papers' own data sets {counts['claims_holding']} claims hold, {counts['claims_failing']} do not, "
        f"{counts['claims_undecided']} are undecided; {counts['stand_in_claims']} more were tested on stand-in data."
    )


if __name__ == "__main__":
    sys.exit(_main())
