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
# # Do adversarial examples transfer?
#
# Szegedy et al. {cite}`szegedy2014intriguing` report two kinds of transfer on MNIST (the IPN summary,
# "Datasets, Experiments and Results"):
#
# * **across models** (IPN-X3): examples made for one network are also misclassified by networks with
#   other layer counts, activations or regularisation;
# * **across training sets** (IPN-X4): they stay hard for networks trained on a disjoint part of the
#   training data, though they work considerably less well there.
#
# Both are tested here with the protocol of the previous page: for each source model, the first
# `n_images` test images it classifies correctly are attacked towards a random other class with
# box-constrained L-BFGS, and every model is asked to classify the successful examples. A cell of the
# matrices is the share of one source's examples that a model gets wrong (with respect to the true
# class), with a Wilson 95 % interval. On the diagonal every example fools its source, by
# construction. The row *originals* gives each model's error on the clean images behind all the
# examples, the baseline a transfer rate must beat.
#
# ```{admonition} What we did differently
# - The examples come from `nngeom.core.attacks.LBFGS`, which minimises $c\,\|r\|_2^2 + \mathrm{CE}$ and
#   keeps the largest $c$ of its search that reaches the target (the smallest perturbation it finds);
#   the summary writes $c\,\|r\|$ and the minimum $c$ (see the previous page).
# - The summary gives no transfer rates and does not say that every pair of models transfers; we test
#   the claim on all pairs together (below) and show each pair for information.
# - The three networks of the cross-training-set test, their widths and the split into halves are ours
#   (the summary says only "three non-convolutional networks").
# ```

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # seeds targets and noise
device = "auto"              # "auto", "cpu" or "cuda"
cross_models = ["mnist-fc10-4", "mnist-fc10-2", "mnist-fc10-0", "mnist-fc100-100-10-sigmoid", "mnist-fc200-200-10-sigmoid", "mnist-ae400-10"]
part_models = ["mnist-p1-fc100-100-10", "mnist-p1-fc123-456-10", "mnist-p2-fc100-100-10"]
n_images = 200               # correctly classified test images attacked per source model
c_min = 0.001                # smallest weight c of the perturbation norm
c_max = 100.0                # largest weight c
search_steps = 6             # bisection steps on log c after c_min
max_iter = 50                # L-BFGS-B iterations per solve
batch_size = 128             # images per L-BFGS-B problem
considerable = 0.5           # our threshold: cross-training-set transfer counts as "considerably lower" below this rate (Wilson 95 %)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from nngeom.book.notebook import start_page
from nngeom.book.plotting import rate_heatmap
from nngeom.book.report import verdict_markdown
from nngeom.core import data, zoo
from nngeom.core.stats import all_of, paired_difference, rate_below
from nngeom.core.validation import check_c_range, check_choice, check_in_open_interval, check_positive_int
from nngeom.intriguing_properties.transfer import (
    lbfgs_adversarials,
    matched_noise,
    pair_transfer,
    paired_transfer,
    sign_test,
    transfer_matrix,
)

for name in cross_models + part_models:
    check_choice("cross_models / part_models", name, zoo.names())
if len(cross_models) < 2:
    raise ValueError(f"parameter 'cross_models' needs at least 2 models, got {cross_models}")
if len(part_models) != 3:
    raise ValueError(f"parameter 'part_models' needs 3 models (two on P1, one on P2), got {part_models}")
check_positive_int("n_images", n_images)
check_c_range(c_min, c_max)
check_positive_int("search_steps", search_steps)
check_positive_int("max_iter", max_iter)
check_positive_int("batch_size", batch_size)
check_in_open_interval("considerable", considerable, 0.0, 1.0)

dev, metrics = start_page("notebooks/intriguing_properties/03_transfer", profile, metrics_path,
                          seed=seed, device=device, data="MNIST test set")
generator = torch.Generator().manual_seed(seed)
x_test, y_test = data.tensors("mnist", "test")
lbfgs = dict(c_range=(c_min, c_max), search_steps=search_steps, max_iter=max_iter, batch_size=batch_size, progress=True)


def matrix_view(df: pd.DataFrame, order_rows, order_cols) -> pd.DataFrame:
    """Pivot the long transfer table into "rate (low–high)" strings for display."""
    cell = df.assign(text=[f"{r:.1%} ({lo:.0%}–{hi:.0%})" for r, lo, hi in zip(df["rate"], df["low"], df["high"])])
    return cell.pivot(index="set", columns="model", values="text").loc[order_rows, order_cols]


def heatmap(df: pd.DataFrame, order_rows, order_cols, title: str) -> None:
    """The transfer table as a heatmap: rows the sets of examples, columns the models asked."""
    grid = df.pivot(index="set", columns="model", values="rate").loc[order_rows, order_cols].to_numpy()
    short = [r.replace("mnist-", "") for r in order_rows], [c.replace("mnist-", "") for c in order_cols]
    rate_heatmap(grid, *short, title, xlabel="model asked", ylabel="examples made on")
    plt.show()


def originals_row(sets) -> tuple[torch.Tensor, torch.Tensor]:
    """The clean images behind every successful example (each source's correctly classified images)."""
    xs = torch.cat([s.x[s.success] for s in sets.values()])
    ys = torch.cat([s.y[s.success] for s in sets.values()])
    return xs, ys


# %% [markdown]
# ## Across models (IPN-X3)

# %%
nets = {name: zoo.load(name, profile=profile, device=dev) for name in cross_models}
display(Markdown("\n".join(f"- {zoo.describe(m)}" for m in nets.values())))
sets = {name: lbfgs_adversarials(name, m, x_test, y_test, n_images, generator, **lbfgs) for name, m in nets.items()}
x_orig, y_orig = originals_row(sets)
x_all_adv = torch.cat([s.successful()[0] for s in sets.values()])
noise = matched_noise(x_orig, x_all_adv, generator)
extra = {"originals": (x_orig, y_orig), "matched noise": (noise, y_orig)}
cross = transfer_matrix(sets, nets, rows=extra)
row_order = list(cross_models) + list(extra)
heatmap(cross, row_order, cross_models, f"IPN-X3: error rates, {n_images} attacked images per source model")
display(matrix_view(cross, row_order, cross_models))
display(Markdown(" · ".join(f"`{n}`: {int(s.success.sum())}/{len(s.success)} successful, mean distortion "
                            f"{float(s.distortion.mean()):.3f}" for n, s in sets.items() if s.success.any())))

# %% [markdown]
# The summary claims that adversarials generalise across models, not that every pair does. The test
# is paired: for each adversarial example, the share of the *other* models that misclassify it minus
# the share that misclassify its original image, over all sources together. The decision is an exact
# sign test on these differences: the claim holds if the 95 % Clopper-Pearson interval of the share of
# (non-tied) examples with a positive difference lies above 1/2, fails if it lies at or below 1/2, and is
# undecided otherwise. Beside it we give the mean difference with its paired normal 95 % interval. The
# table below does the same per pair of models (there the sign test is McNemar's exact test), for
# information.

# %%
clean = cross[cross["set"] == "originals"].set_index("model")
pairs = cross[(cross["set"].isin(cross_models)) & (cross["set"] != cross["model"])]
paired = paired_transfer({name: sets[name] for name in cross_models}, nets)
pair_list, adv_share, orig_share = paired.pairs, paired.adversarial_share, paired.original_share
pair_rows = []
for p in pair_list:
    d = paired_difference(p.adversarial_wrong, p.original_wrong) if p.n else None
    pair_rows.append({"source": p.source, "asked": p.asked, "n": p.n,
                      "transfer": float(p.adversarial_wrong.float().mean()) if p.n else float("nan"),
                      "clean": float(p.original_wrong.float().mean()) if p.n else float("nan"),
                      "difference (95% CI)": f"{d['difference']:+.1%} ({d['low']:+.1%} to {d['high']:+.1%})" if d else "–",
                      "above clean": p.above_clean().outcome})
display(pd.DataFrame(pair_rows).set_index(["source", "asked"]).style.format({"transfer": "{:.1%}", "clean": "{:.1%}"}))
n_examples = len(adv_share)
pooled = (paired_difference(adv_share, orig_share) if n_examples > 1
          else {"difference": float("nan"), "low": float("nan"), "high": float("nan")})
x3 = sign_test(adv_share, orig_share, what="examples (share of other models fooled vs erring on the original)")
off_diag = float(pairs["rate"].mean())
n_above = sum(r["above clean"] == "holds" for r in pair_rows)
metrics.value("x3_mean_transfer_rate", off_diag)
metrics.value("x3_min_transfer_rate", float(pairs["rate"].min()))
metrics.value("x3_mean_clean_error", float(clean["rate"].mean()))
metrics.value("x3_pairs_above_clean", int(n_above))
metrics.value("x3_pairs", len(pair_rows))
metrics.value("x3_examples", n_examples)
metrics.value("x3_pooled_difference", pooled["difference"])
metrics.value("x3_pooled_low", pooled["low"])
metrics.value("x3_pooled_high", pooled["high"])
all_dist = torch.cat([s.distortion for s in sets.values()])
metrics.value("x3_mean_distortion", float(all_dist.mean()) if len(all_dist) else float("nan"))
metrics.claim("IPN-X3", "adversarials_transfer_across_models", holds=x3,
              evidence=f"other models fooled minus erring on the original: {pooled['difference']:+.1%} "
              f"(95 % {pooled['low']:+.1%} to {pooled['high']:+.1%}) over {n_examples} examples; mean transfer rate "
              f"{off_diag:.1%} vs mean clean error {float(clean['rate'].mean()):.1%}; {n_above} of {len(pair_rows)} "
              "pairs significantly above their clean error",
              criterion="per example, d = share of other models misclassifying the adversarial minus share "
              "misclassifying its original; holds if the exact 95 % interval of the share of examples with d > 0 (ties "
              "dropped) lies above 1/2, fails if at or below 1/2, undecided otherwise; the summary gives no rate")
metrics.item("IPN-X3", data="MNIST",
             gaps=["L-BFGS on c||r||^2 + CE keeping the largest successful c, where the summary writes c||r|| + loss "
                   "and the minimum c"],
             note=f"{len(cross_models)} models, {n_images} images each");

# %% [markdown]
# Averaged over all pairs of different models, {glue:text}`x3_mean_transfer_rate:.1%` of the examples
# made on one model are misclassified by another, against an error of
# {glue:text}`x3_mean_clean_error:.1%` on the clean images; the weakest pair transfers
# {glue:text}`x3_min_transfer_rate:.1%`, and {glue:text}`x3_pairs_above_clean` of the
# {glue:text}`x3_pairs` pairs are significantly above their clean error. Per example, the share of
# other models fooled exceeds the share erring on the original by {glue:text}`x3_pooled_difference:.1%`
# (95 % interval {glue:text}`x3_pooled_low:.1%` to {glue:text}`x3_pooled_high:.1%`). Gaussian noise of
# the same length per image is in the row *matched noise*.
#
# ## Across training sets (IPN-X4)
#
# The training images are split into halves, P1 (the first half) and P2 (the rest). Two sigmoid
# networks of different widths are trained on P1 and the 100-100 one again on P2, all with weight
# decay (recipes below; the summary says only "three non-convolutional networks"; the widths are ours).

# %%
pnets = {name: zoo.load(name, profile=profile, device=dev) for name in part_models}
display(Markdown("\n".join(f"- {zoo.describe(m)}" for m in pnets.values())))
psets = {name: lbfgs_adversarials(name, m, x_test, y_test, n_images, generator, **lbfgs) for name, m in pnets.items()}
px, py = originals_row(psets)
parts = transfer_matrix(psets, pnets, rows={"originals": (px, py)})
prow = list(part_models) + ["originals"]
heatmap(parts, prow, part_models, f"IPN-X4: error rates, models trained on P1 / P2, {n_images} images per source")
display(matrix_view(parts, prow, part_models))

# %% [markdown]
# The two claims, as computed here, on the three cells that cross the halves (P1 100-100 → P2,
# P2 → P1 100-100, P1 123-456 → P2):
#
# - *stay hard*: per example, does the other half's network err on the adversarial but not on the
#   original, or the reverse? Pooled over the three cells, McNemar's exact test: holds if the 95 %
#   Clopper-Pearson interval of the share of the first kind among the discordant examples lies above
#   1/2, fails if at or below 1/2, undecided otherwise.
# - *considerably weaker*: on their own network the examples succeed every time; the claim holds if in
#   each cell the Wilson 95 % interval of the transfer rate lies below `considerable`
#   ({glue:text}`considerable_pct:.0f` %), fails if it lies at or above it in some cell, undecided
#   otherwise. The summary gives no rate; the threshold is ours.

# %%
p1, p1b, p2 = part_models
pclean = parts[parts["set"] == "originals"].set_index("model")


def cell(src, dst):
    return parts[(parts["set"] == src) & (parts["model"] == dst)].iloc[0]


crossing = [(p1, p2), (p2, p1), (p1b, p2)]
across = [cell(src, dst) for src, dst in crossing]
rates = [float(c.rate) for c in across]
pcells = {(src, dst): pair_transfer(psets[src], dst, pnets[dst]) for src, dst in crossing}
adv_err = torch.cat([pcells[k].adversarial_wrong for k in crossing])
orig_err = torch.cat([pcells[k].original_wrong for k in crossing])
pd4 = (paired_difference(adv_err, orig_err) if len(adv_err) > 1
       else {"difference": float("nan"), "low": float("nan"), "high": float("nan")})
hard = sign_test(adv_err, orig_err, what="examples of the three crossing cells (errs on adversarial, not on original)")
weaker = all_of([rate_below(int(pcells[k].adversarial_wrong.sum()), pcells[k].n, considerable) for k in crossing],
                name="crossing cells")
metrics.value("considerable_pct", 100 * considerable)
metrics.value("x4_p1_to_p2", rates[0])
metrics.value("x4_p2_to_p1", rates[1])
metrics.value("x4_p1wide_to_p2", rates[2])
metrics.value("x4_same_half_other_width", float(cell(p1, p1b).rate))
metrics.value("x4_clean_error_p2", float(pclean.loc[p2, "rate"]))
metrics.value("x4_pooled_difference", pd4["difference"])
metrics.claim("IPN-X4", "adversarials_transfer_across_training_sets", holds=hard,
              evidence=f"P1→P2 {rates[0]:.1%}, P2→P1 {rates[1]:.1%}, P1 (123-456)→P2 {rates[2]:.1%}; erring on the "
              f"adversarial minus on the original {pd4['difference']:+.1%} (95 % {pd4['low']:+.1%} to {pd4['high']:+.1%}) "
              f"over {len(adv_err)} examples",
              criterion="pooled over the three crossing cells, McNemar's exact test: holds if the 95 % interval of the "
              "share, among examples where the other half's network is right on one of (adversarial, original), of those "
              "it gets wrong only as adversarials lies above 1/2; fails if at or below 1/2; undecided otherwise")
metrics.claim("IPN-X4", "transfer_weaker_across_training_sets", holds=weaker,
              evidence="; ".join(f"{a}→{b} {int(pcells[(a, b)].adversarial_wrong.sum())}/{pcells[(a, b)].n}" for a, b in crossing)
              + f" (threshold {considerable:.0%}; 100 % on the source)",
              criterion=f"holds if in each crossing cell the Wilson 95 % interval of the transfer rate lies below "
              f"{considerable:g}; fails if at or above it in some cell; undecided otherwise (the summary gives no rate)")
metrics.item("IPN-X4", data="MNIST", scale={"networks": len(part_models)},
             gaps=["L-BFGS on c||r||^2 + CE keeping the largest successful c, where the summary writes c||r|| + loss "
                   "and the minimum c"],
             note=f"3 networks on halves P1/P2, {n_images} images each")
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# Examples made on the P1 100-100 network fool the P2 network in {glue:text}`x4_p1_to_p2:.1%` of
# cases, and the other width trained on the same half in {glue:text}`x4_same_half_other_width:.1%`.

# %%
metrics.save();
