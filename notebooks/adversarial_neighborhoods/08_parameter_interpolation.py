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
# # From the initial to the trained weights in a straight line
#
# In the discussion of Part II, Bell {cite}`bell_neighborhoods` argues that the kernel view makes
# training mostly a change of *direction* in weight space, and supports it with Figure 24: the weights of
# a convolutional network are moved along the straight line $w(t) = w_0 + t\,(w_1 - w_0)$ from their random
# start $w_0$ to the trained $w_1$, and along the line the accuracy, the loss, the weights' L2 norm and the
# component of the aggregated gradient along the line's direction are recorded. The thesis reports that
# the norm changes monotonically and by only {glue:text}`paper_norm_low:.0%`–{glue:text}`paper_norm_high:.0%`.
#
# The thesis does not name the network; here it is a zoo CNN of the C-Ch family of Part I (four 5 × 5
# convolutions, max pooling, a 256-unit layer; the profile picks the width), whose initial weights are
# rebuilt exactly from its training seed ({func}`nngeom.core.zoo.initial`). "The aggregated gradient" is read as
# the gradient of the mean cross-entropy over the evaluation images, so its component along the unit
# direction is the slope of the loss curve per unit of weight distance
# ({func}`nngeom.adversarial_neighborhoods.kernels.parameter_interpolation`).

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # draws the evaluation images
device = "auto"              # "auto", "cpu" or "cuda"
network = "mnist-c-4"        # a zoo CNN (trained by the workflow)
n_eval = 5000                # training images the quantities are evaluated on
n_t = 41                     # points on the line, t in [0, 1]
rise_tolerance = 0.01        # a rise of the loss (fall of the accuracy) between neighbouring points smaller than
                             # this share of the total change along the line is not counted against "falls" ("rises")

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from nngeom.adversarial_neighborhoods.kernels import parameter_interpolation
from nngeom.book.notebook import start_page
from nngeom.book.report import paper_value, verdict_markdown
from nngeom.core import data, stats, zoo
from nngeom.core.validation import check_positive, check_positive_int

n_eval = check_positive_int("n_eval", n_eval)
n_t = check_positive_int("n_t", n_t)
if n_t < 3:
    raise ValueError("parameter 'n_t' must be at least 3")
rise_tolerance = check_positive("rise_tolerance", rise_tolerance)
dev, metrics = start_page("notebooks/adversarial_neighborhoods/08_parameter_interpolation", profile, metrics_path, seed=seed,
                          device=device, data="MNIST")
trained = zoo.load(network, profile=profile, device=dev)
start = zoo.initial(network, profile=profile, device=dev)
display(Markdown(zoo.describe(trained)))
s = zoo.spec(network, profile)
x_train, y_train = data.tensors(s.dataset, "train", value_range=s.value_range, flatten=s.flatten)
pick = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))[:n_eval]
x, y = x_train[pick].to(dev), y_train[pick].to(dev)
metrics.value("n_eval", n_eval)
metrics.value("n_t", n_t)
metrics.value("rise_tolerance", rise_tolerance)
paper_low, paper_high = paper_value("ANX-F24", "norm_change_low"), paper_value("ANX-F24", "norm_change_high")
metrics.value("paper_norm_low", paper_low)
metrics.value("paper_norm_high", paper_high);

# %% [markdown]
# ## Figure 24
#
# {glue:text}`n_t` points on the line, quantities over {glue:text}`n_eval` training images.

# %%
t = np.linspace(0, 1, n_t)
path = parameter_interpolation(start, trained, x, y, t, loss="cross_entropy", per_sample=True)
norm = path.weight_norm.numpy()
change = float((norm[-1] - norm[0]) / norm[0])
monotone = bool(np.all(np.diff(norm) >= 0) or np.all(np.diff(norm) <= 0))
# how much of the move is a change of direction: the angle between w0 and w1 (law of cosines)
cos_w = float((norm[0] ** 2 + norm[-1] ** 2 - path.distance ** 2) / (2 * norm[0] * norm[-1]))
metrics.value("angle_degrees", float(np.degrees(np.arccos(np.clip(cos_w, -1, 1)))))
metrics.value("norm_share_of_distance", float(abs(norm[-1] - norm[0]) / path.distance))
for name, v in (("accuracy_start", path.accuracy[0]), ("accuracy_end", path.accuracy[-1]), ("loss_start", path.loss[0]),
                ("loss_end", path.loss[-1]), ("norm_start", norm[0]), ("norm_end", norm[-1])):
    metrics.value(name, float(v))
metrics.value("norm_relative_change", change)
metrics.value("distance", path.distance)
fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
ax.plot(t, path.accuracy, color="tab:blue", label="accuracy")
ax.plot(t, path.loss / path.loss.max(), color="tab:red", label=f"loss / {float(path.loss.max()):.2f}")
ax.plot(t, norm / norm.max(), color="tab:red", ls="--", label=f"L2 norm / {norm.max():.1f}")
ax.set_xlabel("t  (w = w0 + t (w1 - w0))")
ax.set_ylim(0, 1.05)
ax2 = ax.twinx()
ax2.plot(t, path.projection, color="tab:blue", ls=":", label="gradient along the line")
ax2.axhline(0, color="0.7", lw=0.6)
ax2.set_ylabel("loss gradient along the unit direction")
ax2.grid(False)
h1, l1 = ax.get_legend_handles_labels()
h2, l2 = ax2.get_legend_handles_labels()
ax.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
ax.set_title(f"{network}: |w1 - w0| = {path.distance:.1f}, norm {norm[0]:.1f} → {norm[-1]:.1f} ({100 * change:+.0f} %)")
plt.show()

# %% [markdown]
# The weights end {glue:text}`angle_degrees:.0f` degrees away from where they started; the change of
# norm accounts for {glue:text}`norm_share_of_distance:.0%` of the distance {glue:text}`distance:.1f`
# between $w_0$ and $w_1$.
#
# ## The thesis' claims, tested
#
# | claim | the thesis | criterion (ours) |
# |---|---|---|
# | the norm changes little | monotone, by only {glue:text}`paper_norm_low:.0%`–{glue:text}`paper_norm_high:.0%` | the norm is a function of the weights alone (no sampling): holds if it is monotone along the line and its relative change is at most the thesis' upper end, {glue:text}`paper_norm_high:.0%`; fails otherwise |
# | loss falls, accuracy rises | along the line, towards the trained model's | over the {glue:text}`n_eval` images, paired intervals of the change between neighbouring points (Bonferroni over the {glue:text}`n_t` − 1 segments, 95 % jointly) and of the change from end to end (95 %): holds if the loss falls and the accuracy rises from end to end and no segment's interval shows a rise of the loss (fall of the accuracy) of {glue:text}`rise_tolerance:.0%` of the total change or more; fails if the change from end to end goes the wrong way or some segment's interval lies wholly beyond that tolerance; undecided otherwise |
#
# The thesis states the norm change for training in general and shows it along the line; it is measured
# along the line here. The tolerance of {glue:text}`rise_tolerance:.0%` is ours: the curves in the thesis'
# figure flatten near the trained end, where neighbouring points differ by less than the sampling error.

# %%
in_band = bool(paper_low <= abs(change) <= paper_high)
metrics.value("norm_change_in_paper_band", in_band)
metrics.claim("ANX-F24", "norm_changes_little",
              holds=stats.exact(bool(monotone and abs(change) <= paper_high),
                                f"monotone along {n_t} points and |relative change| vs {paper_high:g}", effect=change,
                                criterion=f"holds if the norm is monotone and changes by at most {paper_high:.0%}"),
              evidence=f"norm {norm[0]:.2f} -> {norm[-1]:.2f} ({100 * change:+.1f} %), "
                       f"{'monotone' if monotone else 'not monotone'} along the line; "
                       f"{'inside' if in_band else 'outside'} the thesis' {paper_low:.0%}-{paper_high:.0%}")
L = path.per_sample_loss.double()
C = path.per_sample_correct.double()
loss_trend = stats.trend_along(L, "falls", rise_tolerance)
acc_trend = stats.trend_along(C, "rises", rise_tolerance)
overall = stats.all_of([loss_trend.ends, acc_trend.ends, *loss_trend.segments, *acc_trend.segments])
worst = loss_trend.worst
(loss_hold, loss_open, loss_fail), (acc_hold, acc_open, acc_fail) = loss_trend.counts(), acc_trend.counts()
test = (f"loss: end to end {loss_trend.ends.outcome}, segments {loss_hold} hold / {loss_open} undecided / {loss_fail} fail "
        f"(tolerated rise {loss_trend.tolerance:.3g}); accuracy: end to end {acc_trend.ends.outcome}, segments "
        f"{acc_hold} / {acc_open} / {acc_fail} (tolerated fall {acc_trend.tolerance:.3g}); "
        f"paired intervals over {n_eval} images, Bonferroni over {n_t - 1} segments")
decision = stats.Decision(overall.holds, test, effect=worst.effect, low=worst.low, high=worst.high,
                          criterion="holds if loss falls and accuracy rises end to end and no segment shows a rise of the loss "
                                    f"(fall of the accuracy) of {rise_tolerance:.0%} of the total change or more; fails if one "
                                    "does or the ends go the wrong way; undecided otherwise")
loss_mono = bool(np.all(np.diff(path.loss.numpy()) <= 0))
acc_mono = bool(np.all(np.diff(path.accuracy.numpy()) >= 0))
metrics.claim("ANX-F24", "loss_falls_accuracy_rises", holds=decision,
              evidence=f"loss {float(path.loss[0]):.3f} -> {float(path.loss[-1]):.3f} ({'monotone' if loss_mono else 'not monotone'}"
                       f" point to point), accuracy {100 * float(path.accuracy[0]):.1f} % -> {100 * float(path.accuracy[-1]):.1f} % "
                       f"({'monotone' if acc_mono else 'not monotone'}); largest segment rise of the loss {worst.effect:.3g} "
                       f"[{worst.low:.3g}, {worst.high:.3g}]")
metrics.item("ANX-F24", "MNIST", note=f"{network}, {n_t} points on the line, {n_eval} training images")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# ```{admonition} What we did differently
# - **The network is ours.** The thesis does not name the CNN of Figure 24; this page uses a C-Ch network
#   of Part I from the zoo (the profile picks its width), evaluated on {glue:text}`n_eval` training images.
# - **"The aggregated gradient"** is read as the gradient of the mean cross-entropy over the evaluation
#   images; the thesis does not say which loss or how it is aggregated.
# ```

# %%
metrics.save();
