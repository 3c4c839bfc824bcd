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
# # Units or directions?
#
# A common way to read a hidden unit is to look at the held-out images that excite it most,
# $x' = \arg\max_{x\in\mathcal I}\langle\phi(x), e_i\rangle$, where $\phi(x)$ is the layer's activation
# vector and $e_i$ the unit's basis vector. Szegedy et al. {cite}`szegedy2014intriguing` do the same
# for random directions $v$, $\arg\max_x\langle\phi(x), v\rangle$, and find those image sets just as
# coherent: the natural basis is no better than a random basis for inspecting $\phi$ (IPN-X1; the
# summary, "Approach").
#
# Reading coherence off a grid of images is a matter of taste, so besides the grids this page
# measures it. For each direction we take its `top_k` test images and compute their *label purity*,
# the share of them that carry their most common label (all of them for an all-"7" set; the table
# below gives the value for sets of random test images). If units were privileged, their purity
# would be clearly higher than that of random directions.
#
# The claim is one of *no difference*, so it is decided by an equivalence test (two one-sided tests,
# TOST, at level 5 %): in each analysed layer, the 90 % Welch interval of "mean purity of units minus
# mean purity of random directions" must lie inside $\pm$`equivalence_margin`. It fails in a layer
# whose interval lies wholly outside that band, and is undecided where the interval is too wide to tell
# (a small sample can no longer pass by lacking power). The summary gives no number to tie the margin
# to; we call a difference of less than {glue:text}`equivalence_margin:.2f` in purity negligible
# ({glue:text}`margin_images:.1f` of the `top_k` = {glue:text}`top_k_used` images of a direction).
# The layers must all pass.

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # seeds the random directions
device = "auto"              # "auto", "cpu" or "cuda"
model_name = "mnist-fc100-100-10-sigmoid"  # zoo network whose hidden layers are read
layers = [1, 2]              # hidden layers analysed (1 is the first)
n_random = 100               # random directions per layer for the statistics
top_k = 25                   # top test images per direction for the purity statistic
show_directions = 6          # directions of each kind shown in the grids
show_images = 8              # top images shown per direction
equivalence_margin = 0.1     # our margin: units and random directions count as equally coherent if mean purities differ by less

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from nngeom.book.notebook import start_page
from nngeom.book.plotting import top_image_panels
from nngeom.book.report import verdict_markdown
from nngeom.core import data, zoo
from nngeom.core.stats import all_of, equivalent, welch_difference
from nngeom.core.validation import check_choice, check_in_open_interval, check_int_list, check_positive_int
from nngeom.intriguing_properties.units import top_images, units_vs_random

check_choice("model_name", model_name, zoo.names())
layers = check_int_list("layers", layers, minimum=1)
check_positive_int("n_random", n_random)
check_positive_int("top_k", top_k)
check_positive_int("show_directions", show_directions)
check_positive_int("show_images", show_images)
check_in_open_interval("equivalence_margin", equivalence_margin, 0.0, 1.0)

dev, metrics = start_page("notebooks/intriguing_properties/01_units", profile, metrics_path,
                          seed=seed, device=device, data="MNIST test set")
generator = torch.Generator().manual_seed(seed)
metrics.value("equivalence_margin", equivalence_margin);

# %% [markdown]
# ```{admonition} What we did differently
# - The summary names a CNN (and AlexNet on ImageNet) for this experiment; this page reads the two
#   hidden layers of the fully connected sigmoid network FC100-100-10 (the zoo's convolutional nets
#   have no hidden-layer reader yet). AlexNet is not run.
# - The paper judges coherence by looking at the images; we add a number, label purity, which sees
#   only one kind of coherence (same digit).
# - The summary gives no counts of directions or images; `n_random` and `top_k` are ours.
# ```

# %%
model = zoo.load(model_name, profile=profile, device=dev)
display(Markdown(zoo.describe(model)))
x_test, y_test = data.tensors("mnist", "test")

# %% [markdown]
# ## Top images of units and of random directions
#
# In each grid a row is one direction and its `show_images` most exciting test images, best first.
# The left grid uses units $e_i$ (the first `show_directions` units of the layer), the right one
# random unit vectors $v$ drawn uniformly from the sphere.

# %%
studies = {}
for layer in layers:
    st = studies[layer] = units_vs_random(model, x_test, y_test, layer, n_random, top_k, generator)
    k_show = min(show_images, len(st.activations))
    panels = [(title, top_images(st.activations, dirs[:show_directions], k_show))
              for title, dirs in (("units $e_i$", torch.eye(st.width)), ("random directions $v$", st.randoms))]
    top_image_panels(x_test[:, 0].numpy(), panels, f"IPN-X1: {model_name}, hidden layer {layer} ({st.width} units): "
                     "most exciting test images")
    plt.show()
    # the mean projection of each direction's top images: a check on the search itself (an argmin or
    # unnormalised directions would move it far), recorded for the smoke expectations
    metrics.value(f"layer{layer}_top_projection_units", st.top_projection_units)
    metrics.value(f"layer{layer}_top_projection_random", st.top_projection_random)
summary_rows = [{"layer": layer, "units": st.width, "random directions": n_random,
                 "purity, units (mean)": float(st.purity_units.mean()),
                 "purity, random directions (mean)": float(st.purity_random.mean()),
                 "purity, random images (mean)": float(st.purity_baseline.mean()),
                 "_units": st.purity_units, "_random": st.purity_random} for layer, st in studies.items()]

# %% [markdown]
# ## How coherent are they?
#
# Mean label purity of the `top_k` most exciting test images, over all units of the layer, over
# `n_random` random directions, and, for scale, over sets of `top_k` test images drawn at random.
# The last columns are the equivalence test of each layer: the 90 % Welch interval of the difference
# and its outcome against $\pm$`equivalence_margin`.

# %%
# Verdict per layer: TOST with the 90 % Welch interval (unequal variances, normal quantile) of
# mean(units) - mean(random directions) against +-equivalence_margin.
lines, decisions = [], []
for r in summary_rows:
    u, v = r["_units"].double(), r["_random"].double()
    w = welch_difference(u, v, confidence=0.90)  # two-sided 90 %: one 5 % test on each side (TOST)
    diff, low, high = w["difference"], w["low"], w["high"]
    d = equivalent(diff, low, high, equivalence_margin,
                   test=f"layer {r['layer']}: 90 % Welch interval, {len(u)} units vs {len(v)} random directions")
    decisions.append(d)
    r.update({"units − random": diff, "90% interval": f"{low:+.3f} to {high:+.3f}", "equivalent": d.outcome})
    lines.append(f"layer {r['layer']}: units − random = {diff:+.3f} (90 % interval {low:+.3f} to {high:+.3f}, {d.outcome})")
    metrics.value(f"layer{r['layer']}_purity_units", float(u.mean()))
    metrics.value(f"layer{r['layer']}_purity_random", float(v.mean()))
    metrics.value(f"layer{r['layer']}_purity_random_images", r["purity, random images (mean)"])
    metrics.value(f"layer{r['layer']}_purity_difference", diff)
table = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in summary_rows]).set_index("layer")
display(table.style.format({c: "{:.3f}" for c in table.columns if c.startswith("purity")} | {"units − random": "{:+.3f}"}))

k_used = min(top_k, len(x_test))
metrics.value("top_k_used", k_used)
metrics.value("margin_images", equivalence_margin * k_used)
decision = all_of(decisions, name="layers")
metrics.claim("IPN-X1", "random_directions_as_coherent_as_units", holds=decision,
              evidence="; ".join(lines) + f"; top {k_used} test images per direction",
              criterion=f"holds if in every layer the 90 % interval of mean purity (units − random directions) lies "
              f"inside ±{equivalence_margin:g} (TOST at 5 %), fails if in some layer it lies wholly outside, "
              "undecided otherwise; the summary states no number, the margin is ours")
metrics.item("IPN-X1", data="MNIST",
             gaps=["fully connected sigmoid net FC100-100-10 instead of the summary's CNN; AlexNet (ImageNet) not run",
                   "coherence measured by label purity of the top images, not judged by eye"],
             note=f"{model_name}, layers {layers}, {n_random} random directions, label purity of top {k_used}")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# Label purity captures one kind of semantic coherence (same digit); the grids show the other kinds
# (stroke thickness, slant, position) that a reader may see in either set. An *undecided* verdict means
# the interval of some layer reaches past the margin: more random directions (`n_random`) or, for the
# units, a wider layer would narrow it.

# %%
metrics.save();
