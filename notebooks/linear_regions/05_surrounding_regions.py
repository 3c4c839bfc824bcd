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
# # The neighbours of a region: surrounding regions and their decision directions
#
# How many linear regions lie close to a test image, and do their gradients still point the same
# way? Zhang and Wu {cite}`zhang2020empirical` (section 3.5, Figure 6, LRG-F6) probe this along
# directions that leave every decision boundary of the test image's own region unchanged: unit vectors
# $e$ orthogonal to all ten logit gradients at $x^*$ (eq. 10). Along $x^* + \beta e$,
# $\beta \in [0, \epsilon]$ with $\epsilon = 0.2$, they count the distinct linear regions met over 100
# such directions, and for each of these regions compare its decision direction, the gradient of the
# difference between the two largest logits (eq. 13), with that of $x^*$'s region by their cosine
# similarity $\rho$. They report that BN and the smaller learning rate give more surrounding regions,
# that the regions' decision directions stay highly similar to the centre's, and that BN lowers that
# similarity a little.
#
# Here every segment is walked exactly, region by region ({func}`nngeom.regions.walk_lines`: on the
# current region each pre-activation is affine in $\beta$, so the next crossing is found in closed
# form), so no thin region between two samples is missed; regions are told apart by their activation
# patterns ({func}`nngeom.region_studies.surrounding_regions`). The segments are not clipped to the
# pixel box (the paper does not say that it clips them).

# %% tags=["parameters"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # draws the test points and the directions
device = "auto"              # "auto", "cpu" or "cuda"
n_points = 100               # test points per network
n_directions = 100           # null-space directions per test point (the paper: 100)
epsilon = 0.2                # length of each segment, in input units (pixels in [-1, 1]; the paper: 0.2)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from nngeom.region_studies import MNIST_BOX, RATES, VARIANTS, open_table1_page, surrounding_regions
from nngeom.report import verdict_markdown
from nngeom.stats import smaller
from nngeom.validation import check_positive, check_positive_int

n_points = check_positive_int("n_points", n_points)
n_directions = check_positive_int("n_directions", n_directions)
epsilon = check_positive("epsilon", epsilon)
dev, metrics, nets, x = open_table1_page("notebooks/linear_regions/05_surrounding_regions", profile, metrics_path, seed=seed,
                                         device=device, n_points=n_points)
BOX = MNIST_BOX
metrics.value("n_directions", n_directions)
metrics.value("epsilon", epsilon)

# %% [markdown]
# ## Walking the segments
#
# The same {glue:text}`n_points` random test images for every network, {glue:text}`n_directions`
# directions each, segments of length {glue:text}`epsilon`.

# %%
found, seconds = {}, {}
for key, m in nets.items():
    t0 = time.perf_counter()
    found[key] = surrounding_regions(m, x, n_directions, epsilon, seed=seed,
                                     desc=f"{VARIANTS[key[0]]}, lr {key[1]}")
    seconds[key] = time.perf_counter() - t0
rows = []
for (v, lr), f in found.items():
    rows.append({"model": f"{VARIANTS[v]}, lr {lr}", "median unique regions": np.median(f.counts),
                 "mean unique regions": f.counts.mean(), "most": f.counts.max(),
                 "regions per segment (mean)": np.mean([p.mean() for p in f.pieces]),
                 "median rho": np.median(np.concatenate(f.cosines)) if sum(map(len, f.cosines)) else np.nan,
                 "seconds": seconds[(v, lr)]})
    metrics.value(f"regions_{v}_lr{lr}", float(f.counts.mean()))
display(pd.DataFrame(rows).set_index("model").style.format(precision=2).format({"seconds": "{:.0f}"}))

# %% [markdown]
# ## Figure 6
#
# (a) The number of unique surrounding regions per test point; (b, c) the cosine similarity $\rho$
# between the decision direction of each unique surrounding region and the test point's own, over all
# test points, for the larger and the smaller learning rate.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
ax = axes[0]
pos = np.arange(len(VARIANTS))
colours = {"1e-3": "tab:red", "1e-4": "tab:blue"}
for k, lr in enumerate(RATES):
    data_ = [found[(v, lr)].counts for v in VARIANTS]
    bp = ax.boxplot(data_, positions=pos + (k - 0.5) * 0.35, widths=0.3, patch_artist=True,
                    boxprops={"facecolor": colours[lr], "alpha": 0.4}, medianprops={"color": "k"})
    bp["boxes"][0].set_label(f"lr {lr}")
ax.set_xticks(pos, list(VARIANTS.values()))
ax.set_yscale("log")
ax.set_ylabel("unique surrounding regions")
ax.legend()
ax.set_title("(a) regions met")
for k, lr in enumerate(RATES):
    ax = axes[k + 1]
    panel = {v: np.concatenate(found[(v, lr)].cosines) for v in VARIANTS}
    low = min([r.min() for r in panel.values() if len(r)], default=0.0)
    bins = np.linspace(low, 1, 40)  # the panel's own range: the values crowd near 1
    for v, label in VARIANTS.items():
        if len(panel[v]):
            ax.hist(panel[v], bins=bins, histtype="step", linewidth=1.5, density=True,
                    label=f"{label} ({len(panel[v])} regions)")
    ax.set_xlabel(r"cosine similarity $\rho$ of decision directions")
    ax.set_title(f"({'bc'[k]}) lr {lr}")
    ax.legend(fontsize=8)
axes[1].set_ylabel("density")
plt.show()

# %% [markdown]
# ## The paper's claims, tested
#
# "More regions" compares the counts per test point with a one-sided Mann–Whitney test at
# $p < 0.05$; "high relevance" asks for a median $\rho$ of at least 0.9 in every network; "slightly
# less" compares BN's $\rho$ with the vanilla network's by the same test (thresholds ours).

# %%
bn_more = {lr: smaller(found[("vanilla", lr)].counts, found[("bn", lr)].counts) for lr in RATES}
metrics.claim("LRG-F6", "bn_more_regions", holds=all(t["p"] < 0.05 for t in bn_more.values()),
              evidence="; ".join(f"lr {lr}: median {t['median_b']:.0f} BN vs {t['median_a']:.0f} vanilla (p = {t['p']:.2g})"
                                 for lr, t in bn_more.items()))
slow_more = {v: smaller(found[(v, "1e-3")].counts, found[(v, "1e-4")].counts) for v in VARIANTS}
n_slow = sum(t["p"] < 0.05 for t in slow_more.values())
metrics.claim("LRG-F6", "smaller_lr_more_regions", holds=bool(n_slow >= 2),
              evidence="lr 1e-4 vs 1e-3: " + "; ".join(f"{VARIANTS[v]} median {t['median_b']:.0f} vs {t['median_a']:.0f} (p = {t['p']:.2g})"
                                                       for v, t in slow_more.items()) + "; our test for 'usually': 2 of 3 variants")
rho = {key: np.concatenate(f.cosines) for key, f in found.items()}
med = {key: float(np.median(r)) if len(r) else float("nan") for key, r in rho.items()}
metrics.claim("LRG-F6", "high_relevance", holds=all(m_ >= 0.9 for m_ in med.values()),
              evidence="median rho: " + ", ".join(f"{VARIANTS[v]} lr {lr} {m_:.3f}" for (v, lr), m_ in med.items()))
bn_less = {lr: smaller(rho[("bn", lr)], rho[("vanilla", lr)]) for lr in RATES}
metrics.claim("LRG-F6", "bn_less_relevant", holds=all(t["p"] < 0.05 for t in bn_less.values()),
              evidence="; ".join(f"lr {lr}: median rho BN {t['median_a']:.3f} vs vanilla {t['median_b']:.3f} (p = {t['p']:.2g})"
                                 for lr, t in bn_less.items()))
metrics.item("LRG-F6", "reproduced", data="MNIST",
             note=f"{n_points} test points x {n_directions} directions, epsilon {epsilon}")
display(verdict_markdown(metrics.verdicts))

# %%
metrics.save();
