# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Build report
#
# What this build of the book cost: the wall time and peak memory of every job of the workflow, as
# Snakemake measured them (its `benchmark:` files, one per model and per page, read by
# {mod}`nngeom.book.buildreport`), at the profile named below, on the machine described below. A job
# that this build did not rerun (nothing it depends on changed) shows its last run's measurement and the
# time that run finished. A page's time includes everything it trained or computed itself (the
# retrainings of the natural-image pages, the solvers of the linear-regions pages); the models of the
# zoo are jobs of their own, trained once for every page that uses them. This page's own time is not
# included (it is the last job).

# %% tags=["parameters", "hide-input"]
profile = "default"
metrics_path = ""
benchmark_dir = ""  # the directory of this profile's benchmark files (set by the workflow)

# %% tags=["hide-input"]
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from nngeom.book.buildreport import machine_summary, read_benchmarks, totals
from nngeom.book.notebook import header
from nngeom.book.report import Metrics

if not benchmark_dir:
    raise ValueError("parameter 'benchmark_dir' must name the directory of this profile's benchmark files")
if not Path(benchmark_dir).is_dir():
    raise ValueError(f"parameter 'benchmark_dir' is not a directory: {benchmark_dir!r}")
display(header(profile, data="the workflow's benchmark files at this profile", device="none"))
rows = read_benchmarks(Path(benchmark_dir))
machine = machine_summary()
total = totals(rows)

# %% [markdown]
# ## The machine and the total

# %% tags=["hide-input"]
memory = "" if machine["memory_gib"] is None else f", {machine['memory_gib']:.0f} GiB of memory"
display(Markdown(
    f"- **machine**: {machine['cpu']}, {machine['cores']} cores{memory}; {machine['device']}; torch {machine['torch']}\n"
    f"- **jobs**: {total['jobs']} ({sum(r['kind'] == 'model' for r in rows)} models, "
    f"{sum(r['kind'] == 'page' for r in rows)} pages)\n"
    f"- **wall time, summed over the jobs**: {total['all_s'] / 60:.1f} min (models {total['models_s'] / 60:.1f}, "
    f"pages {total['pages_s'] / 60:.1f}); jobs that ran side by side (`--cores` above one, or a cluster) "
    f"overlap, so the build's own wall time can be shorter\n"
    + (f"- **largest peak memory of a job**: {total['max_rss_mb']:,.0f} MB" if total["max_rss_mb"] else "")
))

# %% [markdown]
# ## Every job
#
# Sorted by wall time, the longest first; `finished` is when the measured run ended (UTC).

# %% tags=["hide-input"]
table = pd.DataFrame(rows)
if len(table):
    table = table.assign(**{"wall time (min)": table.wall_s / 60, "CPU time (min)": table.cpu_s / 60,
                            "peak memory (MB)": table.max_rss_mb})  # fmt: skip
    table = table.sort_values("wall_s", ascending=False)[
        ["name", "kind", "wall time (min)", "CPU time (min)", "peak memory (MB)", "finished"]]
    display(table.style.format({"wall time (min)": "{:.1f}", "CPU time (min)": "{:.1f}", "peak memory (MB)": "{:,.0f}"},
                               na_rep="n/a").hide(axis="index")
            .set_caption(f"Every job of the {profile} build, as Snakemake measured it"))
else:
    display(Markdown("No benchmark files yet: this page was run outside the workflow."))

metrics = Metrics("book/build_report", profile, metrics_path or None)
metrics.value("jobs", total["jobs"])
metrics.value("models_measured", sum(r["kind"] == "model" for r in rows))
metrics.value("pages_measured", sum(r["kind"] == "page" for r in rows))
metrics.value("total_wall_minutes", total["all_s"] / 60)
metrics.save();
