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
# # Where the training points lie shapes what is learned: a step in one dimension
#
# Fan and Yezzi {cite}`fan2018natural` start from a variational reading of training: the mean squared
# error over a training set is a discretisation of the functional $L(f) = \int_0^1 (f(x) - y(x))^2\,dx$,
# and a discretisation only sees the points it is given. Its minimiser is therefore pinned down where the
# training points lie and left free elsewhere, however good the optimiser. Their Figure 1 (NIS-F1) shows
# this for the step $f(x) = \mathrm{sign}(x - 0.5)$ on $[0, 1]$, learned twice: once from
# {glue:text}`paper_n_center:,.0f` points in $[0.4, 0.6]$, next to the step, and once from
# {glue:text}`paper_n_left:,.0f` points in $[0, 0.1)$ and as many in $(0.9, 1)$, far from it.
#
# The paper gives the intervals and counts only. Here the points are drawn uniformly in each interval,
# the network is a small ReLU network fitted by Adam on the mean squared error, and each set is fitted
# {glue:text}`runs` times with different seeds, so that what the data do can be told apart from what a
# seed does. All of these are parameters.

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # run r draws its points and initial weights from seed + r
device = "auto"              # "auto", "cpu" or "cuda" (the fits are tiny and run on the CPU)
sample_scale = 1.0           # multiplies the paper's counts (1: 40,000 points per set)
runs = 5                     # fits per training set, each with its own seed
hidden = [64, 64]            # widths of the ReLU network's hidden layers
epochs = 20                  # passes over the training set
batch_size = 256             # mini-batch size
lr = 1e-3                    # Adam's step size
grid_points = 1001           # evenly spaced points of [0, 1] where the curves are compared
visible_gap = 0.1            # a mean |difference| of the curves at least this large counts as visibly different
alpha = 0.05                 # level of the rank tests

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from nngeom.book.notebook import start_page
from nngeom.book.report import paper_value, verdict_markdown
from nngeom.core import stats
from nngeom.core.validation import check_in_open_interval, check_positive, check_positive_int
from nngeom.natural_image_spaces.toy import (
    CENTER_SET,
    ENDS_SET,
    STEP_AT,
    curve_gap,
    fit_step_curve,
    learned_curve,
    step_samples,
)

for _name in ("runs", "epochs", "batch_size", "grid_points"):
    check_positive_int(_name, globals()[_name])
for _name in ("sample_scale", "lr", "visible_gap"):
    check_positive(_name, globals()[_name])
if runs < 2:
    raise ValueError(f"parameter 'runs' must be at least 2 (seeds are compared with each other), got {runs}")
check_in_open_interval("alpha", alpha, 0.0, 0.5)
dev, metrics = start_page("notebooks/natural_image_spaces/01_step_function", profile, metrics_path, seed=seed,
                          device=device, data="the paper's 1-D toy: sign(x - 0.5) on [0, 1] (generated)")
for _name in ("n_center", "n_left", "n_right"):
    metrics.value(f"paper_{_name}", paper_value("NIS-F1", _name))
for _name in ("runs", "epochs", "lr", "visible_gap", "alpha"):
    metrics.value(_name, globals()[_name])
metrics.value("hidden_text", " → ".join(str(h) for h in hidden))
SETS = {"centre [0.4, 0.6]": CENTER_SET, "ends [0, 0.1) and (0.9, 1)": ENDS_SET}
grid = torch.linspace(0, 1, grid_points)
target = torch.sign(grid - STEP_AT)

# %% [markdown]
# ## Fitting the step from each set
#
# Each run draws its own points and initial weights; the network is
# 1 → {glue:text}`hidden_text` → 1 with ReLUs, trained for {glue:text}`epochs` epochs.

# %%
curves, n_points = {}, {}
for name, intervals in SETS.items():
    fits = []
    for r in range(runs):
        x, y = step_samples(intervals, seed=seed + r, scale=sample_scale)
        net = fit_step_curve(x, y, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed + r)
        fits.append(learned_curve(net, grid))
    curves[name], n_points[name] = torch.stack(fits), len(x)
metrics.value("points_per_set", n_points[next(iter(SETS))]);

# %% [markdown]
# ## The learned curves (NIS-F1)
#
# Shaded: where each set's training points lie. Every run is drawn; the dashed line is the target.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 4))
for (name, intervals), colour in zip(SETS.items(), ["tab:blue", "tab:orange"]):
    for low, high, _ in intervals:
        ax.axvspan(low, high, color=colour, alpha=0.12, lw=0)
    for r, c in enumerate(curves[name]):
        ax.plot(grid, c, color=colour, lw=1.2, alpha=0.8, label=f"trained on the {name}" if r == 0 else None)
ax.plot(grid, target, "k--", lw=1, label="target sign(x - 0.5)")
ax.set(xlabel="x", ylabel="network output", xlim=(0, 1),
       title=f"NIS-F1: sign(x - 0.5) learned from two training sets ({runs} runs each, "
             f"{n_points[next(iter(SETS))]:,} points per set)")
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# Where each set has points, both networks follow the target. Away from its points each does what its
# architecture does with nothing to fit: the network trained next to the step continues the step's
# flanks linearly past $\pm 1$, and the network trained at the ends joins its two plateaus by a ramp
# across the empty middle. The table measures both, per set over the runs: the error on the set's own
# intervals and off them, the largest output, and where the curve crosses zero.

# %%
inside = {name: torch.zeros(grid_points, dtype=torch.bool) for name in SETS}
for name, intervals in SETS.items():
    for low, high, _ in intervals:
        inside[name] |= (grid >= low) & (grid <= high)
rows = []
for name in SETS:
    err = (curves[name] - target).abs()
    crossing = [float(grid[int(torch.nonzero(c >= 0)[0])]) for c in curves[name]]  # first x with output >= 0
    rows.append({"training set": name, "mean |h - f| on its intervals": float(err[:, inside[name]].mean()),
                 "mean |h - f| elsewhere": float(err[:, ~inside[name]].mean()),
                 "largest |h|": float(curves[name].abs().max()),
                 "zero crossing (mean)": float(np.mean(crossing)), "zero crossing (sd)": float(np.std(crossing))})
table = pd.DataFrame(rows).set_index("training set")
for key, short in zip(SETS, ["centre", "ends"]):
    metrics.value(f"{short}_error_inside", table.loc[key, "mean |h - f| on its intervals"])
    metrics.value(f"{short}_error_outside", table.loc[key, "mean |h - f| elsewhere"])
    metrics.value(f"{short}_largest_output", table.loc[key, "largest |h|"])
display(table.style.format("{:.3f}").set_caption(f"Per training set, over {runs} runs ({grid_points} grid points)"))

# %% [markdown]
# ## Is the difference the data's or the seed's?
#
# The paper's claim is that the two sets give different curves. Two fits of the same set also differ
# (a seed moves the extrapolation), so the comparison is between curve gaps — the mean absolute
# difference of two curves over $[0, 1]$ — of two kinds: run $r$ of one set against run $r$ of the other
# ({glue:text}`runs` gaps *between* the sets) and every pair of runs of the same set (the gaps *within*).
#
# | claim | paper | test |
# |---|---|---|
# | curve depends on data (NIS-F1) | the two sets lead to visibly different curves | one-sided Mann-Whitney tests both ways at level {glue:text}`alpha`, between-set gaps against within-set gaps: holds if the between-set gaps are significantly larger and their 95 % interval lies above {glue:text}`visible_gap` (visibly different on a step of height 2); does not hold if they are significantly smaller or their interval lies at or below it |
#
# The threshold {glue:text}`visible_gap` is ours; the paper shows the curves and names no number.

# %%
names = list(SETS)
between = [curve_gap(a, b) for a, b in zip(curves[names[0]], curves[names[1]])]
within = [curve_gap(c[i], c[j]) for c in curves.values() for i in range(runs) for j in range(i + 1, runs)]
gap = stats.mean_interval(between)
decision = stats.all_of([stats.compare_samples(between, within, claim="greater", alpha=alpha),
                         stats.interval_above(gap["mean"], gap["low"], gap["high"], visible_gap,
                                              "normal 95 % interval of the mean between-set gap")],
                        name="conditions (larger than seed-to-seed, visibly large)")
metrics.value("gap_between", gap["mean"])
metrics.value("gap_within", float(np.mean(within)))
metrics.claim("NIS-F1", "curve_depends_on_data", holds=decision,
              evidence=f"mean gap between the sets {gap['mean']:.3f} (95 % interval {gap['low']:.3f} to {gap['high']:.3f}, "
                       f"{runs} pairs), within a set {np.mean(within):.3f} (median {np.median(within):.3f}, "
                       f"{len(within)} pairs)")
metrics.item("NIS-F1", "toy", scale={"points per set": n_points[names[0]]},
             note=f"1 → {metrics.values['hidden_text']} → 1 ReLU net, MSE, Adam, {epochs} epochs, {runs} runs per set")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# ```{admonition} What we did differently
# - **The network and its training are ours.** The paper names no architecture, loss or optimiser for
#   this figure; we read its discretised functional as the mean squared error and keep the rest as
#   parameters. A different activation would change *how* each network fills the gaps (a tanh network
#   saturates instead of continuing linearly), not that the gaps are filled by the architecture rather
#   than by the data.
# - **Several runs and a test.** The paper shows one curve per set; we fit {glue:text}`runs` per set and
#   compare the gap between the sets with the gaps between seeds.
# ```

# %%
metrics.save();
