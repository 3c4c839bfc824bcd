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
# list comes from the inventory (`nngeom/reference/inventory.yaml`); the status, the data set and the
# verdicts come from the `metrics.json` files that the notebooks wrote at this profile. Nothing on this
# page is typed by hand: an item no notebook has claimed yet is listed as *not started*.
#
# - **reproduced**: the figure or table is on a page, computed at the profile shown.
# - **partial**: on a page, but with a documented gap (smaller scale, a substitute model, a missing part).
# - **needs data**: the code path exists but the data or weights it needs are absent on this machine.
# - **not started**: no page yet.
#
# A verdict says whether a claim of the paper holds in our numbers; the evidence is the comparison
# the notebook computed.

# %% tags=["parameters"]
profile = "default"
metrics_path = ""
metrics_dir = ""          # the directory of this profile's metrics.json files (set by the workflow)

# %%
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from nngeom.notebook import header
from nngeom.report import STATUSES, Metrics, inventory, load_metrics

if not metrics_dir:
    raise ValueError("parameter 'metrics_dir' must name the directory of this profile's metrics files")
if not Path(metrics_dir).is_dir():
    raise ValueError(f"parameter 'metrics_dir' is not a directory: {metrics_dir!r}")
display(header(profile, data="the metrics of every page at this profile", device="none"))

this_page = "book/scoreboard"
claimed = {}
for m in load_metrics(metrics_dir):
    if m.get("notebook") == this_page:
        continue
    if m.get("profile") != profile:
        raise ValueError(f"metrics of {m.get('notebook')} are from profile {m.get('profile')!r}, not {profile!r}")
    for item_id, info in m.get("items", {}).items():
        if item_id in claimed:
            raise ValueError(f"{item_id} is claimed by two pages: {claimed[item_id]['page']} and {m['notebook']}")
        claimed[item_id] = dict(info, page=m["notebook"])

rows = []
for it in inventory():
    c = claimed.get(it["id"])
    verdicts = (c or {}).get("verdicts", [])
    rows.append({
        "id": it["id"],
        "paper": it["paper"],
        "item": it["item"],
        "status": c["status"] if c else "not started",
        "profile": profile if c else "",
        "data": c["data"] if c else it.get("data", ""),
        "verdict": "; ".join(f"{v['claim']}: {'holds' if v['holds'] else 'does NOT hold'}" for v in verdicts),
        "page": c["page"] if c else "",
    })
board = pd.DataFrame(rows)

# %% [markdown]
# ## Summary

# %%
summary = board.pivot_table(index="paper", columns="status", values="id", aggfunc="count", fill_value=0)
summary = summary.reindex(columns=[s for s in STATUSES if s in summary.columns])
summary["total"] = summary.sum(axis=1)
display(summary)
n_verdicts = sum(len(c.get("verdicts", [])) for c in claimed.values())
n_hold = sum(v["holds"] for c in claimed.values() for v in c.get("verdicts", []))
display(Markdown(f"{len(board)} inventory items; {int((board.status != 'not started').sum())} on a page; "
                 f"{n_verdicts} claims decided, {n_hold} of them hold here."))

metrics = Metrics(this_page, profile, metrics_path or None)
metrics.value("items_total", len(board))
for s in STATUSES:
    metrics.value(f"items_{s.replace(' ', '_')}", int((board.status == s).sum()))
metrics.value("claims_decided", n_verdicts)
metrics.value("claims_holding", int(n_hold))
metrics.save();

# %% [markdown]
# ## Every item

# %%
for paper, grp in board.groupby("paper", sort=False):
    display(Markdown(f"### {paper}"))
    display(grp.drop(columns=["paper"]).style.hide(axis="index"))
