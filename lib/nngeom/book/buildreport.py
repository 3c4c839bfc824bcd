"""What a build cost: the wall time and peak memory of every job, from Snakemake's ``benchmark:`` files.

The workflow gives every model and notebook job a benchmark file (``_build/benchmarks/<profile>/models/
<name>.tsv`` and ``.../notebooks/<page key>.tsv``): one row of Snakemake's measurements (wall seconds,
peak resident memory, CPU seconds) for the job's last run. This module reads them back for the "Build
report" appendix page and for the README's timing table:

    python -m nngeom.book.buildreport --profile default     # the table as Markdown, for the README
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

from nngeom.core.profiles import REPO_ROOT

__all__ = ["benchmark_dir", "read_benchmarks", "machine_summary", "totals", "markdown_table"]


def benchmark_dir(profile: str, root: Path = REPO_ROOT) -> Path:
    """Where the workflow's benchmark files of ``profile`` live (the Snakefile's ``BENCH``)."""
    return Path(root) / "_build" / "benchmarks" / profile


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None  # Snakemake writes "NA" where it could not measure


def _mean(measured: list[dict[str, str]], column: str) -> float | None:
    values = [v for v in (_number(r.get(column, "")) for r in measured) if v is not None]
    return sum(values) / len(values) if values else None


def read_benchmarks(directory: Path) -> list[dict[str, Any]]:
    """One row per job: ``kind`` ("model" or "page"), ``name``, ``wall_s``, ``max_rss_mb``, ``cpu_s``,
    ``finished`` (the file's time, UTC). Several rows in one file (``benchmark: repeat(...)``) count as
    the mean. Models first, then pages, each by name."""
    rows = []
    for kind, sub in (("model", "models"), ("page", "notebooks")):
        for path in sorted((Path(directory) / sub).rglob("*.tsv")):
            with open(path, newline="") as fh:
                measured = list(csv.DictReader(fh, delimiter="\t"))
            if not measured:
                continue

            finished = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            rows.append({"kind": kind, "name": str(path.relative_to(Path(directory) / sub).with_suffix("")),
                         "wall_s": _mean(measured, "s"), "max_rss_mb": _mean(measured, "max_rss"),
                         "cpu_s": _mean(measured, "cpu_time"),
                         "finished": finished.strftime("%Y-%m-%d %H:%M")})  # fmt: skip
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Summed wall time of the models, of the pages and of both (seconds), and the largest peak memory."""

    def total(kind: str | None) -> float:
        return sum(r["wall_s"] or 0.0 for r in rows if kind is None or r["kind"] == kind)

    peaks = [r["max_rss_mb"] for r in rows if r["max_rss_mb"] is not None]
    return {"models_s": total("model"), "pages_s": total("page"), "all_s": total(None),
            "max_rss_mb": max(peaks) if peaks else None, "jobs": len(rows)}  # fmt: skip


def machine_summary() -> dict[str, Any]:
    """The machine this process runs on: CPU model, cores, memory, accelerator, torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only (no CUDA device)"
        torch_version = torch.__version__
    except ImportError:
        device, torch_version = "unknown (torch not importable)", None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory_gib": memory_gib, "device": device, "torch": torch_version}


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f}"


def markdown_table(rows: list[dict[str, Any]], machine: dict[str, Any] | None = None) -> str:
    """The rows as a Markdown table (minutes, MB), with the totals and the machine below it."""
    lines = ["| job | kind | wall time (min) | peak memory (MB) | finished (UTC) |", "|---|---|---|---|---|"]
    for r in rows:
        rss = "n/a" if r["max_rss_mb"] is None else f"{r['max_rss_mb']:,.0f}"
        lines.append(f"| {r['name']} | {r['kind']} | {_minutes(r['wall_s'])} | {rss} | {r['finished']} |")
    t = totals(rows)
    lines.append(f"| **total** ({t['jobs']} jobs) | | **{_minutes(t['all_s'])}** "
                 f"(models {_minutes(t['models_s'])}, pages {_minutes(t['pages_s'])}) | | |")  # fmt: skip
    if machine:
        mem = "" if machine["memory_gib"] is None else f", {machine['memory_gib']:.0f} GiB"
        lines.append("")
        lines.append(f"Machine: {machine['cpu']}, {machine['cores']} cores{mem}; {machine['device']}; "
                     f"torch {machine['torch']}.")  # fmt: skip
    return "\n".join(lines)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nngeom.book.buildreport", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default", help="the profile whose build to report (default: default)")
    args = parser.parse_args(argv)
    directory = benchmark_dir(args.profile)
    rows = read_benchmarks(directory)
    if not rows:
        print(f"error: no benchmark files under {directory}: build the book at profile {args.profile!r} first",
              file=sys.stderr)  # fmt: skip
        return 1
    print(markdown_table(rows, machine_summary()))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
