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
# # Which way do the walls face? Hyperplane directions and redundant walls
#
# A linear region of a 3 x 1024 ReLU network is cut out by 3,072 half-spaces
# $w_i^\top x + b_i \ge 0$, one per hidden unit, each $w_i$ pointing into the region. The vector $w_i$
# is the gradient of unit $i$'s pre-activation with respect to the input, so the angle between two
# walls of one region says how correlated two units' input gradients are there. Zhang and Wu
# {cite}`zhang2020empirical` (section 3.3, Figure 4, LRG-F4) draw the 3,072 x 3,072 matrix of these
# angles for one manifold region of each of their six networks and read off three things: the walls
# of deeper layers face more alike, dropout and the larger learning rate strengthen this, and batch
# normalization (BN) keeps the walls closest to orthogonal.
#
# The paper computes the angles over all 3,072 walls, although many of them are *redundant*: implied
# by the others and the pixel box, so they do not touch the region. Its Appendix C (LRG-AC) removes
# them with one LP per wall and notes that this is very expensive. The second half of this page does
# that removal exactly for the paper's small 3 x 20 networks and measures how far it gets on the big
# ones.
#
# One region is an anecdote, so besides the paper's pictures this page summarizes the angle matrices of
# {glue:text}`n_points` manifold regions per network by the mean of $|\cos\angle(w_i, w_j)|$ within and
# between layers (0: mutually orthogonal walls, 1: parallel ones; {func}`nngeom.linear_regions.regions.layer_coherence`)
# and tests the paper's statements on them.

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # draws the test points and the sampled walls
device = "auto"              # "auto", "cpu" or "cuda"
n_points = 100               # manifold regions per network for the angle statistics
small_points = 20            # regions per 3 x 20 network whose redundant walls are all found by LP
big_points = 1               # regions per 3 x 1024 network whose walls are proved facets by rays
big_sample_rows = 0          # of those regions' walls the rays leave open, how many to test by LP (each may take minutes)

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from nngeom.book.pages.linear_regions import open_table1_page
from nngeom.book.report import verdict_markdown
from nngeom.core import zoo
from nngeom.core.stats import all_of, compare_samples, fraction_of, interval_above, paired_difference, rate_at_least
from nngeom.core.validation import check_nonnegative_int, check_positive_int
from nngeom.linear_regions.regions import hyperplane_angles, layer_coherence, region_constraints
from nngeom.linear_regions.studies import MNIST_BOX, RATES, VARIANTS, wall_census
from nngeom.solvers.polytope import redundant_rows

n_points = check_positive_int("n_points", n_points)
small_points = check_positive_int("small_points", small_points)
big_points = check_positive_int("big_points", big_points)
big_sample_rows = check_nonnegative_int("big_sample_rows", big_sample_rows)
dev, metrics, nets, x = open_table1_page("notebooks/linear_regions/03_hyperplane_directions", profile, metrics_path, seed=seed,
                                         device=device, n_points=n_points)
BOX = MNIST_BOX
metrics.value("small_points", small_points)
metrics.value("big_points", big_points);

# %% [markdown]
# ## The angle matrix of one manifold region (LRG-F4)
#
# As in the paper's Figure 4: the region of one test image (the first of the random sample), larger
# learning rate on top. Pixel $(i, j)$ is the angle between $w_i$ and $w_j$ in degrees; units
# 0-1,023 belong to the first hidden layer, 1,024-2,047 to the second, 2,048-3,071 to the third. White
# is orthogonal; blue marks walls facing the same way (small angles), red walls facing opposite ways.

# %%
fig, axes = plt.subplots(2, 3, figsize=(11, 7.6), constrained_layout=True)
for i, lr in enumerate(RATES):
    for j, v in enumerate(VARIANTS):
        reg = region_constraints(nets[(v, lr)], x[:1])
        ang = hyperplane_angles(reg.W[0]).float().numpy()
        ax = axes[i, j]
        im = ax.imshow(ang, cmap="RdBu_r", vmin=0, vmax=180, interpolation="nearest")
        for edge in np.cumsum(reg.layer_sizes)[:-1]:
            ax.axhline(edge - 0.5, color="k", lw=0.5)
            ax.axvline(edge - 0.5, color="k", lw=0.5)
        ax.set_title(f"{VARIANTS[v]}, lr {lr}")
        ax.set_xticks([0, 1024, 2048, 3071])
        ax.set_yticks([0, 1024, 2048, 3071])
        del ang
fig.colorbar(im, ax=axes, shrink=0.6, label="angle between hyperplane directions (degrees)")
plt.show()

# %% [markdown]
# ## The same, summarized over many regions
#
# Mean $|\cos|$ between walls of the same layer (layers 1, 2, 3) and over all pairs of the 3,072
# walls, averaged over the {glue:text}`n_points` regions (± the standard deviation across regions).

# %%
coherence = {}
t0 = time.perf_counter()
for key, m in nets.items():
    blocks = [layer_coherence(region_constraints(m, chunk).W, [1024, 1024, 1024]) for chunk in x.split(4)]
    coherence[key] = torch.cat(blocks).numpy()  # [n, 3, 3]
sizes = np.array([1024, 1024, 1024], dtype=float)
pairs = np.outer(sizes, sizes) - np.diag(sizes)  # ordered pairs i != j in each block
overall = {key: (c * pairs).sum((1, 2)) / pairs.sum() for key, c in coherence.items()}
rows = []
for (v, lr), c in coherence.items():
    row = {"model": f"{VARIANTS[v]}, lr {lr}"}
    for layer in range(3):
        row[f"layer {layer + 1}"] = f"{c[:, layer, layer].mean():.3f} ± {c[:, layer, layer].std():.3f}"
    row["all pairs"] = f"{overall[(v, lr)].mean():.3f} ± {overall[(v, lr)].std():.3f}"
    rows.append(row)
display(pd.DataFrame(rows).set_index("model"))
metrics.value("coherence_seconds", time.perf_counter() - t0)
for (v, lr), o in overall.items():
    metrics.value(f"coherence_{v}_lr{lr}", float(o.mean()))

# %% [markdown]
# ## The paper's claims, tested
#
# The paper reads its statements off Figure 4 and gives no numbers for them; the criteria are ours.
# "More consistent" means a larger mean $|\cos|$ over the {glue:text}`n_points` regions of a network.
#
# | the paper says | our criterion |
# |---|---|
# | the directions become more consistent in deeper layers | per network, the mean within-layer $\lvert\cos\rvert$ rises from layer 1 to 2 and from 2 to 3: each step's 95 % interval (paired over the regions) lies above 0; holds if at least 5 of the 6 networks hold, fails if fewer than 5 could |
# | BN makes them the closest to orthogonal | at both learning rates, BN's overall $\lvert\cos\rvert$ lies significantly below the vanilla and the dropout net's (one-sided Mann–Whitney both ways at 5 %) |
# | dropout makes them more consistent than vanilla | dropout's overall $\lvert\cos\rvert$ significantly above vanilla's at both learning rates |
# | the larger learning rate makes them more consistent | for every variant, the overall $\lvert\cos\rvert$ at 1e-3 significantly above that at 1e-4 |
# | the pattern holds for almost all manifold regions | at each learning rate, the share of test points whose three regions order as BN < vanilla < dropout: its Wilson 95 % interval lies at or above 90 % (fails if wholly below) |

# %%
steps = {}
for key, c in coherence.items():
    t = [torch.from_numpy(c[:, k, k]) for k in range(3)]
    steps[key] = all_of([interval_above(d["difference"], d["low"], d["high"], 0.0,
                                        f"layer {k + 2} - layer {k + 1}, paired 95 % interval over {d['n']} regions")
                         for k, d in enumerate(paired_difference(t[k + 1], t[k]) for k in range(2))], name="steps")
not_deeper = [f"{VARIANTS[v]}, lr {lr} ({d.outcome})" for (v, lr), d in steps.items() if d.holds is not True]
metrics.claim("LRG-F4", "deeper_layers_more_aligned", holds=fraction_of(list(steps.values()), at_least=5 / 6, name="networks"),
              evidence=f"mean |cos| within a layer rises significantly from layer 1 to 2 to 3 in "
              f"{sum(d.holds is True for d in steps.values())} of 6 networks"
              + (f" (not: {'; '.join(not_deeper)})" if not_deeper else "") + "; at least 5 of 6 needed")

bn_low = {lr: all_of([compare_samples(overall[("bn", lr)], overall[(o, lr)], claim="less") for o in ("vanilla", "dropout")],
                     name="comparisons") for lr in RATES}
metrics.claim("LRG-F4", "bn_most_orthogonal", holds=all_of(bn_low.values(), name="learning rates"),
              evidence="; ".join(f"lr {lr}: mean |cos| BN {np.median(overall[('bn', lr)]):.3f}, vanilla "
                                 f"{np.median(overall[('vanilla', lr)]):.3f}, dropout {np.median(overall[('dropout', lr)]):.3f} "
                                 f"(medians; {d.outcome})" for lr, d in bn_low.items()))

drop = {lr: compare_samples(overall[("dropout", lr)], overall[("vanilla", lr)], claim="greater") for lr in RATES}
metrics.claim("LRG-F4", "dropout_less_orthogonal", holds=all_of(drop.values(), name="learning rates"),
              evidence="; ".join(f"lr {lr}: dropout {np.median(overall[('dropout', lr)]):.3f} vs vanilla "
                                 f"{np.median(overall[('vanilla', lr)]):.3f} ({t.summary()})" for lr, t in drop.items()))

rate = {v: compare_samples(overall[(v, "1e-3")], overall[(v, "1e-4")], claim="greater") for v in VARIANTS}
metrics.claim("LRG-F4", "larger_lr_less_orthogonal", holds=all_of(rate.values(), name="variants"),
              evidence="lr 1e-3 vs 1e-4: " + "; ".join(f"{VARIANTS[v]} {np.median(overall[(v, '1e-3')]):.3f} vs "
                                                       f"{np.median(overall[(v, '1e-4')]):.3f} ({t.outcome})" for v, t in rate.items()))

ordered = {lr: (overall[("bn", lr)] < overall[("vanilla", lr)]) & (overall[("vanilla", lr)] < overall[("dropout", lr)])
           for lr in RATES}
most = {lr: rate_at_least(int(o.sum()), len(o), 0.9) for lr, o in ordered.items()}
metrics.claim("LRG-F4", "holds_for_most_regions", holds=all_of(most.values(), name="learning rates"),
              evidence="share of test points whose three regions order as BN < vanilla < dropout: "
              + ", ".join(f"lr {lr} {int(ordered[lr].sum())} of {len(ordered[lr])} [{d.low:.2f}, {d.high:.2f}]" for lr, d in most.items())
              + "; 'almost all': at least 90 %")
metrics.item("LRG-F4", data="MNIST", note=f"one region drawn, {n_points} summarized per model")
display(verdict_markdown([v for v in metrics.verdicts if v.item == "LRG-F4"]))

# %% [markdown]
# ## Redundant walls (LRG-AC)
#
# A wall is redundant when removing it leaves the region (within the pixel box) unchanged. The paper's
# test for wall $k$ minimizes $w_k^\top x + b_k$ over all other walls, the box and the loosened wall
# $w_k^\top x + b_k \ge -1$; the wall is redundant iff the minimum is $\ge 0$, and is then removed before
# the next test (eq. 18). {func}`nngeom.solvers.polytope.redundant_rows` reaches the same verdicts with fewer and
# smaller LPs: a ray from a point inside the region leaves it through a facet, so cheap rays prove most
# facets, and each remaining wall's LP starts from a small working set of walls and adds those its
# optimum violates (the unit tests check the answers against the paper's sequential LPs).
#
# **3 x 20 networks** (60 walls, those of the paper's Figure 1): every wall of
# {glue:text}`small_points` manifold regions per network decided.

# %%
small = {v: zoo.load(f"mnist-lrg20-{v}", profile=profile, device=dev) for v in VARIANTS}
rows, facet_share = [], {}
for v, m in small.items():
    reg = region_constraints(m, x[:small_points])
    t0 = time.perf_counter()
    kept = []
    for i in range(len(reg)):
        red = redundant_rows(reg.W[i].numpy(), reg.b[i].numpy(), BOX, interior=x[i].double().numpy()).redundant
        kept.append([int((~red[a:a + 20]).sum()) for a in (0, 20, 40)])
    kept = np.array(kept)
    facet_share[v] = kept.sum(1) / 60
    rows.append({"model": f"{VARIANTS[v]} 3 x 20", "regions": len(reg),
                 **{f"facets, layer {k + 1} (of 20)": f"{kept[:, k].mean():.1f}" for k in range(3)},
                 "facets (of 60)": f"{kept.sum(1).mean():.1f}", "seconds per region": (time.perf_counter() - t0) / len(reg)})
    metrics.value(f"small_facets_{v}", float(kept.sum(1).mean()))
display(pd.DataFrame(rows).set_index("model").style.format({"seconds per region": "{:.2f}"}))

# %% [markdown]
# **3 x 1024 networks**: {glue:text}`big_points` region(s) per network. Rays prove a part of the walls
# to be facets; the walls they leave open need the LP of eq. (18). The profile's `big_sample_rows`
# tests a random sample of the open walls by LP.

# %%
rng = np.random.default_rng(seed)  # draws the sampled walls, net after net
census = {key: wall_census(m, x[:big_points], BOX, big_sample_rows, rng) for key, m in nets.items()}
rows = []
for (v, lr), regions in census.items():
    for i, c in enumerate(regions):
        rows.append({"model": f"{VARIANTS[v]}, lr {lr}", "region": i, "walls": c.walls, "implied by the box": c.by_box,
                     "facets proved by rays": c.by_rays, "seconds (rays)": c.ray_seconds}
                    | ({"open walls tested by LP": c.sampled, "of which redundant": c.sampled_redundant,
                        "seconds per LP-tested wall": c.seconds_per_sampled} if big_sample_rows else {}))
display(pd.DataFrame(rows).set_index(["model", "region"]).style.format(precision=1))
big = pd.DataFrame(rows)
open_walls = int((big["walls"] - big["implied by the box"] - big["facets proved by rays"]).sum())
metrics.value("big_ray_seconds", float(big["seconds (rays)"].mean()))
metrics.value("big_open_walls", open_walls)
metrics.value("big_regions", len(big))
if big_sample_rows:
    lp_text = (f"{big['seconds per LP-tested wall'].mean():.1f} s per wall on average over the "
               f"{int(big['open walls tested by LP'].sum())} open walls tested here")
else:
    lp_text = "not measured at this profile (`big_sample_rows` is 0)"
metrics.value("big_lp_seconds_text", lp_text)
metrics.item("LRG-AC", data="MNIST",
             gaps=["3 x 1024 regions: only the walls implied by the box or proved facets by rays are decided; the "
                   "remaining walls' LPs (eq. 18) were " + (f"run for a sample of {big_sample_rows} per region"
                                                              if big_sample_rows else "not run")],
             note="exact on the 3 x 20 nets; facets proved by rays on the 3 x 1024 nets"
             + (f", {big_sample_rows} open walls per region tested by LP" if big_sample_rows else ""));

# %% [markdown]
# On the 3 x 1024 networks the rays took {glue:text}`big_ray_seconds:.1f` s per region and left
# {glue:text}`big_open_walls` walls open over the {glue:text}`big_regions` regions; the LP for an open
# wall took {glue:text}`big_lp_seconds_text`. Deciding every open wall of a 3 x 1024 region was not
# attempted on this machine: that part of Appendix C is not reproduced here.

# %% [markdown]
# ```{admonition} What we did differently
# - **Many regions, not one.** Besides the paper's one region per network, the angle statistics summarise
#   {glue:text}`n_points` manifold regions per network by the mean $|\cos|$ within and between layers,
#   and the paper's readings of Figure 4 are tested on them with criteria of ours (the table above).
# - **Redundant walls by rays and working sets.** The redundancy test reaches the verdicts of the paper's
#   sequential LPs (eq. 18) with rays and smaller LPs (the unit tests check the two agree).
# - **Appendix C on the big networks only in part**: every wall is decided on the 3 x 20 networks, but on
#   the 3 x 1024 networks only the walls the box or the rays settle (plus `big_sample_rows` sampled open
#   walls); the scoreboard lists this as a gap.
# ```

# %%
metrics.save();
