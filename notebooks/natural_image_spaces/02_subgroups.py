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
# # Which training samples matter: retraining on subgroups (Table 1)
#
# Fan and Yezzi {cite}`fan2018natural` (Sections 4.1-4.2, NIS-T1) take a network trained until just
# before it over-fits and sort its training samples in two ways. Those it classifies correctly are ranked
# by their largest softmax probability, the *confidence*; those it misclassifies by the same number, which
# for a wrong class the paper calls *illusiveness*. From the ends of the two rankings come four subgroups —
# high and low confidence ($S_{hc}$, $S_{lc}$), high and low illusiveness ($S_{hi}$, $S_{li}$) — and a network
# is retrained from scratch on each union of a confident and a misclassified subgroup, at three sizes $p$,
# and on everything ($S^1$), {glue:text}`paper_runs:.0f` runs each. A second half of the table repeats this with an
# extra class of uniform noise, five times as many noise images as natural ones (eq. 1), which the paper
# reports makes the networks more accurate and more decisive.
#
# The paper names a percentage $p$ without saying of what, and that all subgroups of a row have one size;
# we take $k = p\,\%$ of the misclassified samples from each ranking (see
# {mod}`nngeom.natural_image_spaces.subgroups`). It gives no architecture or schedule for the base network,
# only that its training was ended "before over-fitting": ours is the all-convolutional network of its
# Table 2 trained as there, stopped early on a held-out split (the last 5,000 training images; training ends
# when their accuracy has not risen for 3 epochs, and the best epoch's weights are kept). The retraining
# runs last the short setting of Table 2, 6 epochs each.
#
# **Data.** CIFAR-10 when it is under the data root; otherwise the same study on **Fashion-MNIST as a
# stand-in**, and then every caption and verdict says so.

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # run r of every training set is seeded with seed + r
device = "auto"              # "auto", "cpu" or "cuda"
dataset = "auto"             # "auto" (CIFAR-10 if present, else the Fashion-MNIST stand-in), "cifar10", "fashion-mnist"
model_width = 8              # base filters of the all-convolutional net on the stand-in: 8 (CPU) or 64 (the paper's)
ranked_limit = 3000          # the first this many training images are ranked and retrained on (0: all)
test_limit = 0               # test images used (0: all)
percents = [25, 50, 75]      # the subgroup sizes p of Table 1
runs = 5                     # training runs per row (the paper: 50)
epochs = 6                   # epochs of every retraining (Table 2's short setting)
batch_size = 128             # batch size of the retraining (noise images come on top)
lr = 1e-3                    # Adam's step size
noise_ratio = 5              # noise images per natural image in the noise half
workers = 2                  # processes that retrain at once, one thread each (1 on a GPU)
alpha = 0.05                 # level of every test (Bonferroni-corrected where a claim makes several)
margin = 1.0                 # accuracy points within which "not worse" counts (non-inferiority)

# %% tags=["hide-input"]
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from nngeom.book.pages.natural_image_spaces import open_natural_image_page
from nngeom.book.report import paper_scale, reference, verdict_markdown
from nngeom.core import stats, zoo
from nngeom.core.validation import check_in_open_interval, check_positive, check_positive_int
from nngeom.natural_image_spaces.studies import ALL_SET, retrain_on_subsets, table1_summary, table1_training_sets
from nngeom.natural_image_spaces.subgroups import rank_samples

for _name in ("runs", "epochs", "batch_size", "noise_ratio", "workers"):
    check_positive_int(_name, globals()[_name])
check_positive("lr", lr)
check_positive("margin", margin)
if not percents or any(not 0 < p < 100 for p in percents) or list(percents) != sorted(set(percents)):
    raise ValueError(f"parameter 'percents' must be increasing percentages in (0, 100), got {percents!r}")
check_in_open_interval("alpha", alpha, 0.0, 0.5)
nis = open_natural_image_page("notebooks/natural_image_spaces/02_subgroups", profile, metrics_path, seed=seed,
                              device=device, dataset=dataset, model_width=model_width, train_limit=ranked_limit,
                              test_limit=test_limit)
metrics, dev, spec, label = nis.metrics, nis.device, nis.spec, nis.label
x_train, y_train, x_test, y_test = nis.x_train, nis.y_train, nis.x_test, nis.y_test
base = zoo.load(nis.model_name, profile=profile, device=dev)
metrics.value("paper_runs", paper_scale("NIS-T1")["runs"])
for _name in ("runs", "epochs", "alpha", "margin"):
    metrics.value(_name, globals()[_name])
metrics.value("base_test_accuracy", 100 * base.nngeom_meta["test_accuracy"]);

# %% [markdown]
# ## The base network and its rankings
#
# The base network's probabilities on the ranked training images give the two rankings; the subgroups
# are taken from their ends.

# %%
with torch.no_grad():
    probs = torch.cat([torch.softmax(base(c.to(dev)), 1).cpu() for c in x_train.split(1024)])
ranking = rank_samples(probs, y_train)
sets = table1_training_sets(ranking, percents)
n_mis = len(ranking.by_illusiveness)
metrics.value("n_ranked", len(y_train))
metrics.value("n_misclassified", n_mis)
display(Markdown(f"- **base network**: {zoo.describe(base)}\n- **ranked**: {len(y_train):,} training images, "
                 f"{len(y_train) - n_mis:,} classified correctly and {n_mis:,} misclassified (the paper ranked all "
                 f"50,000 of CIFAR-10); each subgroup of size p holds p % of the {n_mis:,} misclassified"))

# %% [markdown]
# ## Retraining on every row, without and with the noise class
#
# Each row trains {glue:text}`runs` fresh networks of the base architecture for
# {glue:text}`epochs` epochs; with the noise class the network has one more output and every batch carries
# {glue:text}`noise_ratio` noise images per natural one. Every result is kept beside the base model, so an
# interrupted run resumes.

# %%
metrics.value("noise_ratio", noise_ratio)
records = retrain_on_subsets(
    nis.build,
    (x_train, y_train), (x_test, y_test), sets, n_classes=len(nis.classes), runs=runs, epochs=epochs,
    batch_size=batch_size, lr=lr, noise_ratio=noise_ratio, value_range=spec.value_range, seed=seed, device=dev,
    workers=workers, cache_dir=zoo.entry_dir(spec) / "table1",
    recipe={"base": spec.key(), "ranked": len(y_train), "test": len(y_test)})
summary = pd.DataFrame(table1_summary(records))
per_run = pd.DataFrame(records)


def runs_of(name, noise, column="A"):
    """The per-run values of one row's column (accuracies in %)."""
    rows = per_run[(per_run.training_set == name) & (per_run.noise == noise)].sort_values("run")
    return torch.tensor(rows[column].to_numpy() * (100 if column != "N" else 1), dtype=torch.float64)

# %% [markdown]
# ## Table 1, ours beside the paper's
#
# A is the mean test accuracy, $\sigma_A$ its spread over the runs, $P_c$ the mean confidence of the
# correctly classified test images, $P_i$ the mean illusiveness of the misclassified ones, $P_g$ the mean
# probability the misclassified give their true class (all in %), and N the mean number of test images
# taken for noise.

# %% tags=["hide-input"]
paper_rows = {(r["training_set"].replace(" ∪ noise", ""), r["noise"]): r for r in reference("NIS")["NIS-T1"]["rows"]}
cols = ["A", "sigma_A", "P_c", "P_i", "P_g", "N"]
table = []
for _, row in summary.sort_values("noise", kind="stable").iterrows():  # the paper's order: no noise, then noise
    paper = paper_rows.get((row.training_set, row.noise), {})
    ours = {c: row[c] if c != "N" or row.noise else math.nan for c in cols}  # N: only with the noise class
    table.append({"training set": row.training_set + (" ∪ noise" if row.noise else ""), "noise": row.noise,
                  "n": row.n_train, **{k: v for c in cols for k, v in ((c, ours[c]), (f"{c} (paper)", paper.get(c, math.nan)))}})
table = pd.DataFrame(table).set_index("training set")
display(table.drop(columns="noise").style.format("{:.2f}", na_rep="–").format("{:,.0f}", subset=["n"]).set_caption(
    label(f"NIS-T1: retraining on subgroups, {runs} runs per row (the paper: 50); {len(y_train):,} ranked images")))

# %% tags=["hide-input"]
def tick(name):
    """A row's name in math text: "S_hc^25 ∪ S_li^25" -> $S_{hc}^{25} \\cup S_{li}^{25}$."""
    if name == ALL_SET:
        return "$S^1$"
    (a, p), (b, _) = [part.strip()[2:].split("^") for part in name.split("∪")]
    return f"$S_{{{a}}}^{{{p}}} \\cup S_{{{b}}}^{{{p}}}$"


fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharey=True, layout="constrained")
for ax, noise in zip(axes, [False, True]):
    part = table[table.noise == noise]
    pos = np.arange(len(part))
    ax.bar(pos - 0.2, part["A"], 0.4, yerr=part["sigma_A"], label="ours (mean, sd over runs)", color="tab:blue")
    ax.bar(pos + 0.2, part["A (paper)"], 0.4, label="paper (CIFAR-10, 50 runs)", color="tab:gray")
    ax.set_xticks(pos, [tick(n.replace(" ∪ noise", "")) for n in part.index], fontsize=8)
    ax.set(ylabel="test accuracy, %", title="with the noise class" if noise else "without the noise class")
axes[0].legend(fontsize=8, loc="upper left")
fig.suptitle(label("NIS-T1: test accuracy of every training set"))
plt.show()

# %% [markdown]
# ## The claims
#
# Every comparison is between the per-run values of two rows, by Welch's $t$ interval
# ({func}`nngeom.core.stats.run_mean_difference`), at level {glue:text}`alpha` shared out (Bonferroni) over
# the comparisons a claim makes; with {glue:text}`runs` runs per row these intervals are wide, and a claim
# the runs cannot resolve is undecided.
#
# | claim | paper | test |
# |---|---|---|
# | more data not always better | a larger set can give a lower accuracy (e.g. $S_{hc}^{25} \cup S_{li}^{25}$ 53.61 % against $S_{lc}^{50} \cup S_{hi}^{50}$ 41.07 %) | at each step up in size, that pattern: the smaller size's $S_{hc} \cup S_{li}$ against the larger size's $S_{lc} \cup S_{hi}$ (and the largest $S_{hc} \cup S_{li}$ against $S^1$): holds if some larger set is significantly less accurate, does not hold if every one is significantly more accurate |
# | high confidence needed | $S_{hc}$ rows beat $S_{lc}$ rows, most at small $p$ | at every $p$, $S_{hc} \cup S_x$ against $S_{lc} \cup S_x$ for both $x$: holds if all are significantly more accurate, does not hold if any is significantly less |
# | illusive harmful small, helpful large | $S_{hi}$ hurts at small $p$, not at large $p$ | smallest $p$: $S_{hc} \cup S_{li}$ significantly above $S_{hc} \cup S_{hi}$; largest $p$: $S_{hc} \cup S_{hi}$ not worse than $S_{hc} \cup S_{li}$ by {glue:text}`margin` points (non-inferiority); both must hold |
# | $S_{hc} \cup S_{li}$ decisive | higher $P_c$ and $P_i$ than $S_{lc} \cup S_{hi}$, which gives the true class more ($P_g$) | at every $p$, all three differences significant in the paper's direction |
# | noise raises accuracy | all: 74.67 % → 75.29 % | $S^1$ with noise against $S^1$ without |
# | noise misclassification vanishes | N falls as the natural set grows | N of the smallest rows (mean of the four) against N of $S^1$ with noise: holds if significantly larger |
# | noise more decisive | higher $P_c$ and $P_g$ with noise | per run, the mean over the rows of (with noise − without) for $P_c$ and for $P_g$: both intervals above 0 |

# %%
def compare(a, b, n_tests, claim="greater"):
    """Decision on mean(a) - mean(b) (> 0 for "greater"), Welch's t interval at alpha / n_tests."""
    d = stats.run_mean_difference(a, b, confidence=1 - alpha / n_tests)
    decide = stats.interval_above if claim == "greater" else stats.interval_below
    return decide(d["difference"], d["low"], d["high"], 0.0, f"Welch t, {1 - alpha / n_tests:.4f} interval")


def row(a, b, p):
    return f"S_{a}^{p:g} ∪ S_{b}^{p:g}"


# the paper's own example of the claim, at each step up in size: the best row of one size (S_hc ∪ S_li)
# against the worst of the next (S_lc ∪ S_hi)
steps = [(row("hc", "li", p), row("lc", "hi", q)) for p, q in zip(percents, percents[1:])]
steps.append((row("hc", "li", percents[-1]), ALL_SET))
reversed_ = [compare(runs_of(big, False), runs_of(small, False), len(steps), "less") for small, big in steps]
better = [compare(runs_of(big, False), runs_of(small, False), len(steps)) for small, big in steps]
metrics.claim("NIS-T1", "more_data_not_always_better",
              holds=True if any(d.holds for d in reversed_) else (False if all(d.holds for d in better) else None),
              evidence="; ".join(f"{small} {float(runs_of(small, False).mean()):.1f} % vs {big} {float(runs_of(big, False).mean()):.1f} %"
                                 for small, big in steps),
              criterion="at each step up in size, the smaller size's S_hc ∪ S_li against the larger size's S_lc ∪ S_hi "
                        "(Welch t, Bonferroni over the steps): holds if some larger set is significantly less accurate, "
                        "fails if every one is significantly more accurate")

# %%
hc_vs_lc = [compare(runs_of(row("hc", x, p), False), runs_of(row("lc", x, p), False), 2 * len(percents))
            for p in percents for x in ("li", "hi")]
gaps = [f"p = {p:g}: " + ", ".join(f"{float(runs_of(row('hc', x, p), False).mean() - runs_of(row('lc', x, p), False).mean()):+.1f}"
                                    for x in ("li", "hi")) for p in percents]
metrics.claim("NIS-T1", "high_confidence_needed", holds=stats.all_of(hc_vs_lc, name="hc-vs-lc comparisons"),
              evidence="accuracy of S_hc rows minus S_lc rows (same misclassified part), points: " + "; ".join(gaps))
if len(percents) >= 2:
    small = compare(runs_of(row("hc", "li", percents[0]), False), runs_of(row("hc", "hi", percents[0]), False), 2)
    d_large = stats.run_mean_difference(runs_of(row("hc", "li", percents[-1]), False),
                                        runs_of(row("hc", "hi", percents[-1]), False), confidence=1 - alpha)
    large = stats.non_inferior(d_large["difference"], d_large["low"], d_large["high"], margin,
                               f"Welch t, {1 - alpha:.2f} interval of li minus hi at p = {percents[-1]:g}")
    illusive = stats.all_of([small, large], name="conditions")
else:
    illusive = stats.Decision(None, "needs at least two sizes p", criterion="two sizes p are needed")
metrics.claim("NIS-T1", "illusive_harmful_small_helpful_large", holds=illusive,
              evidence="S_hc ∪ S_li minus S_hc ∪ S_hi: " + ", ".join(
                  f"p = {p:g} {float(runs_of(row('hc', 'li', p), False).mean() - runs_of(row('hc', 'hi', p), False).mean()):+.2f}"
                  for p in percents) + " points")

# %%
decisive = []
for p in percents:
    for column, direction in (("P_c", "greater"), ("P_i", "greater"), ("P_g", "less")):
        decisive.append(compare(runs_of(row("hc", "li", p), False, column), runs_of(row("lc", "hi", p), False, column),
                                3 * len(percents), direction))
metrics.claim("NIS-T1", "hc_li_decisive", holds=stats.all_of(decisive, name="comparisons"),
              evidence="; ".join(f"p = {p:g}: " + ", ".join(
                  f"{c} {float(runs_of(row('hc', 'li', p), False, c).mean()):.1f} vs {float(runs_of(row('lc', 'hi', p), False, c).mean()):.1f}"
                  for c in ("P_c", "P_i", "P_g")) for p in percents) + " (S_hc ∪ S_li vs S_lc ∪ S_hi, %)")
noise_gain = compare(runs_of(ALL_SET, True), runs_of(ALL_SET, False), 1)
metrics.claim("NIS-T1", "noise_class_raises_accuracy", holds=noise_gain,
              evidence=f"S^1: {float(runs_of(ALL_SET, False).mean()):.2f} % without, {float(runs_of(ALL_SET, True).mean()):.2f} % "
                       "with the noise class")
smallest = torch.stack([runs_of(row(a, b, percents[0]), True, "N") for a in ("lc", "hc") for b in ("li", "hi")]).mean(0)
metrics.claim("NIS-T1", "noise_misclassification_vanishes", holds=compare(smallest, runs_of(ALL_SET, True, "N"), 1),
              evidence=f"test images taken for noise: {float(smallest.mean()):.1f} (mean of the p = {percents[0]:g} rows) "
                       f"against {float(runs_of(ALL_SET, True, 'N').mean()):.1f} for S^1")
shift = {c: torch.stack([runs_of(n, True, c) - runs_of(n, False, c) for n in sets]).nanmean(0) for c in ("P_c", "P_g")}
metrics.claim("NIS-T1", "noise_more_decisive",
              holds=stats.all_of([compare(shift[c], torch.zeros_like(shift[c]), 2) for c in ("P_c", "P_g")],
                                 name="shifts"),
              evidence=", ".join(f"{c} with minus without noise, mean over the rows: {float(shift[c].mean()):+.2f} points"
                                 for c in ("P_c", "P_g")))

# %%
gaps_t1 = [] if ranked_limit == 0 else [f"ranked and retrained on the first {len(y_train):,} training images"]
metrics.item("NIS-T1", nis.data_name(), scale={"runs": runs}, gaps=gaps_t1,
             note=nis.note(f"{zoo.describe(base)}; {len(percents)} sizes p, {epochs} epochs per retraining"))
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# ```{admonition} What we did differently
# - **The base network and the retraining are ours.** The paper names neither; we use its Table 2 model
#   and optimiser (on the stand-in with {glue:text}`model_width_text` base filters), stop the base network
#   early on the last 5,000 training images, held out (our reading of "before over-fitting"), and retrain
#   every row for {glue:text}`epochs` epochs, Table 2's short setting.
# - **Fewer images and runs.** {glue:text}`n_ranked:,.0f` training images are ranked (the paper: all
#   50,000) and every row has {glue:text}`runs` runs (the paper: 50), so $\sigma_A$ is itself rough, and the
#   decisiveness claim's $\sigma_A$ part is shown, not tested.
# - **Small subgroups.** A subgroup of size $p$ holds $p\,\%$ of the {glue:text}`n_misclassified:,.0f`
#   misclassified ranked images, so here the unions hold a few hundred images, where the paper's, drawn
#   from 50,000 CIFAR-10 images that a network of about 75 % accuracy gets wrong far more often, are much
#   larger. With five noise images per natural one in every batch, a network trained on so few natural
#   images can learn to answer "noise" for every test image: the N column shows where it does.
# - **The noise is drawn per batch** from the training run's generator, {glue:text}`noise_ratio` noise
#   images per natural one in every batch, so each epoch sees fresh noise (the paper's noise set may have
#   been fixed; {class}`nngeom.natural_image_spaces.subgroups.NoiseClass` offers both).
# ```

# %%
metrics.value("model_width_text", str(model_width))
metrics.save();
