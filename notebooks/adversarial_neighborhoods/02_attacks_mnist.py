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
# # Box-constrained L-BFGS on MNIST
#
# The thesis opens its experiments by redoing the attack of Szegedy et al. {cite}`szegedy2014intriguing`
# on a small MNIST network (section 1.4.2 of {cite}`bell_neighborhoods`): for an image $x$ and a target
# class $l$, look for the smallest perturbation $r$ such that the network assigns $x+r$ to $l$ while
# $x+r$ stays in the pixel box $[0,1]^n$. The exact problem is hard, so it is relaxed to
#
# $$\min_r\; c\,\|r\|_2^2 + \mathrm{CE}\big(f(x+r),\, l\big) \quad\text{subject to}\quad x+r\in[0,1]^n,$$
#
# solved with L-BFGS-B {cite}`byrd1995limited`, and the weight $c$ is searched for the smallest
# perturbation that still reaches $l$. Perturbations are measured by the *distortion*
# $\|r\|_2/\sqrt n$ (Definition 1.8). This page reproduces Figure 2 (an 8 pushed to other classes,
# ANX-F2) and Figure 3 (the distortion of 900 adversarial examples, ANX-F3) on the thesis' FC200-200-10
# network.
#
# `nngeom.core.attacks.LBFGS` runs the whole batch in one L-BFGS-B problem (the objective is a sum of
# independent per-image terms) and searches $c$ by bisection on $\log c$ per image; an image whose
# target is never reached is reported as a failure, not returned as an adversarial.

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # seeds every random draw on this page
device = "auto"              # "auto", "cpu" or "cuda"
model_name = "mnist-fc200-200-10"  # zoo model attacked (the thesis' FC200-200-10)
n_images = 100               # correctly classified test images, each attacked towards the 9 other classes
f2_digit = 8                 # class of the image shown in Figure 2 (the thesis shows an 8)
c_min = 0.001                # smallest weight c of the perturbation norm tried
c_max = 100.0                # largest weight c tried
search_steps = 6             # bisection steps on log c after c_min
max_iter = 50                # L-BFGS-B iterations per solve (each search step warm-starts)
batch_size = 128             # images per L-BFGS-B problem
depth_images = 20            # images for the search-depth study (0 to skip it)
depth_steps = [0, 2, 4, 10]  # search depths compared there
f3_margin = 0.2              # ANX-F3: equivalence margin, relative to the thesis' mean distortion

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from nngeom.book.notebook import start_page
from nngeom.book.plotting import adversarial_rows
from nngeom.book.report import comparison_table, paper_value, verdict_markdown
from nngeom.core import data, stats, zoo
from nngeom.core.attacks import LBFGS, correctly_classified, distortion, every_other_target
from nngeom.core.validation import (
    check_c_range,
    check_choice,
    check_in_open_interval,
    check_int_list,
    check_nonnegative_int,
    check_positive_int,
)

check_choice("model_name", model_name, zoo.names())
check_positive_int("n_images", n_images)
check_choice("f2_digit", f2_digit, list(range(10)))
check_c_range(c_min, c_max)
check_positive_int("search_steps", search_steps)
check_positive_int("max_iter", max_iter)
check_positive_int("batch_size", batch_size)
check_nonnegative_int("depth_images", depth_images)
depth_steps = check_int_list("depth_steps", depth_steps, minimum=0)
check_in_open_interval("f3_margin", f3_margin, 0.0, 1.0)

dev, metrics = start_page("notebooks/adversarial_neighborhoods/02_attacks_mnist",
                          profile, metrics_path, seed=seed, device=device, data="MNIST test set")

# %% [markdown]
# ## The network
#
# FC200-200-10 has two ReLU layers of 200 units. The thesis trains it for about 21 epochs with a
# per-layer weight penalty ($\lambda$ = 1e-5, 1e-5, 1e-6); the zoo entry below records the recipe we
# used (Adam, learning rate 1e-3, batches of 128; the thesis does not name its optimiser) and the test
# accuracy it reached.

# %%
model = zoo.load(model_name, profile=profile, device=dev)
meta = model.nngeom_meta
x_test, y_test = data.tensors("mnist", "test")
display(Markdown(zoo.describe(model)))
metrics.value("test_accuracy", meta["test_accuracy"])
train_epochs = int(meta["spec"]["epochs"])
paper_epochs = paper_value("ANX-T1", "epochs")  # the thesis' "typically 21" for its MNIST nets (section 5.1.2)
metrics.value("train_epochs", train_epochs)
metrics.value("paper_epochs", paper_epochs)
epoch_gap = ([f"{model_name} trained for {train_epochs} epoch{'s' if train_epochs != 1 else ''} at this profile "
              f"instead of about {paper_epochs:g}"]
             if train_epochs < paper_epochs else [])

# %% [markdown]
# ## Figure 2: one 8, every other class
#
# The first correctly classified test image of class `f2_digit` is attacked towards each of the
# other nine classes.

# %%
idx8 = correctly_classified(model, x_test, y_test)
idx8 = idx8[y_test[idx8] == f2_digit][:1]
x8, y8, t8 = every_other_target(x_test[idx8], y_test[idx8])
attack = LBFGS(model, c_range=(c_min, c_max), search_steps=search_steps, max_iter=max_iter, batch_size=batch_size)
x8_adv = attack(x8.to(dev), t8.to(dev)).cpu()
ok8 = attack.last_success.cpu()
d8 = distortion(x8, x8_adv)
labels = [f"→ {int(t)}\n{float(d):.3f}" + ("" if s else "\n(failed)") for t, d, s in zip(t8, d8, ok8)]
fig = adversarial_rows(x8[:, 0].numpy(), x8_adv[:, 0].numpy(), labels, magnify=5)
fig.suptitle(f"ANX-F2: test image {int(idx8[0])} (a {f2_digit}) against {model_name}; row label: target, distortion",
             fontsize=9, y=1.015)
plt.show()
metrics.value("f2_targets_reached", int(ok8.sum()))
metrics.value("f2_mean_distortion", float(d8[ok8].mean()) if ok8.any() else float("nan"))
metrics.claim("ANX-F2", "lbfgs_reaches_targets",
              holds=stats.exact(bool(ok8.all()), f"{int(ok8.sum())} of {len(ok8)} targets reached (deterministic, seeded)",
                                effect=int(ok8.sum())),
              evidence=f"{int(ok8.sum())} of {len(ok8)} targets reached, distortion {float(d8.min()):.3f}–{float(d8.max()):.3f}",
              criterion="holds if the attack reaches every one of the other classes, fails if it misses one")
metrics.item("ANX-F2", data="MNIST", gaps=epoch_gap, note=f"{model_name}; all nine targets instead of the thesis' six");

# %% [markdown]
# ## Figure 3: the distortion of 900 adversarial examples
#
# The thesis attacks {glue:text}`f3_paper_images:.0f` images towards their nine other classes
# ({glue:text}`f3_paper_examples:.0f` examples). Here the first `n_images` correctly classified test
# images are used, all in batched L-BFGS-B problems.

# %%
idx = correctly_classified(model, x_test, y_test, limit=n_images)
xs, ys, ts = every_other_target(x_test[idx], y_test[idx])
t0 = time.perf_counter()
attack = LBFGS(model, c_range=(c_min, c_max), search_steps=search_steps, max_iter=max_iter,
               batch_size=batch_size, progress=True)
xs_adv = attack(xs.to(dev), ts.to(dev)).cpu()
seconds = time.perf_counter() - t0
ok = attack.last_success.cpu()
dist = distortion(xs, xs_adv)[ok].numpy()
paper_mean = paper_value("ANX-F3", "mean_distortion")
paper_examples = paper_value("ANX-F3", "examples")
metrics.value("f3_paper_mean", paper_mean)
metrics.value("f3_paper_examples", paper_examples)
metrics.value("f3_paper_images", paper_examples / 9)
mean_here = float(dist.mean()) if len(dist) else float("nan")
metrics.value("f3_examples", len(ok))
metrics.value("f3_success_rate", float(ok.float().mean()))
metrics.value("f3_mean_distortion", mean_here)
metrics.value("f3_median_distortion", float(np.median(dist)) if len(dist) else float("nan"))
metrics.value("f3_seconds_per_example", seconds / len(ok))

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.hist(dist, bins=40, color="tab:blue", alpha=0.85)
ax.axvline(mean_here, color="tab:blue", ls="-", label=f"mean here {mean_here:.3f}")
ax.axvline(paper_mean, color="tab:red", ls="--", label=f"thesis mean {paper_mean:.3f}")
ax.set_xlabel(r"distortion $\|r\|_2/\sqrt{n}$")
ax.set_ylabel("adversarial examples")
ax.set_title(f"ANX-F3: {int(ok.sum())} successful L-BFGS examples of {len(ok)} ({model_name})", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

display(
    comparison_table(
        [
            {"quantity": "adversarial examples attempted", "paper": paper_examples, "here": len(ok)},
            {"quantity": "mean distortion", "paper": paper_mean, "here": mean_here},
        ]
    ).style.format("{:.3f}", subset=["paper", "here"], na_rep="–").format(
        "{:+.1%}", subset=["relative difference"], na_rep="–")
)
# Criterion (ours): the thesis quotes two significant digits of a mean over one training run of a
# recipe it does not fully give (optimiser, search for c), so we call the value reproduced when the 90 %
# interval of our mean lies within 20 % of it (TOST), and not reproduced when it lies wholly outside.
if len(dist) > 1:
    half = 1.645 * float(dist.std(ddof=1)) / np.sqrt(len(dist))
    f3_decision = stats.equivalent(mean_here - paper_mean, mean_here - paper_mean - half, mean_here - paper_mean + half,
                                   f3_margin * paper_mean, f"mean distortion - {paper_mean:g}, 90 % normal interval, "
                                   f"{len(dist)} examples")
else:
    f3_decision = stats.Decision(None, f"{len(dist)} successful examples: no interval", criterion="nothing to decide")
metrics.claim("ANX-F3", "mean_distortion_value", holds=f3_decision,
              evidence=f"mean here {mean_here:.3f} vs {paper_mean:g}; success rate {float(ok.float().mean()):.1%} of {len(ok)}",
              criterion=f"holds if the 90 % interval of our mean lies within +-{f3_margin:.0%} of the thesis' {paper_mean:g} "
              "(TOST), fails if it lies wholly outside, undecided otherwise")
metrics.item("ANX-F3", data="MNIST", scale={"adversarial examples attempted": len(ok)}, gaps=epoch_gap,
             note=f"{len(ok)} attempts, {model_name}")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# L-BFGS reached its target for {glue:text}`f3_success_rate:.1%` of the
# {glue:text}`f3_examples` attempts, at {glue:text}`f3_seconds_per_example:.3f` s per example on this
# page's device. Their mean distortion is {glue:text}`f3_mean_distortion:.3f` (median
# {glue:text}`f3_median_distortion:.3f`), against the thesis' {glue:text}`f3_paper_mean:.3f`.
#
# ```{admonition} What we did differently
# - Figure 2 attacks the 8 towards all nine other classes; the thesis shows six.
# - The thesis does not say how it searched the weight $c$; ours bisects $\log c$ (`search_steps`), and
#   the section below shows how much the depth of that search moves the mean distortion.
# - The network was trained for {glue:text}`train_epochs` epochs at this profile (the thesis: about
#   {glue:text}`paper_epochs:.0f`), with Adam, which the thesis does not name; fewer epochs than the
#   thesis' are listed as a gap on the scoreboard.
# ```
#
# ## How deep is the search for c?
#
# The thesis does not say how it searched $c$. A larger $c$ weighs the norm more and gives a smaller
# perturbation, so the depth of the search matters: a search that stops at the first $c$ that works
# returns a perturbation larger than necessary. The table repeats the attack on the first
# `depth_images` images with different numbers of bisection steps (0 means $c$ = `c_min` only).

# %%
if depth_images and depth_steps:
    xd, yd, td = every_other_target(x_test[idx[:depth_images]], y_test[idx[:depth_images]])
    rows = []
    for steps in depth_steps:
        a = LBFGS(model, c_range=(c_min, c_max), search_steps=steps, max_iter=max_iter, batch_size=batch_size)
        xa = a(xd.to(dev), td.to(dev)).cpu()
        s = a.last_success.cpu()
        rows.append({"bisection steps": steps, "success rate": float(s.float().mean()),
                     "mean distortion": float(distortion(xd, xa)[s].mean()) if s.any() else float("nan")})
    depth = pd.DataFrame(rows)
    display(depth.style.format({"success rate": "{:.1%}", "mean distortion": "{:.3f}"}).hide(axis="index"))
    metrics.value("depth_distortion_first", float(depth["mean distortion"].iloc[0]))
    metrics.value("depth_distortion_last", float(depth["mean distortion"].iloc[-1]))
else:
    metrics.value("depth_distortion_first", float("nan"))
    metrics.value("depth_distortion_last", float("nan"))

# %% [markdown]
# With $c$ = `c_min` alone the mean distortion is {glue:text}`depth_distortion_first:.3f`; with the
# deepest search in the table it is {glue:text}`depth_distortion_last:.3f`. A thesis value between the
# two is what a shallower search than ours would give; the verdict above compares the thesis with our
# full search.

# %%
metrics.save();
