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
# # Training on adversarial examples
#
# If adversarial examples are points the training data never show, feeding them back might help the
# network generalise. Szegedy et al. {cite}`szegedy2014intriguing` trained a 100-100-10 network with a
# pool of adversarial examples, a random part of which is continually replaced by new ones, mixed into
# the training set throughout. The summary reports a test error below {glue:text}`paper_pool:.1f` %,
# against {glue:text}`paper_decay:.1f` % for the same network with weight decay alone and about
# {glue:text}`paper_dropout:.1f` % with carefully applied dropout (IPN-X5). It adds that
# adversarial examples of the higher layers seemed more useful than those of the input (IPN-X6).
#
# The zoo trains four versions of the 100-100-10 sigmoid network with the same optimiser and epochs:
#
# * **weight decay**: $\lambda\sum w^2/k$ per layer with $\lambda$ = {glue:text}`decay_text`;
# * **dropout**: {glue:text}`input_dropout_pct:.0f` % on the input, {glue:text}`hidden_dropout_pct:.0f` %
#   on each hidden layer, no decay;
# * **adversarial pool (input)**: weight decay, plus at every step the cross-entropy of
#   {glue:text}`pool_batch` examples drawn from a pool of up to {glue:text}`pool_size:,` L-BFGS
#   adversarials (each aimed at a random wrong class, labelled with its true class); every
#   {glue:text}`pool_refresh_every` steps {glue:text}`pool_refresh:,` random training images are attacked
#   with the current network and the successes overwrite random pool entries
#   (`nngeom.core.adversarial_training.AdversarialPool`);
# * **adversarial pool (hidden layer k)**: the same, but the attack perturbs the output of hidden layer
#   $k$, which sigmoid units keep in $[0,1]$, and the pool trains the layers above it.
#
# None of the pool's sizes, rates or attack settings are in the summary; they are ours and are
# recorded in each model's recipe below.
#
# Each recipe is trained {glue:text}`training_runs` times with different seeds (`zoo.run_names`): the
# verdicts compare training recipes, and a recipe's test error moves from one training run to the next
# (and from one CPU to another, whose arithmetic changes the trained weights) by about as much as the
# gaps the summary reports. A single run per recipe would measure only the test set's noise.
#
# ```{admonition} What we did differently
# - The pool's adversarials come from `nngeom.core.attacks.LBFGS`, which minimises
#   $c\,\|r\|_2^2 + \mathrm{CE}$ and keeps the largest $c$ of its search that reaches the target; the
#   summary writes $c\,\|r\|$ and the minimum $c$ (see the page on adversarial examples). The pool
#   only needs examples that fool the network, and uses a shorter search than that page.
# - Dropout rates are ours (see the list above); the summary says only "carefully applied".
#   Optimiser, epochs and pool settings are ours too.
# - Hidden-layer adversarials perturb the output of a sigmoid layer inside $[0,1]$; the summary does
#   not say how the paper perturbed higher layers.
# ```

# %% tags=["parameters", "hide-input"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # seeds this page's own draws (the networks carry their own seeds)
device = "auto"              # "auto", "cpu" or "cuda"
decay_model = "mnist-fc100-100-10-sigmoid"   # weight decay alone
dropout_model = "mnist-fc100-100-10-dropout" # dropout instead of decay
pool_layers = [0, 2]         # adversarial-pool models trained: 0 is the input, k the k-th hidden layer
training_runs = 3            # training runs (seeds) per recipe; 1 leaves every verdict undecided

# %% tags=["hide-input"]
import pandas as pd
import torch
from IPython.display import Markdown, display

from nngeom.book.notebook import start_page
from nngeom.book.report import comparison_table, paper_value, verdict_markdown
from nngeom.core import data, zoo
from nngeom.core.stats import interval_below, non_inferior, rate, run_difference
from nngeom.core.validation import check_choice, check_int_list, check_positive_int
from nngeom.intriguing_properties.transfer import errors

check_choice("decay_model", decay_model, zoo.names())
check_choice("dropout_model", dropout_model, zoo.names())
pool_layers = check_int_list("pool_layers", pool_layers, minimum=0)
for layer in pool_layers:
    check_choice("pool_layers", layer, list(zoo.ADVERSARIAL_POOL_LAYERS))
if 0 not in pool_layers:
    raise ValueError(f"parameter 'pool_layers' must include 0 (the input pool IPN-X5 is about), got {pool_layers}")
training_runs = check_positive_int("training_runs", training_runs)

dev, metrics = start_page("notebooks/intriguing_properties/04_adversarial_training", profile, metrics_path,
                          seed=seed, device=device, data="MNIST")

# %% [markdown]
# ## The networks

# %%
names = {"weight decay": decay_model, "dropout": dropout_model}
names.update({("adversarial pool (input)" if k == 0 else f"adversarial pool (hidden layer {k})"):
              f"mnist-fc100-100-10-advpool-l{k}" for k in pool_layers})
runs = {label: [zoo.load(run, profile=profile, device=dev) for run in zoo.run_names(name, training_runs)]
        for label, name in names.items()}
nets = {label: models[0] for label, models in runs.items()}   # run 0: the recipe's description and cost
display(Markdown("\n".join(f"- **{label}**: {zoo.describe(m)}" for label, m in nets.items())))
x_test, y_test = data.tensors("mnist", "test")
# per recipe: (training runs, test images), True where that run's network errs on that image
wrong = {label: torch.stack([errors(m, x_test, y_test) for m in models]) for label, models in runs.items()}
metrics.value("n_test", len(y_test))
metrics.value("training_runs", training_runs)
# the recipes' settings, for the prose (the zoo's specs at this profile)
decay_spec = nets["weight decay"].nngeom_meta["spec"]
drop_kw = nets["dropout"].nngeom_meta["spec"]["arch_kwargs"]
pool_kw = nets["adversarial pool (input)"].nngeom_meta["spec"]["trainer_kwargs"]
metrics.value("decay_text", ", ".join(f"{v:g}" for v in decay_spec["penalty"]))
metrics.value("input_dropout_pct", 100 * drop_kw.get("input_dropout", 0.0))
metrics.value("hidden_dropout_pct", 100 * drop_kw.get("dropout", 0.0))
for key in ("batch_size", "size", "refresh", "refresh_every"):
    metrics.value("pool_batch" if key == "batch_size" else f"pool_{key}", int(pool_kw[key]))

# %% [markdown]
# ## Test error and cost
#
# Test error on the {glue:text}`n_test:,` test images, averaged over the {glue:text}`training_runs`
# training runs, with the lowest and highest run and the Wilson 95 % interval of the first run. The cost
# columns come from the first run's training record: seconds per epoch, of which the attacks that
# refresh the pool take the share shown, and the ratio to plain training with weight decay.

# %%
plain_epoch = nets["weight decay"].nngeom_meta["train_seconds"] / nets["weight decay"].nngeom_meta["spec"]["epochs"]
rows = []
for label, m in nets.items():
    meta = m.nngeom_meta
    r = rate(wrong[label][0])
    per_run = wrong[label].double().mean(dim=1)
    per_epoch = meta["train_seconds"] / meta["spec"]["epochs"]
    pool = meta.get("adversarial_pool", {})
    rows.append({"training": label, "test error": float(per_run.mean()),
                 "runs (lowest–highest)": f"{float(per_run.min()):.2%}–{float(per_run.max()):.2%}",
                 "run 0, 95% CI": f"{r['low']:.2%}–{r['high']:.2%}",
                 "s / epoch": per_epoch, "attack share": pool.get("attack_seconds", 0.0) / meta["train_seconds"],
                 "cost vs weight decay": per_epoch / plain_epoch,
                 "pool attack success": pool.get("attack_success_rate", float("nan"))})
    metrics.value(f"error_{label.replace(' ', '_').replace('(', '').replace(')', '')}", float(per_run.mean()))
cost = pd.DataFrame(rows).set_index("training")
display(cost.style.format({"test error": "{:.2%}", "s / epoch": "{:.1f}", "attack share": "{:.0%}",
                           "cost vs weight decay": "{:.1f}x", "pool attack success": "{:.0%}"}, na_rep="–"))
metrics.value("pool_cost_ratio", float(cost.loc["adversarial pool (input)", "cost vs weight decay"]));

# %% [markdown]
# ## Paper and here (IPN-X5)

# %%
err = {label: float(wrong[label].double().mean()) for label in nets}   # mean over runs and images
display(comparison_table([
    {"quantity": "test error (%), adversarial pool", "paper": paper_value("IPN-X5", "error_adversarial_pool"),
     "here": 100 * err["adversarial pool (input)"]},
    {"quantity": "test error (%), weight decay alone", "paper": paper_value("IPN-X5", "error_weight_decay"),
     "here": 100 * err["weight decay"]},
    {"quantity": "test error (%), dropout (paper: about)", "paper": paper_value("IPN-X5", "error_dropout"),
     "here": 100 * err["dropout"]},
]).style.format("{:.2f}", subset=["paper", "here"]).format("{:+.0%}", subset=["relative difference"], na_rep="–"))

# %% [markdown]
# Each comparison is between two training recipes, so its interval has to cover both sources of
# noise: the spread of a recipe's test error over its training runs, and the finite test set (all
# networks see the same test images, so this part comes from the per-image differences of the
# run-averaged errors, the normal approximation behind McNemar's test). The 95 % interval adds the two
# variances and uses Student's t with Welch-Satterthwaite degrees of freedom
# (`nngeom.core.stats.run_difference`); with {glue:text}`training_runs` runs per recipe it is wide unless the
# gap is large against the run-to-run spread, and with one run it is unbounded. Each verdict has three
# outcomes, and the criterion follows the size of the gap the paper reports:
#
# - *pool beats weight decay* (paper: {glue:text}`paper_pool:.1f` % vs {glue:text}`paper_decay:.1f` %,
#   a gap of {glue:text}`paper_gap_decay:.1f` points): holds if the 95 % interval of "pool minus weight
#   decay" lies below 0, fails if it lies at or above 0, undecided if it spans 0.
# - *pool beats dropout* (paper: {glue:text}`paper_pool:.1f` % vs about {glue:text}`paper_dropout:.1f` %,
#   a gap of only {glue:text}`paper_gap_dropout:.1f` points, which {glue:text}`n_test:,` test images cannot resolve):
#   a non-inferiority test. It holds if the upper end of the 95 % interval of "pool minus dropout" is
#   below the margin of {glue:text}`ni_margin_points:.1f` points, the paper's gain of the pool over
#   weight decay (the pool is then not worse than dropout by as much as it gains over decay); it fails
#   if the whole interval lies above 0 (the pool is significantly worse than dropout), and is undecided
#   otherwise.
# - *higher-layer adversarials more useful* (no number in the summary): holds if the 95 % interval of
#   "pool (highest hidden layer) minus pool (input)" lies below 0, fails if it lies at or above 0,
#   undecided if it spans 0.

# %%
paper_pool, paper_decay, paper_dropout = (paper_value("IPN-X5", k) for k in
                                          ("error_adversarial_pool", "error_weight_decay", "error_dropout"))
ni_margin = (paper_decay - paper_pool) / 100   # in error rate, from the paper's percentages
metrics.value("paper_pool", paper_pool)
metrics.value("paper_decay", paper_decay)
metrics.value("paper_dropout", paper_dropout)
metrics.value("paper_gap_decay", paper_decay - paper_pool)
metrics.value("paper_gap_dropout", paper_dropout - paper_pool)
metrics.value("ni_margin_points", 100 * ni_margin)


def evidence(a: str, b: str, d: dict) -> str:
    spread = (f"run-to-run sd {100 * d['sd_a']:.2f} and {100 * d['sd_b']:.2f} points" if d["runs_a"] > 1
              else "one training run per recipe: training noise not measured")
    return (f"error {100 * err[a]:.2f} % vs {100 * err[b]:.2f} % (mean of {d['runs_a']} and {d['runs_b']} training "
            f"runs); difference {100 * d['difference']:+.2f} points (95 % CI {100 * d['low']:+.2f} to "
            f"{100 * d['high']:+.2f}; {spread})")


def test_text(d: dict) -> str:
    return (f"training runs {d['runs_a']} and {d['runs_b']}, {d['n']} test images: between-run plus paired "
            f"test-set variance, Student's t with {d['df']:.1f} degrees of freedom, 95 %")


pool = "adversarial pool (input)"
verdict_rows = []
d = run_difference(wrong[pool], wrong["weight decay"])
verdict_rows.append({"comparison": "pool (input) − weight decay", **d})
dec = interval_below(d["difference"], d["low"], d["high"], 0.0, test=test_text(d))
metrics.claim("IPN-X5", "pool_beats_weight_decay", holds=dec, evidence=evidence(pool, "weight decay", d),
              criterion=f"holds if the 95 % interval of pool − weight decay lies below 0, fails if it lies at or "
              f"above 0, undecided if it spans 0 (paper: {paper_pool:g} % vs {paper_decay:g} %)")
d = run_difference(wrong[pool], wrong["dropout"])
verdict_rows.append({"comparison": "pool (input) − dropout", **d})
dec = non_inferior(d["difference"], d["low"], d["high"], ni_margin,
                   test=f"{test_text(d)} (margin: the paper's pool-vs-decay gain)")
metrics.claim("IPN-X5", "pool_beats_dropout", holds=dec, evidence=evidence(pool, "dropout", d),
              criterion=f"non-inferiority: holds if the upper end of the 95 % interval of pool − dropout is below "
              f"{100 * ni_margin:.2g} points (the paper's gain of the pool over weight decay, {paper_decay:g} − "
              f"{paper_pool:g}); fails if the whole interval lies above 0; undecided otherwise (paper: {paper_pool:g} % "
              f"vs about {paper_dropout:g} %, a gap too small to resolve)")
pool_gaps = ["pool adversarials from L-BFGS on c||r||^2 + CE keeping the largest successful c, where the summary "
             "writes c||r|| + loss and the minimum c",
             "dropout rates, optimiser, epochs and pool settings ours (the summary gives none)"]
if training_runs == 1:
    pool_gaps.append("one training run per recipe: the verdicts cannot separate the recipes from training noise")
metrics.item("IPN-X5", data="MNIST", gaps=pool_gaps,
             note=f"100-100-10 sigmoid; pool settings ours; {training_runs} training runs per recipe")
higher = [k for k in pool_layers if k > 0]
if higher:
    top = max(higher)
    label = f"adversarial pool (hidden layer {top})"
    d = run_difference(wrong[label], wrong[pool])
    verdict_rows.append({"comparison": f"pool (hidden layer {top}) − pool (input)", **d})
    metrics.value("x6_difference", d["difference"])
    dec = interval_below(d["difference"], d["low"], d["high"], 0.0, test=test_text(d))
    metrics.claim("IPN-X6", "higher_layer_adversarials_more_useful", holds=dec, evidence=evidence(label, pool, d),
                  criterion=f"holds if the 95 % interval of pool (layer {top}) − pool (input) lies below 0, fails if "
                  "it lies at or above 0, undecided if it spans 0 (the summary gives no number)")
    metrics.item("IPN-X6", data="MNIST", gaps=pool_gaps,
                 note=f"pool layers {pool_layers}; the verdict compares hidden layer {top} with the input; "
                 f"{training_runs} training runs per recipe")
else:
    metrics.item("IPN-X6", data="MNIST", gaps=["no hidden-layer pool in this profile: the comparison was not run"],
                 note="no hidden-layer pool in this profile")
display(pd.DataFrame(verdict_rows).set_index("comparison").style.format("{:+.2%}", subset=["difference", "low", "high"])
        .format("{:.2%}", subset=["sd_a", "sd_b"], na_rep="–").format("{:.1f}", subset=["df"]))
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# The adversarial pool costs {glue:text}`pool_cost_ratio:.1f` times the training time of the plain
# network per epoch on this page's device, almost all of it in the L-BFGS attacks that refresh the pool
# (batched: the images of one refresh in one L-BFGS-B problem).

# %%
metrics.save();
