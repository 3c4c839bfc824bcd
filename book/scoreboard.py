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
# # Scoreboard
#
# Every table, figure and stated result of the five papers, with what this build made of it. The
# list comes from the inventory (`nngeom/book/reference/inventory.yaml`); each item's status is *derived*
# (by `nngeom.book.report.item_status`) from what its page recorded at this profile: the data set it ran on,
# its scale beside the paper's (test points, samples, runs, epochs), and its documented gaps. Nothing on
# this page is typed by hand.
#
# - **reproduced**: the paper's data and model, at the paper's scale or larger.
# - **partial**: the paper's data, but a smaller scale than the paper's or a documented gap (a substitute
#   model, a missing part); the scale column shows ours/paper.
# - **stand-in**: the analysis run on a labelled substitute data set (e.g. Fashion-MNIST where the paper
#   used CIFAR-10); its verdicts say "(stand-in)" and are counted apart from the others.
# - **needs data**: the code path exists but the data or weights it needs are absent on this machine.
# - **failed**: the page that makes the item stopped with an error in this build (its partial notebook is
#   kept under `_build/failed/<profile>/`).
# - **not started**: no page yet.
#
# Built from the results ledger instead (`metrics_dir` set to `results/<profile>/`), a *ledger* column says
# whether each page's record is *current* (its inputs are unchanged since it was recorded) or *stale*.
#
# A verdict says whether a claim of the paper holds in our numbers: *holds*, *does not hold*, or
# *undecided* where the sample cannot tell; each page states the test and criterion beside the claim.

# %% tags=["parameters", "hide-input"]
profile = "default"
metrics_path = ""
metrics_dir = ""  # the directory of this profile's metrics.json files (set by the workflow)

# %% tags=["hide-input"]
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from nngeom.book.ledger import LEDGER_KEY, freshness
from nngeom.book.notebook import header
from nngeom.book.report import STATUSES, Metrics, claim_counts, load_metrics, scoreboard_rows, status_summary

if not metrics_dir:
    raise ValueError("parameter 'metrics_dir' must name the directory of this profile's metrics files")
if not Path(metrics_dir).is_dir():
    raise ValueError(f"parameter 'metrics_dir' is not a directory: {metrics_dir!r}")
display(header(profile, data="the metrics of every page at this profile", device="none"))
loaded = load_metrics(metrics_dir)
rows = scoreboard_rows(loaded, profile)
board = pd.DataFrame(rows)
# Built from the results ledger (results/<profile>/): each page's record is current or stale.
stamped = {m["notebook"] for m in loaded if LEDGER_KEY in m}
if stamped:
    state = freshness(profile)
    board["ledger"] = [state.get(page, "") if page in stamped else "" for page in board.page]

# %% [markdown]
# ## Summary

# %% tags=["hide-input"]
display(status_summary(rows))
counts = claim_counts(rows)
failed = board[board.status == "failed"]
display(Markdown(
    f"{len(board)} inventory items; {int((board.status != 'not started').sum())} on a page. On the papers' own "
    f"data sets, {counts['claims_holding']} claims hold here, {counts['claims_failing']} do not, and "
    f"{counts['claims_undecided']} are undecided; {counts['stand_in_claims']} more were tested on stand-in data."
    + (f" **{failed.page.nunique()} page(s) failed in this build:** {', '.join(sorted(failed.page.unique()))}."
       if len(failed) else "")
    + (f" Read from the results ledger: of its {len(stamped)} recorded pages, "
       f"{sum(state.get(k) == 'current' for k in stamped)} are current and {sum(state.get(k) == 'stale' for k in stamped)} "
       "stale (their inputs changed since they were recorded)." if stamped else "")
))

metrics = Metrics("book/scoreboard", profile, metrics_path or None)
metrics.value("items_total", len(board))
for s in STATUSES:
    metrics.value(f"items_{s.replace(' ', '_').replace('-', '_')}", int((board.status == s).sum()))
for name, count in counts.items():
    metrics.value(name, count)
metrics.save();

# %% [markdown]
# ## Every item

# %% tags=["hide-input"]
for paper, grp in board.groupby("paper", sort=False):
    display(Markdown(f"### {paper}"))
    display(grp.drop(columns=["paper", "holds", "fails", "undecided"]).style.hide(axis="index"))
