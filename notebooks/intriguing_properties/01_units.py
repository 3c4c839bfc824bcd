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
# the share of them that carry their most common label (1 for an all-"7" set; about 0.2 for random
# test images). If units were privileged, their purity would be clearly higher than that of random
# directions.

# %% tags=["parameters"]
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

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from nngeom import data, zoo
from nngeom.notebook import start_page
from nngeom.report import verdict_markdown
from nngeom.units import label_purity, layer_activations, random_directions, top_images
from nngeom.validation import check_choice, check_int_list, check_positive_int

check_choice("model_name", model_name, zoo.names())
layers = check_int_list("layers", layers, minimum=1)
check_positive_int("n_random", n_random)
check_positive_int("top_k", top_k)
check_positive_int("show_directions", show_directions)
check_positive_int("show_images", show_images)

dev, metrics = start_page("notebooks/intriguing_properties/01_units", profile, metrics_path,
                          seed=seed, device=device, data="MNIST test set")
generator = torch.Generator().manual_seed(seed)

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
summary_rows = []
for layer in layers:
    acts = layer_activations(model, x_test, layer)
    width = acts.shape[1]
    units = torch.eye(width)
    randoms = random_directions(width, n_random, generator=generator)
    k_show = min(show_images, len(acts))
    fig, axes = plt.subplots(show_directions, 2 * k_show + 1, figsize=(0.8 * (2 * k_show + 1), 0.85 * show_directions))
    for col, (title, dirs) in enumerate((("units $e_i$", units), ("random directions $v$", randoms))):
        top = top_images(acts, dirs[:show_directions], k_show)
        for r in range(min(show_directions, len(dirs))):
            for c in range(k_show):
                ax = axes[r, c + col * (k_show + 1)]
                ax.imshow(x_test[int(top[r, c]), 0], cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
        axes[0, col * (k_show + 1) + k_show // 2].set_title(title, fontsize=9)
    for r in range(show_directions):
        axes[r, k_show].axis("off")
    fig.suptitle(f"IPN-X1: {model_name}, hidden layer {layer} ({width} units): most exciting test images",
                 fontsize=9, y=1.01)
    fig.tight_layout()
    plt.show()

    # statistics over every unit and every random direction
    k = min(top_k, len(acts))
    pur_units = label_purity(y_test[top_images(acts, units, k)])
    pur_random = label_purity(y_test[top_images(acts, randoms, k)])
    baseline = label_purity(y_test[torch.randint(len(y_test), (n_random, k), generator=generator)])
    summary_rows.append({
        "layer": layer, "units": width, "random directions": n_random,
        "purity, units (mean)": float(pur_units.mean()),
        "purity, random directions (mean)": float(pur_random.mean()),
        "purity, random images (mean)": float(baseline.mean()),
        "_units": pur_units, "_random": pur_random,
    })

# %% [markdown]
# ## How coherent are they?
#
# Mean label purity of the `top_k` most exciting test images, over all units of the layer, over
# `n_random` random directions, and, for scale, over sets of `top_k` test images drawn at random.

# %%
table = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in summary_rows]).set_index("layer")
display(table.style.format({c: "{:.3f}" for c in table.columns if c.startswith("purity")}))

# Verdict: units are privileged if their mean purity exceeds that of random directions by more than
# the 95 % interval of the difference of means (Welch, unequal variances).
lines = []
holds_all = True
for r in summary_rows:
    u, v = r["_units"].double(), r["_random"].double()
    diff = float(u.mean() - v.mean())
    se = float(np.sqrt(u.var(unbiased=True) / len(u) + v.var(unbiased=True) / len(v)))
    low, high = diff - 1.96 * se, diff + 1.96 * se
    units_better = low > 0
    holds_all &= not units_better
    lines.append(f"layer {r['layer']}: units − random = {diff:+.3f} (95 % CI {low:+.3f} to {high:+.3f})")
    metrics.value(f"layer{r['layer']}_purity_units", float(u.mean()))
    metrics.value(f"layer{r['layer']}_purity_random", float(v.mean()))
    metrics.value(f"layer{r['layer']}_purity_difference", diff)
metrics.claim("IPN-X1", "random_directions_as_coherent_as_units", holds=bool(holds_all),
              evidence="; ".join(lines) + f"; top {top_k} test images per direction")
metrics.item("IPN-X1", "reproduced", data="MNIST", note=f"{model_name}, layers {layers}, label purity of top {top_k}")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# The claim is read as "units are not more coherent than random directions": it holds here when, in
# every analysed layer, the 95 % interval of the difference in mean purity does not lie wholly above
# zero. Label purity captures one kind of semantic coherence (same digit); the grids show the other
# kinds (stroke thickness, slant, position) that a reader may see in either set.

# %%
metrics.save();
