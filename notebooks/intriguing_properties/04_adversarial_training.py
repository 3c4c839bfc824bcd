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
# the training set throughout. The summary reports a test error below 1.2 %, against 1.6 % for the same
# network with weight decay alone and about 1.3 % with carefully applied dropout (IPN-X5). It adds that
# adversarial examples of the higher layers seemed more useful than those of the input (IPN-X6).
#
# The zoo trains four versions of the 100-100-10 sigmoid network with the same optimiser and epochs:
#
# * **weight decay**: $\lambda\sum w^2/k$ per layer with $\lambda$ = 1e-5, 1e-5, 1e-6;
# * **dropout**: 20 % on the input, 50 % on each hidden layer, no decay;
# * **adversarial pool (input)**: weight decay, plus at every step the cross-entropy of 64 examples
#   drawn from a pool of up to 5,000 L-BFGS adversarials (each aimed at a random wrong class, labelled
#   with its true class); once per epoch 500 random training images are attacked with the current
#   network and the successes overwrite random pool entries (`nngeom.adversarial_training.AdversarialPool`);
# * **adversarial pool (hidden layer k)**: the same, but the attack perturbs the output of hidden layer
#   $k$, which sigmoid units keep in $[0,1]$, and the pool trains the layers above it.
#
# None of the pool's sizes, rates or attack settings are in the summary; they are ours and are
# recorded in each model's recipe below.

# %% tags=["parameters"]
profile = "default"          # which profile produced this page (set by the workflow)
metrics_path = ""            # where to write metrics.json (empty: do not write)
seed = 0                     # seeds this page's own draws (the networks carry their own seeds)
device = "auto"              # "auto", "cpu" or "cuda"
decay_model = "mnist-fc100-100-10-sigmoid"   # weight decay alone
dropout_model = "mnist-fc100-100-10-dropout" # dropout instead of decay
pool_layers = [0, 2]         # adversarial-pool models trained: 0 is the input, k the k-th hidden layer

# %%
import pandas as pd
from IPython.display import Markdown, display

from nngeom import data, zoo
from nngeom.notebook import start_page
from nngeom.report import comparison_table, paper_value, verdict_markdown
from nngeom.stats import paired_difference, rate
from nngeom.transfer import errors
from nngeom.validation import check_choice, check_int_list

check_choice("decay_model", decay_model, zoo.names())
check_choice("dropout_model", dropout_model, zoo.names())
pool_layers = check_int_list("pool_layers", pool_layers, minimum=0)
for layer in pool_layers:
    check_choice("pool_layers", layer, list(zoo.ADVERSARIAL_POOL_LAYERS))
if 0 not in pool_layers:
    raise ValueError(f"parameter 'pool_layers' must include 0 (the input pool IPN-X5 is about), got {pool_layers}")

dev, metrics = start_page("notebooks/intriguing_properties/04_adversarial_training", profile, metrics_path,
                          seed=seed, device=device, data="MNIST")

# %% [markdown]
# ## The networks

# %%
names = {"weight decay": decay_model, "dropout": dropout_model}
names.update({("adversarial pool (input)" if k == 0 else f"adversarial pool (hidden layer {k})"):
              f"mnist-fc100-100-10-advpool-l{k}" for k in pool_layers})
nets = {label: zoo.load(name, profile=profile, device=dev) for label, name in names.items()}
display(Markdown("\n".join(f"- **{label}**: {zoo.describe(m)}" for label, m in nets.items())))
x_test, y_test = data.tensors("mnist", "test")
wrong = {label: errors(m, x_test, y_test) for label, m in nets.items()}

# %% [markdown]
# ## Test error and cost
#
# Test error on the 10,000 test images with its Wilson 95 % interval. The cost columns come from the
# models' training records: seconds per epoch, of which the attacks that refresh the pool take the
# share shown, and the ratio to plain training with weight decay.

# %%
plain_epoch = nets["weight decay"].nngeom_meta["train_seconds"] / nets["weight decay"].nngeom_meta["spec"]["epochs"]
rows = []
for label, m in nets.items():
    meta = m.nngeom_meta
    r = rate(wrong[label])
    per_epoch = meta["train_seconds"] / meta["spec"]["epochs"]
    pool = meta.get("adversarial_pool", {})
    rows.append({"training": label, "test error": r["rate"], "95% CI": f"{r['low']:.2%}–{r['high']:.2%}",
                 "s / epoch": per_epoch, "attack share": pool.get("attack_seconds", 0.0) / meta["train_seconds"],
                 "cost vs weight decay": per_epoch / plain_epoch,
                 "pool attack success": pool.get("attack_success_rate", float("nan"))})
    metrics.value(f"error_{label.replace(' ', '_').replace('(', '').replace(')', '')}", r["rate"])
cost = pd.DataFrame(rows).set_index("training")
display(cost.style.format({"test error": "{:.2%}", "s / epoch": "{:.1f}", "attack share": "{:.0%}",
                           "cost vs weight decay": "{:.1f}x", "pool attack success": "{:.0%}"}, na_rep="–"))
metrics.value("pool_cost_ratio", float(cost.loc["adversarial pool (input)", "cost vs weight decay"]))

# %% [markdown]
# ## Paper and here (IPN-X5)

# %%
err = {label: float(wrong[label].float().mean()) for label in nets}
display(comparison_table([
    {"quantity": "test error (%), adversarial pool", "paper": paper_value("IPN-X5", "error_adversarial_pool"),
     "here": 100 * err["adversarial pool (input)"]},
    {"quantity": "test error (%), weight decay alone", "paper": paper_value("IPN-X5", "error_weight_decay"),
     "here": 100 * err["weight decay"]},
    {"quantity": "test error (%), dropout (paper: about)", "paper": paper_value("IPN-X5", "error_dropout"),
     "here": 100 * err["dropout"]},
]).style.format("{:.2f}", subset=["paper", "here"]).format("{:+.0%}", subset=["relative difference"], na_rep="–"))

# %% [markdown]
# The comparisons are paired: all networks see the same test images, so the interval of a difference
# in error rate is computed from the per-image differences (the normal approximation behind McNemar's
# test). A claim holds when the 95 % interval of "pool minus other" lies wholly below zero.

# %%
verdict_rows = []
for claim, other in (("pool_beats_weight_decay", "weight decay"), ("pool_beats_dropout", "dropout")):
    d = paired_difference(wrong["adversarial pool (input)"], wrong[other])
    verdict_rows.append({"comparison": f"pool (input) − {other}", **d})
    metrics.claim("IPN-X5", claim, holds=bool(d["high"] < 0),
                  evidence=f"error {100 * err['adversarial pool (input)']:.2f} % vs {100 * err[other]:.2f} %; "
                  f"difference {100 * d['difference']:+.2f} points (95 % CI {100 * d['low']:+.2f} to {100 * d['high']:+.2f})")
metrics.item("IPN-X5", "reproduced", data="MNIST", note="100-100-10 sigmoid; pool settings ours")
higher = [k for k in pool_layers if k > 0]
if higher:
    top = max(higher)
    label = f"adversarial pool (hidden layer {top})"
    d = paired_difference(wrong[label], wrong["adversarial pool (input)"])
    verdict_rows.append({"comparison": f"pool (hidden layer {top}) − pool (input)", **d})
    metrics.value("x6_difference", d["difference"])
    metrics.claim("IPN-X6", "higher_layer_adversarials_more_useful", holds=bool(d["high"] < 0),
                  evidence=f"error {100 * err[label]:.2f} % (layer {top}) vs {100 * err['adversarial pool (input)']:.2f} % "
                  f"(input); difference {100 * d['difference']:+.2f} points (95 % CI {100 * d['low']:+.2f} to {100 * d['high']:+.2f})")
    metrics.item("IPN-X6", "reproduced", data="MNIST", note=f"pool layers {pool_layers}")
else:
    metrics.item("IPN-X6", "not started", data="MNIST", note="no hidden-layer pool in this profile")
display(pd.DataFrame(verdict_rows).set_index("comparison").style.format("{:+.2%}", subset=["difference", "low", "high"]))
display(verdict_markdown(metrics.verdicts))

# %% [markdown]
# The adversarial pool costs {glue:text}`pool_cost_ratio:.1f` times the training time of the plain
# network per epoch on this page's device, almost all of it in the L-BFGS attacks that refresh the pool
# (batched: 500 images in one L-BFGS-B problem).

# %%
metrics.save();
