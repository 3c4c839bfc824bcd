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
# # Linear regions in pictures
#
# A network of affine layers and ReLUs computes a continuous piecewise-affine function. The set of
# inputs that share one activation pattern, one on/off state per hidden unit, is a convex polytope on
# which the network is a single affine map: a *linear region*. Zhang and Wu {cite}`zhang2020empirical`
# ask how the usual training devices, batch normalization (BN) and dropout, change these regions in
# networks that classify equally well. Before any statistics, their Figures 1, 2, 7 and 8 simply draw
# the regions on a plane. This page draws them again.
#
# On a plane through input space every region is a convex polygon, and the polygons can be found
# exactly, with no grid: the first hidden layer's units each cut the plane along a line; on each piece,
# the second layer's units are again affine, so they cut each piece along lines of their own; and so on
# through the last layer ({func}`nngeom.linear_regions.planar.plane_regions`). This is the depth-wise exclusion the
# paper uses to describe a region (its Figure 2, LRG-F2). On every final polygon the logits are affine
# too, and cutting by the lines where one logit overtakes another gives the classification regions.

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # unused draws are seeded too
device = "auto"              # "auto", "cpu" or "cuda" (the polygons are computed on the CPU)
slice_classes = [0, 1, 7]    # the MNIST slice passes through the first test image of each of these classes
slice_margin = 0.3           # the slice shows plane coordinates from -margin to 1 + margin
toy_extent = 1.1             # the spirals plane shown, from -extent to extent in both coordinates

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from nngeom.book import plotting
from nngeom.book.notebook import start_page
from nngeom.book.report import comparison_table, paper_value, verdict_markdown
from nngeom.core import data, zoo
from nngeom.core.stats import compare_samples, exact
from nngeom.core.toy import toy_tensors
from nngeom.core.validation import check_int_list, check_positive
from nngeom.linear_regions.planar import plane_regions, plane_through
from nngeom.linear_regions.studies import abs_deviations

slice_classes = check_int_list("slice_classes", slice_classes, minimum=0)
if len(slice_classes) != 3 or len(set(slice_classes)) != 3 or max(slice_classes) > 9:
    raise ValueError(f"parameter 'slice_classes' must be three different MNIST classes (0-9), got {slice_classes}")
check_positive("slice_margin", slice_margin)
check_positive("toy_extent", toy_extent)

dev, metrics = start_page("notebooks/linear_regions/01_regions_in_pictures", profile, metrics_path,
                          seed=seed, device=device, data="MNIST and the two-spirals toy")
plotting.style()
VARIANTS = ["vanilla", "bn", "dropout"]
TITLES = {"vanilla": "vanilla", "bn": "BN", "dropout": "dropout"}

# %% [markdown]
# ## The toy: two spirals (LRG-F7)
#
# The paper's Appendix A trains three 3 x 10 ReLU networks on a two-class toy set of two interleaved
# spirals and reports that all three classify it perfectly. It shows the data but not how they were
# made; ours ({func}`nngeom.core.toy.two_spirals`) are 1.5 turns each with a little Gaussian jitter, 2 x 2,000
# training and 2 x 500 test points.

# %%
x_toy, y_toy = toy_tensors("two-spirals", "train")
x_toy_test, y_toy_test = toy_tensors("two-spirals", "test")
fig, ax = plt.subplots(figsize=(3.6, 3.6))
ax.scatter(*x_toy.T, c=np.where(y_toy.numpy() == 0, "tab:blue", "tab:orange"), s=2)
ax.set_aspect("equal")
ax.set_title("two spirals (training set)")
plt.show()
metrics.item("LRG-F7", data="toy", note="our spirals: 1.5 turns, jitter 0.02");

# %% [markdown]
# ## Regions of the toy networks (LRG-F8)
#
# Top row: the linear regions, grey edges being the transition boundaries, each region coloured by its
# activation rate (the fraction of the 30 hidden units that are on). Bottom row: the classification
# regions. The networks are the zoo's `spirals-lrg10-*` (Adam at 1e-3, as in the paper; batches and
# epochs ours, listed under each panel's network below).

# %%
toy_nets = {v: zoo.load(f"spirals-lrg10-{v}", profile=profile, device="cpu") for v in VARIANTS}
display(Markdown("\n".join(f"- **{TITLES[v]}**: {zoo.describe(m)}" for v, m in toy_nets.items())))
ext = (-toy_extent, toy_extent, -toy_extent, toy_extent)
toy_regions = {v: plane_regions(m, torch.zeros(2), torch.eye(2), ext) for v, m in toy_nets.items()}


def draw_rows(regions, n_classes, title_of, marks=None):
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.8), constrained_layout=True)
    for j, (v, pr) in enumerate(regions.items()):
        coll = plotting.region_polygons(axes[0, j], pr.polygons, pr.activation_rate)
        plotting.class_region_polygons(axes[1, j], pr.class_cells(), n_classes)
        axes[0, j].set_title(title_of(v, pr))
        if marks is not None:
            for ax in axes[:, j]:
                ax.scatter(*marks.T, c="k", s=18, marker="x")
    fig.colorbar(coll, ax=axes[0, :], shrink=0.8, label="activation rate")
    return fig


def toy_accuracy(m):
    with torch.no_grad():
        return float((m(x_toy_test).argmax(1) == y_toy_test).float().mean())


toy_acc = {v: toy_accuracy(m) for v, m in toy_nets.items()}
draw_rows(toy_regions, 2, lambda v, pr: f"{TITLES[v]}: {len(pr)} regions, test acc {toy_acc[v]:.1%}")
plt.show()

# %% [markdown]
# ## Depth-wise exclusion (LRG-F2)
#
# The region of a point $x^*$ (red) in the vanilla toy network, found layer by layer: after the first
# hidden layer it is the cell of an arrangement of 10 lines; each later layer cuts every cell of the
# previous partition again, with lines that depend on the cell.

# %%
pr = toy_regions["vanilla"]
x_star = np.array([0.3, -0.2])
fig, axes = plt.subplots(1, len(pr.layer_polygons), figsize=(10, 3.6), constrained_layout=True)
for layer, ax in enumerate(axes):
    polys = pr.layer_polygons[layer]
    plotting.region_polygons(ax, polys, None, highlight=pr.region_of(x_star, layer))
    ax.scatter(*x_star, c="k", s=12, zorder=5)
    ax.set_title(f"after hidden layer {layer + 1}: {len(polys)} regions")
plt.show()
metrics.item("LRG-F2", data="toy", note="drawn exactly on the vanilla 3 x 10 spirals net");

# %% [markdown]
# ## A slice of MNIST input space (LRG-F1)
#
# The plane through the first test images of three classes, each 3 x 20 network's regions on it. Plane
# coordinates put the three images at (0, 0), (1, 0) and (0, 1) (crosses); the picture extends
# {glue:text}`slice_margin` beyond them. The paper does not say which plane it drew.

# %%
metrics.value("slice_margin", slice_margin)
x_test, y_test = data.tensors("mnist", "test", value_range=(-1.0, 1.0), flatten=True)
picks = [int((y_test == c).nonzero()[0]) for c in slice_classes]
origin, basis = plane_through(*x_test[picks])
lo, hi = -slice_margin, 1 + slice_margin
mnist_nets = {v: zoo.load(f"mnist-lrg20-{v}", profile=profile, device="cpu") for v in VARIANTS}
display(Markdown("\n".join(f"- **{TITLES[v]}**: {zoo.describe(m)}" for v, m in mnist_nets.items())))
slice_regions = {v: plane_regions(m, origin, basis, (lo, hi, lo, hi)) for v, m in mnist_nets.items()}
marks = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
draw_rows(slice_regions, 10, lambda v, pr: f"{TITLES[v]}: {len(pr)} regions", marks=marks)
plt.show()
fig, ax = plt.subplots(figsize=(6, 0.4))
for c in range(10):
    ax.scatter([], [], color=plt.get_cmap("tab10")(c), label=str(c), marker="s")
ax.legend(ncol=10, loc="center", title="class (bottom row)")
ax.axis("off")
plt.show()

# %% [markdown]
# ## What the pictures say, in numbers
#
# The paper reads two observations off Figure 1 (and, in Appendix A, off Figure 8): the BN and dropout
# networks cut the plane into many more linear regions than the vanilla one, and BN's regions are more
# uniform in size than dropout's. Our criteria (the paper gives no numbers for either):
#
# * **More regions**: the count of polygons in the picture. A picture is computed exactly, so this is
#   a deterministic check: it holds if both the BN and the dropout count exceed the vanilla count on
#   that plane, and fails otherwise. One plane is one slice of input space; the claim is decided for
#   the plane drawn, not for input space as a whole.
# * **More uniform in size**: the spread of $\log_{10}$ area over the polygons (regions cut by the frame
#   count with their visible part). The spread is compared with a rank test on the absolute deviations
#   from each picture's median $\log_{10}$ area (the Brown–Forsythe idea): one-sided Mann–Whitney both
#   ways at 5 %; holds if BN's deviations lie significantly below dropout's, does not hold if
#   significantly above, undecided otherwise.

# %%
rows = []
for plane, regions in (("MNIST slice", slice_regions), ("spirals", toy_regions)):
    for v, pr in regions.items():
        rows.append({"plane": plane, "model": TITLES[v], "regions": len(pr),
                     "spread of log10 area": pr.size_spread(),
                     "median activation rate": float(np.median(pr.activation_rate))})
table = pd.DataFrame(rows).set_index(["plane", "model"])
display(table.style.format({"spread of log10 area": "{:.2f}", "median activation rate": "{:.2f}"}))

MORE_REGIONS = "holds if the BN and the dropout count both exceed the vanilla count on the plane drawn"
for item, regions, where in (("LRG-F1", slice_regions, "MNIST slice"), ("LRG-F8", toy_regions, "spirals plane")):
    n = {v: len(pr) for v, pr in regions.items()}
    spread = {v: regions[v].size_spread() for v in VARIANTS}
    tag = item.split("-")[1].lower()
    for v in VARIANTS:
        metrics.value(f"{tag}_regions_{v}", n[v])
        metrics.value(f"{tag}_spread_{v}", spread[v])
    more = exact(bool(n["bn"] > n["vanilla"] and n["dropout"] > n["vanilla"]), "exact polygon counts of one plane",
                 effect=min(n["bn"], n["dropout"]) - n["vanilla"], criterion=MORE_REGIONS)
    metrics.claim(item, "bn_and_dropout_more_regions", holds=more,
                  evidence=f"{where}: {n['vanilla']} regions vanilla, {n['bn']} BN, {n['dropout']} dropout")
    dev_ = {v: abs_deviations(np.log10(regions[v].areas)) for v in ("bn", "dropout")}
    metrics.claim(item, "bn_regions_more_uniform_than_dropout",
                  holds=compare_samples(dev_["bn"], dev_["dropout"], claim="less"),
                  evidence=f"{where}: spread of log10 area {spread['bn']:.2f} BN vs {spread['dropout']:.2f} dropout; "
                  "test on the absolute deviations from each picture's median log10 area")

# %% [markdown]
# ## Paper and here

# %%
display(comparison_table([{"quantity": f"test accuracy (%), spirals, {TITLES[v]}",
                           "paper": paper_value("LRG-F8", "accuracy"), "here": 100 * toy_acc[v]} for v in VARIANTS])
        .style.format("{:.1f}", subset=["paper", "here"]).format("{:+.1%}", subset=["relative difference"], na_rep="–"))
worst = min(toy_acc.values())
metrics.value("toy_worst_accuracy", 100 * worst)
metrics.claim("LRG-F8", "all_reach_100",
              holds=exact(bool(worst == 1.0), f"test accuracy of each net on our {len(y_toy_test)} toy test points",
                          effect=100 * worst, criterion="holds if every one of the three nets classifies every test point "
                          "correctly, as the paper reports (100 %)"),
              evidence="test accuracy " + ", ".join(f"{TITLES[v]} {100 * a:.1f} %" for v, a in toy_acc.items())
              + f" on {len(y_toy_test)} points")
metrics.item("LRG-F1", data="MNIST", note=f"3 x 20 nets; plane through test images of classes {slice_classes}")
metrics.item("LRG-F8", data="toy", note="3 x 10 nets on our two spirals")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# The paper's third observation from Figure 1, that many transition boundaries of the dropout network
# share directions and crowd around the decision boundaries, is not turned into a test on this page;
# the angles between hyperplanes are measured on full-size networks on the page about hyperplane
# directions.

# %% [markdown]
# ```{admonition} What we did differently
# - **The toy data are ours.** The paper shows its two spirals but not how they were made; ours are
#   1.5 turns each with a little jitter, and the batch size and length of training of the toy nets are
#   ours too.
# - **The plane is ours.** The paper does not say which slice of MNIST input space Figure 1 shows; ours
#   passes through the first test images of classes `slice_classes`.
# - **The regions are exact polygons**, found by cutting the plane layer by layer, rather than read off
#   a grid.
# - **The observations are turned into tests** that the paper does not state: a polygon count on the
#   plane drawn, and a rank test on the spread of log-areas. Both are decided on one plane each.
# ```

# %%
metrics.save();
