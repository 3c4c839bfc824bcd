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
# # Stability and persistence of natural and adversarial MNIST digits
#
# Section 5.1 of the thesis {cite}`bell_neighborhoods` asks how the neighbourhood of an adversarial
# example differs from that of a natural image. It samples Gaussian clouds $N(x,\sigma^2 I)$ around
# both and counts how the network classifies the samples as $\sigma$ grows (Figure 9, and Figure 13 in
# the appendix), then compares the 0.7-persistence of 1,800 natural images with that of 1,800 IGSM
# adversarial examples (Figure 10). The network is a fully connected ReLU net 784-100-20-10 with the
# small penalty $\lambda = 10^{-7}$. This page reproduces ANX-F9, F13 and F10, and adds the MNIST
# version of the thesis' ImageNet Figure 12: persistence along the straight path from a natural image
# to its adversarial example.
#
# The attack is IGSM (the basic iterative method {cite}`kurakin2016adversarial`), targeted at every
# class other than the image's own. The thesis gives no budget or step size for it; both are
# parameters here, and one choice turns out to decide the outcome (see the last section): whether each
# image stops as soon as it reaches its target (`igsm_early_stop`, our default) or keeps stepping deeper
# into the target class for the whole step budget.

# %% tags=["parameters"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # seeds every random draw on this page
device = "auto"              # "auto", "cpu" or "cuda"
model_name = "mnist-fc100-20-10"  # zoo model (the thesis' 784-100-20-10 net, lambda 1e-7)
gamma = 0.7                  # persistence level
n_sigmas = 100               # Figures 9 and 13: sigmas equally spaced in (0, sigma_max]
sigma_max = 1.6              # ... largest sigma
freq_samples = 1000          # ... samples per sigma
igsm_eps = 0.2               # IGSM: L-inf budget around the original
igsm_alpha = 0.01            # IGSM: step size
igsm_steps = 40              # IGSM: most steps
igsm_early_stop = True       # stop each image at the first step that reaches its target
n_images = 200               # Figure 10: images attacked towards the 9 other classes
n_natural = 1800             # Figure 10: natural test images
persistence_samples = 1000   # samples per stability estimate in the persistence search
path_points = 41             # points on each natural-to-adversarial path
compare_images = 50          # images for the early-stop vs fixed-steps comparison (0 to skip it)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from scipy.stats import mannwhitneyu

from nngeom import data, zoo
from nngeom.attacks import BIM, correctly_classified, distortion, every_other_target, succeeded
from nngeom.device import seeded_generator
from nngeom.notebook import start_page
from nngeom.persistence import class_frequencies, first_sigma_below, persistence, persistence_along_path
from nngeom.plotting import class_frequency_curves
from nngeom.report import comparison_table, paper_value, verdict_markdown
from nngeom.validation import (
    check_bool,
    check_choice,
    check_in_open_interval,
    check_nonnegative_int,
    check_positive,
    check_positive_int,
)

check_choice("model_name", model_name, zoo.names())
check_in_open_interval("gamma", gamma, 0.0, 1.0)
check_positive_int("n_sigmas", n_sigmas)
check_positive("sigma_max", sigma_max)
check_positive_int("freq_samples", freq_samples)
check_positive("igsm_eps", igsm_eps)
check_positive("igsm_alpha", igsm_alpha)
check_positive_int("igsm_steps", igsm_steps)
check_bool("igsm_early_stop", igsm_early_stop)
check_positive_int("n_images", n_images)
check_positive_int("n_natural", n_natural)
check_positive_int("persistence_samples", persistence_samples)
check_positive_int("path_points", path_points)
check_nonnegative_int("compare_images", compare_images)

dev, metrics = start_page("notebooks/adversarial_neighborhoods/03_stability_mnist",
                          profile, metrics_path, seed=seed, device=device, data="MNIST test set")

model = zoo.load(model_name, profile=profile, device=dev)
meta = model.nngeom_meta
x_test, y_test = data.tensors("mnist", "test")
igsm = BIM(model, eps=igsm_eps, alpha=igsm_alpha, steps=igsm_steps, targeted=True, early_stop=igsm_early_stop)
display(Markdown(zoo.describe(model) + f" Attack: `{igsm!r}`."))
metrics.value("test_accuracy", meta["test_accuracy"])

# %% [markdown]
# ## Figure 9: a natural 1 and its adversarial 0
#
# A test image of a 1 is drawn at random (seeded) among those the network gets right, and attacked
# towards every other class. Around the 1 and around its adversarial example targeted at 0,
# `freq_samples` Gaussian samples are classified at each of `n_sigmas` values of $\sigma$ up to
# `sigma_max`.

# %%
gen = torch.Generator().manual_seed(seed)
ones = correctly_classified(model, x_test, y_test)
ones = ones[y_test[ones] == 1]
one_idx = int(ones[torch.randint(len(ones), (1,), generator=gen)])
x1, y1, t1 = every_other_target(x_test[one_idx : one_idx + 1], y_test[one_idx : one_idx + 1])
x1_adv = igsm(x1.to(dev), t1.to(dev)).cpu()
ok1 = succeeded(model, x1_adv, t1, targeted=True)
sigmas = torch.linspace(sigma_max / n_sigmas, sigma_max, n_sigmas)
fgen = seeded_generator(seed + 1, dev)
freq_nat = class_frequencies(model, x1[:1], sigmas, freq_samples, generator=fgen).cpu().numpy()
freq_adv = [class_frequencies(model, x1_adv[i : i + 1], sigmas, freq_samples, generator=fgen).cpu().numpy()
            for i in range(len(t1))]

sample_sigmas = [0.1, 0.4, 0.8, 1.2, 1.6]
fig = plt.figure(figsize=(11, 5.6))
grid = fig.add_gridspec(2, 2 * len(sample_sigmas), height_ratios=[3, 1])
zero = int((t1 == 0).nonzero()[0, 0])
for col, (freq, point, adv, title) in enumerate(
    [(freq_nat, x1[0], None, f"natural test image {one_idx} (class 1)"),
     (freq_adv[zero], x1_adv[zero], 0, "its IGSM adversarial example targeted at 0")]
):
    ax = fig.add_subplot(grid[0, col * len(sample_sigmas) : (col + 1) * len(sample_sigmas)])
    class_frequency_curves(ax, sigmas.numpy(), freq, natural=1, adversarial=adv)
    ax.set_title(title, fontsize=9)
    noise_gen = torch.Generator().manual_seed(seed + 2)
    for j, s in enumerate(sample_sigmas):
        sub = fig.add_subplot(grid[1, col * len(sample_sigmas) + j])
        sample = (point + s * torch.randn(point.shape, generator=noise_gen)).clamp(0, 1)
        sub.imshow(sample[0].numpy(), cmap="gray", vmin=0, vmax=1)
        sub.set_title(rf"$\sigma$={s:g}", fontsize=7)
        sub.axis("off")
fig.suptitle(f"ANX-F9: class frequencies of {freq_samples} Gaussian samples per sigma ({model_name})", fontsize=10)
fig.tight_layout()
plt.show()

half_nat = first_sigma_below(sigmas, freq_nat[:, 1])
half_adv = [first_sigma_below(sigmas, f[:, int(t)]) for f, t in zip(freq_adv, t1)]
metrics.value("f9_one_index", one_idx)
metrics.value("f9_targets_reached", int(ok1.sum()))
metrics.value("f9_sigma_half_natural", half_nat)
metrics.value("f9_sigma_half_adversarial_0", half_adv[zero])
metrics.claim("ANX-F9", "natural_stable_adversarial_not", holds=bool(ok1[zero] and half_adv[zero] < half_nat),
              evidence=f"first sigma at which the own class falls below half of the samples: natural 1 "
              f"{half_nat:.3f}, adversarial 0 {half_adv[zero]:.3f} (grid step {sigma_max / n_sigmas:.3f})")
metrics.item("ANX-F9", "reproduced", data="MNIST", note=f"{model_name}, IGSM early_stop={igsm_early_stop}")

# %% [markdown]
# The 1 keeps a majority of its samples up to $\sigma \approx$ {glue:text}`f9_sigma_half_natural:.2f`;
# its adversarial example loses the majority for class 0 already at
# {glue:text}`f9_sigma_half_adversarial_0:.2f`.
#
# ## Figure 13: the other eight targets

# %%
others = [i for i in range(len(t1)) if int(t1[i]) != 0]
fig, axes = plt.subplots(2, 4, figsize=(12, 5.2), sharey=True)
for ax, i in zip(axes.flat, others):
    class_frequency_curves(ax, sigmas.numpy(), freq_adv[i], natural=1, adversarial=int(t1[i]), legend=False)
    ax.set_title(f"target {int(t1[i])}" + ("" if ok1[i] else " (attack failed)") + f": half at {half_adv[i]:.2f}",
                 fontsize=8)
    ax.axvline(half_nat, color="black", ls=":", lw=0.8)
fig.suptitle(f"ANX-F13: adversarial examples of test image {one_idx} targeted at 2..9; dotted: where the natural 1 "
             f"falls below half ({half_nat:.2f}); red: adversarial class, black: class 1", fontsize=9)
fig.tight_layout()
plt.show()
falls = [half_adv[i] < half_nat for i in others if ok1[i]]
metrics.value("f13_targets_falling_first", int(sum(falls)))
metrics.value("f13_targets", len(others))
metrics.claim("ANX-F13", "adversarial_class_falls_off_quickly", holds=bool(len(falls) == len(others) and all(falls)),
              evidence=f"{sum(falls)} of {len(others)} adversarial examples lose their class majority before the natural "
              f"1 does (sigmas {', '.join(f'{half_adv[i]:.2f}' for i in others)} vs {half_nat:.2f})")
metrics.item("ANX-F13", "reproduced", data="MNIST", note=f"{model_name}")

# %% [markdown]
# ## Figure 10: persistence of 1,800 natural and 1,800 adversarial images
#
# `n_images` test images, drawn at random among those classified correctly, are attacked towards their
# nine other classes; `n_natural` other random test images are the natural sample. The
# 0.7-persistence of every image is estimated in one batched call per group.

# %%
perm = torch.randperm(len(y_test), generator=torch.Generator().manual_seed(seed + 3))
right = correctly_classified(model, x_test[perm], y_test[perm])
attacked = perm[right[:n_images]]
natural = perm[right[n_images : n_images + n_natural]] if len(right) >= n_images + n_natural else perm[-n_natural:]
xa, ya, ta = every_other_target(x_test[attacked], y_test[attacked])
t0 = time.perf_counter()
xa_adv = igsm(xa.to(dev), ta.to(dev)).cpu()
attack_seconds = time.perf_counter() - t0
ok = succeeded(model, xa_adv, ta, targeted=True)
pgen = seeded_generator(seed + 4, dev)
t0 = time.perf_counter()
p_nat = persistence(model, x_test[natural].to(dev), gamma=gamma, n_samples=persistence_samples, generator=pgen).cpu().numpy()
p_adv = persistence(model, xa_adv[ok].to(dev), gamma=gamma, n_samples=persistence_samples, generator=pgen).cpu().numpy()
persistence_seconds = time.perf_counter() - t0
dist = distortion(xa, xa_adv)[ok].numpy()

fig, ax = plt.subplots(figsize=(6.5, 3.8))
hi = float(np.quantile(np.concatenate([p_nat, p_adv]), 0.995))
bins = np.linspace(0, hi, 60)
ax.hist(p_nat, bins=bins, color="tab:blue", alpha=0.6, label=f"natural ({len(p_nat)})")
ax.hist(p_adv, bins=bins, color="tab:red", alpha=0.6, label=f"IGSM adversarial ({len(p_adv)})")
ax.set_xlabel(f"{gamma}-persistence")
ax.set_ylabel("images")
ax.set_title(f"ANX-F10: {model_name}, IGSM eps={igsm_eps}, alpha={igsm_alpha}, early stop {igsm_early_stop}", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

test = mannwhitneyu(p_adv, p_nat, alternative="less")
metrics.value("f10_attack_success_rate", float(ok.float().mean()))
metrics.value("f10_adversarial", int(ok.sum()))
metrics.value("f10_natural", len(p_nat))
metrics.value("f10_mean_distortion", float(dist.mean()))
metrics.value("f10_median_natural", float(np.median(p_nat)))
metrics.value("f10_median_adversarial", float(np.median(p_adv)))
metrics.value("f10_mean_natural", float(np.mean(p_nat)))
metrics.value("f10_mean_adversarial", float(np.mean(p_adv)))
metrics.value("f10_mannwhitney_p", float(test.pvalue))
metrics.value("f10_seconds_per_persistence", persistence_seconds / (len(p_nat) + len(p_adv)))
metrics.value("f10_seconds_per_attack", attack_seconds / len(ok))
display(
    comparison_table(
        [
            {"quantity": "adversarial examples", "paper": paper_value("ANX-F10", "adversarial_examples"), "here": int(ok.sum())},
            {"quantity": "natural images", "paper": paper_value("ANX-F10", "natural_examples"), "here": len(p_nat)},
            {"quantity": "median persistence, natural", "paper": None, "here": float(np.median(p_nat))},
            {"quantity": "median persistence, adversarial", "paper": None, "here": float(np.median(p_adv))},
        ]
    ).style.format("{:.3f}", subset=["here"]).format("{:.0f}", subset=["paper"], na_rep="(histogram only)").format(
        "{:+.1%}", subset=["relative difference"], na_rep="–")
)
metrics.claim("ANX-F10", "adversarial_less_persistent",
              holds=bool(np.median(p_adv) < np.median(p_nat) and test.pvalue < 0.01),
              evidence=f"median {np.median(p_adv):.3f} (adversarial) vs {np.median(p_nat):.3f} (natural); one-sided "
              f"Mann-Whitney p = {test.pvalue:.1e} (criterion: smaller median and p < 0.01); attack success "
              f"{float(ok.float().mean()):.1%}")
metrics.item("ANX-F10", "reproduced", data="MNIST",
             note=f"{len(p_nat)} natural, {int(ok.sum())} adversarial; IGSM early_stop={igsm_early_stop}")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# IGSM reached its target for {glue:text}`f10_attack_success_rate:.1%` of the attempts, with mean
# distortion {glue:text}`f10_mean_distortion:.3f`. The median 0.7-persistence is
# {glue:text}`f10_median_natural:.3f` for natural images and {glue:text}`f10_median_adversarial:.3f` for
# adversarial ones. Persistence took {glue:text}`f10_seconds_per_persistence:.3f` s per image here.
#
# ## Persistence along the path from a natural image to its adversarial examples
#
# The thesis shows for ImageNet (Figure 12) that persistence drops where the straight path from a
# natural image to its adversarial example crosses the decision boundary. Here the same is done for
# the 1 of Figure 9 and its nine adversarial examples: `path_points` equally spaced points on each
# path, each point's persistence measured for its own predicted class.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
cmap = plt.get_cmap("tab10")
drops = []
for i in range(len(t1)):
    if not ok1[i]:
        continue
    t, p, cls = persistence_along_path(model, x1[i : i + 1].to(dev), x1_adv[i : i + 1].to(dev), n_points=path_points,
                                       gamma=gamma, n_samples=persistence_samples, generator=pgen)
    t, p, cls = t.cpu().numpy(), p.cpu().numpy(), cls.cpu().numpy()
    ax.plot(t, p, color=cmap(int(t1[i])), lw=1.2, label=f"→ {int(t1[i])}")
    cross = int(np.argmax(cls != cls[0])) if (cls != cls[0]).any() else len(cls) - 1
    ax.plot(t[cross], p[cross], "o", color=cmap(int(t1[i])), ms=4)
    drops.append(p[-1] / p[0])
ax.set_xlabel("position on the path (0: natural, 1: adversarial)")
ax.set_ylabel(f"{gamma}-persistence")
ax.set_title(f"persistence along the paths from test image {one_idx} (dots: first point in another class)", fontsize=9)
ax.legend(fontsize=7, ncol=3)
fig.tight_layout()
plt.show()
metrics.value("path_median_end_over_start", float(np.median(drops)) if drops else float("nan"))

# %% [markdown]
# At the adversarial end the persistence is a median {glue:text}`path_median_end_over_start:.2f` times
# its value at the natural image.
#
# ## What the attack's stopping rule does
#
# Persistence measures how far a point sits from the boundary of its class, so it depends on how far
# the attack goes past that boundary. The table attacks the first `compare_images` images of the
# Figure 10 sample twice with the same budget: stopping each image at its target (early stop), and
# running all `igsm_steps` steps as torchattacks' BIM does.

# %%
if compare_images:
    xc, yc, tc = every_other_target(x_test[attacked[:compare_images]], y_test[attacked[:compare_images]])
    rows = []
    for early in (True, False):
        atk = BIM(model, eps=igsm_eps, alpha=igsm_alpha, steps=igsm_steps, targeted=True, early_stop=early)
        xc_adv = atk(xc.to(dev), tc.to(dev)).cpu()
        okc = succeeded(model, xc_adv, tc, targeted=True)
        pc = persistence(model, xc_adv[okc].to(dev), gamma=gamma, n_samples=persistence_samples, generator=pgen).cpu()
        rows.append({"IGSM": "stop at target" if early else f"all {igsm_steps} steps",
                     "success rate": float(okc.float().mean()),
                     "mean distortion": float(distortion(xc, xc_adv)[okc].mean()),
                     "median persistence (adversarial)": float(pc.median()),
                     "median persistence (natural, Figure 10)": float(np.median(p_nat))})
    compare = pd.DataFrame(rows)
    display(compare.style.format({"success rate": "{:.1%}", "mean distortion": "{:.3f}",
                                  "median persistence (adversarial)": "{:.3f}",
                                  "median persistence (natural, Figure 10)": "{:.3f}"}).hide(axis="index"))
    metrics.value("compare_median_early", float(compare.iloc[0]["median persistence (adversarial)"]))
    metrics.value("compare_median_full", float(compare.iloc[1]["median persistence (adversarial)"]))
else:
    metrics.value("compare_median_early", float("nan"))
    metrics.value("compare_median_full", float("nan"))

# %%
early, full, nat = (metrics.values["compare_median_early"], metrics.values["compare_median_full"],
                    metrics.values["f10_median_natural"])
if compare_images:
    if full >= nat:
        outcome = "pushed through every step they become at least as persistent as natural images"
    elif full > early:
        outcome = "pushed through every step they become more persistent, though still less than natural images"
    else:
        outcome = "running every step does not make them more persistent"
    display(Markdown(
        f"Stopped at their targets, the adversarial examples have a median persistence of {early:.3f}; "
        f"with all {igsm_steps} steps, {full:.3f}; natural images, {nat:.3f}. So {outcome}. The thesis' "
        "comparison is therefore a statement about adversarial examples near the decision boundary, the "
        "kind a minimal attack produces, and the attack's stopping rule is part of the experiment."
    ))

# %%
metrics.save();
