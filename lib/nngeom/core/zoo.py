"""The model zoo: named model specs, trained on first use and cached on disk.

A :class:`ModelSpec` is plain data (architecture, training recipe, data, seed). :func:`load` hashes the
spec, and returns the cached weights for that hash, training them first if there are none. Training
happens under a file lock and is written atomically, so two processes asking for the same model train
it once and an interrupted run leaves no partial entry. Metadata (test accuracy, training time, the
spec, versions) is saved beside the weights as ``meta.json``.

Profiles (``profiles/<name>.yaml``, section ``zoo``) may override recipe fields such as ``epochs`` or
``train_limit`` for every model; the overrides are part of the spec, so each profile has its own cache
entry.

Command line (used by the Snakefile, one rule per model)::

    python -m nngeom.core.zoo build NAME [--profile smoke] [--marker PATH]
    python -m nngeom.core.zoo list
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from torch import nn

from nngeom.core import data as nndata
from nngeom.core import models
from nngeom.core.adversarial_training import AdversarialPool
from nngeom.core.device import resolve_device, torch_threads
from nngeom.core.io import atomic_directory, atomic_write_json
from nngeom.core.profiles import load_profile
from nngeom.core.toy import TOY_DATASETS, toy_tensors
from nngeom.core.training import pretrain_sparse_autoencoder, train_classifier

__all__ = [
    "ModelSpec",
    "REGISTRY",
    "TRAINERS",
    "TRAIN_PARTS",
    "training_part",
    "register",
    "spec",
    "load",
    "initial",
    "cache_dir",
    "entry_dir",
    "metadata",
    "names",
    "run_name",
    "run_names",
    "describe",
]

# Bump when training code changes in a way that changes the weights a spec produces.
TRAINING_CODE_VERSION = 1


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines a trained model. Two equal specs give the same weights on one machine."""

    name: str
    arch: str
    arch_kwargs: dict[str, Any]
    dataset: str
    value_range: tuple[float, float] = (0.0, 1.0)
    flatten: bool = False
    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    train_limit: int | None = None
    penalty: tuple[float, ...] = ()
    penalty_form: str = "squared_over_units"
    train_part: str | None = None
    trainer: str = "supervised"
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)
    lr_milestones: tuple[float, ...] = ()
    augment: str = "none"
    description: str = field(default="", compare=False)
    papers: tuple[str, ...] = field(default=(), compare=False)

    def recipe(self) -> dict[str, Any]:
        """The fields that determine the weights (not the description), as JSON-ready data."""
        d = dataclasses.asdict(self)
        d.pop("description")
        d.pop("papers")
        d["value_range"] = list(self.value_range)
        # Added after the first models were cached: left out when unused so that their keys stay valid.
        if not self.penalty:
            d.pop("penalty")
            d.pop("penalty_form")
        else:
            d["penalty"] = list(self.penalty)
        d["lr_milestones"] = list(self.lr_milestones)
        for name, default in (("train_part", None), ("trainer", "supervised"), ("trainer_kwargs", {}),
                              ("lr_milestones", []), ("augment", "none")):  # fmt: skip
            if d[name] == default:
                d.pop(name)
        return d

    def key(self) -> str:
        """Hash of the recipe and the training-code version: the cache key."""
        payload = json.dumps({"recipe": self.recipe(), "code": TRAINING_CODE_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


REGISTRY: dict[str, ModelSpec] = {}

# Fields a profile or a caller may override; the architecture and data set define the model's identity.
_OVERRIDABLE = {
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "seed",
    "train_limit",
    "penalty",
    "penalty_form",
    "trainer_kwargs",
    "lr_milestones",
    "augment",
}
# How a spec's weights are trained; see _train.
TRAINERS = ("supervised", "sparse_autoencoder", "adversarial_pool")
# train_part: the two disjoint halves of a training set (Szegedy et al.'s P1 and P2 for MNIST).
TRAIN_PARTS = ("P1", "P2")


def register(s: ModelSpec) -> ModelSpec:
    if s.name in REGISTRY:
        raise ValueError(f"model {s.name!r} is already registered")
    if s.trainer not in TRAINERS:
        raise ValueError(f"trainer of {s.name!r} must be one of {TRAINERS}, got {s.trainer!r}")
    if s.train_part not in (None, *TRAIN_PARTS):
        raise ValueError(f"train_part of {s.name!r} must be None or one of {TRAIN_PARTS}, got {s.train_part!r}")
    REGISTRY[s.name] = s
    return s


def names() -> list[str]:
    return sorted(REGISTRY)


# A recipe's further training runs: "<name>@run<k>" is model <name> trained again with its seed + k, so that
# a claim comparing training recipes can measure how much the result moves from one training run to the next.
_RUN = re.compile(r"^(?P<base>[A-Za-z0-9_.-]+)@run(?P<run>[1-9][0-9]*)$")


def run_name(name: str, run: int) -> str:
    """The zoo name of training run ``run`` (0, 1, ...) of model ``name``; run 0 is ``name`` itself."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(names())}")
    if not (isinstance(run, int) and run >= 0):
        raise ValueError(f"parameter 'run' must be an int >= 0, got {run!r}")
    return name if run == 0 else f"{name}@run{run}"


def run_names(name: str, runs: int) -> list[str]:
    """The zoo names of the first ``runs`` training runs of model ``name`` (``runs`` >= 1)."""
    if not (isinstance(runs, int) and runs >= 1):
        raise ValueError(f"parameter 'runs' must be an int >= 1, got {runs!r}")
    return [run_name(name, r) for r in range(runs)]


register(
    ModelSpec(
        name="mnist-mlp-200-200",
        arch="mlp",
        arch_kwargs={"in_features": 784, "hidden": [200, 200], "n_classes": 10, "activation": "relu"},
        dataset="mnist",
        epochs=10,
        batch_size=128,
        lr=1e-3,
        description="784-200-200-10 ReLU network on MNIST in [0, 1], Adam, no regularisation: the book's "
        "baseline network, used to show the persistence estimators on real data",
        papers=("ANX",),
    )
)


# --- Bell, Neighborhoods of Adversarial Examples, Part I (section 5.1, Table 1, Table 3) -------------
# The thesis trains for "typically 21" epochs and names no optimiser, batch size or learning rate; Adam
# with lr 1e-3 and batches of 128 is our choice. The thesis prints its regulariser as
# lambda ||w||_2 / N per layer; at lambda <= 1 that term is too small to change anything (FC10 accuracy
# 92.21 % for all three lambdas, measured), while Table 1's accuracies fall with lambda as under Szegedy
# et al.'s decay lambda * sum(w^2) / units, whose Table 1 the thesis recreates. The zoo uses the latter;
# penalty_form="norm_over_size" gives the printed formula (training.weight_penalty).
_BELL = dict(dataset="mnist", epochs=21, batch_size=128, lr=1e-3, papers=("ANX",))

for _k in (4, 2, 0):
    register(
        ModelSpec(
            name=f"mnist-fc10-{_k}",
            arch="mlp",
            arch_kwargs={"in_features": 784, "hidden": [], "n_classes": 10},
            penalty=(10.0**-_k,),
            description=f"FC10-{_k}: 784 -> 10 softmax regression with lambda = 1e-{_k} (thesis Table 1; "
            f"Szegedy et al.'s FC10({10.0**-_k:g}))",
            **{**_BELL, "papers": ("ANX", "IPN")},
        )
    )
_TWO_LAYER_DECAY = (1e-5, 1e-5, 1e-6)


def _register_two_layer(name: str, width: int, activation: str, description: str, common: dict) -> None:
    register(
        ModelSpec(
            name=name,
            arch="mlp",
            arch_kwargs={"in_features": 784, "hidden": [width, width], "n_classes": 10, "activation": activation},
            penalty=_TWO_LAYER_DECAY,
            description=description,
            **common,
        )
    )


for _h in (100, 200):
    _register_two_layer(
        f"mnist-fc{_h}-{_h}-10",
        _h,
        "relu",
        f"FC{_h}-{_h}-10: two ReLU layers of {_h}, lambdas 1e-5, 1e-5, 1e-6 (thesis Table 1)",
        _BELL,
    )
register(
    ModelSpec(
        name="mnist-fc100-20-10",
        arch="mlp",
        arch_kwargs={"in_features": 784, "hidden": [100, 20], "n_classes": 10, "activation": "relu"},
        penalty=(1e-7,),
        description="784-100-20-10 ReLU network with lambda = 1e-7 (thesis section 5.1.1, Figures 9, 10, 13)",
        **_BELL,
    )
)
BELL_CNN_CHANNELS = (2, 4, 8, 16, 32, 64, 128, 256, 512)
for _ch in BELL_CNN_CHANNELS:
    register(
        ModelSpec(
            name=f"mnist-c-{_ch}",
            arch="bell_cnn",
            arch_kwargs={"channels": _ch},
            description=f"C-{_ch}: four 5x5 convolutions with {_ch} channels, max pool, FC 256, FC 10 (thesis Table 3)",
            **_BELL,
        )
    )


# --- Szegedy et al., Intriguing properties (the IPN summary, section 4) ------------------------------
# FC10(1e-4), FC10(1e-2) and FC10(1) are the thesis' mnist-fc10-4/-2/-0 above (same decay form). The
# two-hidden-layer nets of the paper are sigmoid networks; their lambdas (1e-5, 1e-5, 1e-6) are the ones
# the thesis copies into its Table 1. Training as for the thesis' nets: 21 epochs of Adam.
_SZEGEDY = dict(dataset="mnist", epochs=21, batch_size=128, lr=1e-3, papers=("IPN",))
for _h in (100, 200):
    _register_two_layer(
        f"mnist-fc{_h}-{_h}-10-sigmoid",
        _h,
        "sigmoid",
        f"FC{_h}-{_h}-10: two sigmoid layers of {_h}, decay lambdas 1e-5, 1e-5, 1e-6 (Szegedy et al.'s "
        "MNIST net; weight decay alone for the adversarial-training comparison)",
        _SZEGEDY,
    )
register(
    ModelSpec(
        name="mnist-ae400-10",
        arch="mlp",
        arch_kwargs={"in_features": 784, "hidden": [400], "n_classes": 10, "activation": "sigmoid"},
        penalty=(1e-6,),
        trainer="sparse_autoencoder",
        trainer_kwargs={"epochs": 10, "sparsity_target": 0.05, "sparsity_weight": 3.0, "weight_decay": 1e-4},
        description="AE400-10: a 400-unit sigmoid sparse autoencoder trained without labels, then a softmax "
        "on its frozen code with lambda = 1e-6",
        **_SZEGEDY,
    )
)
# Cross-training-set generalisation: two disjoint halves P1, P2 of the 60,000 training images. The
# summary says three non-convolutional networks; two widths on P1 and the first width again on P2.
for _name, _hidden, _part, _seed in (
    ("mnist-p1-fc100-100-10", [100, 100], "P1", 0),
    ("mnist-p1-fc123-456-10", [123, 456], "P1", 0),
    ("mnist-p2-fc100-100-10", [100, 100], "P2", 1),
):
    register(
        ModelSpec(
            name=_name,
            arch="mlp",
            arch_kwargs={"in_features": 784, "hidden": _hidden, "n_classes": 10, "activation": "sigmoid"},
            penalty=(1e-5,),
            train_part=_part,
            seed=_seed,
            description=f"FC{_hidden[0]}-{_hidden[1]}-10 sigmoid, lambda = 1e-5, trained on half {_part} "
            "(30,000 images) of the MNIST training set",
            **_SZEGEDY,
        )
    )
# Adversarial training (IPN-X5, X6): the 100-100-10 sigmoid net with dropout instead of decay, and with
# a refreshed pool of L-BFGS adversarials of the input (layer 0) or of a hidden layer (1, 2).
register(
    ModelSpec(
        name="mnist-fc100-100-10-dropout",
        arch="mlp",
        arch_kwargs={
            "in_features": 784,
            "hidden": [100, 100],
            "n_classes": 10,
            "activation": "sigmoid",
            "dropout": 0.5,
            "input_dropout": 0.2,
        },
        description="FC100-100-10 sigmoid with dropout 0.2 on the input and 0.5 on the hidden layers, no decay",
        **_SZEGEDY,
    )
)
ADVERSARIAL_POOL_LAYERS = (0, 1, 2)
for _layer in ADVERSARIAL_POOL_LAYERS:
    register(
        ModelSpec(
            name=f"mnist-fc100-100-10-advpool-l{_layer}",
            arch="mlp",
            arch_kwargs={"in_features": 784, "hidden": [100, 100], "n_classes": 10, "activation": "sigmoid"},
            penalty=_TWO_LAYER_DECAY,
            trainer="adversarial_pool",
            trainer_kwargs={
                "layer": _layer,
                "size": 5000,
                "refresh": 500,
                "refresh_every": 469,
                "batch_size": 64,
                "search_steps": 3,
                "max_iter": 20,
            },
            description="FC100-100-10 sigmoid with decay, trained with a refreshed pool of L-BFGS adversarials of "
            + ("the input" if _layer == 0 else f"hidden layer {_layer}"),
            **_SZEGEDY,
        )
    )


# --- Zhang & Wu, linear regions (LRG section 3.1, Table 1; Figure 1) ----------------------------------
# Three hidden ReLU layers on MNIST in [-1, 1]: vanilla, batch norm after the pre-activations, dropout
# after the activations; Adam at 1e-3 and 1e-4, batches of 256, Xavier-uniform weights and zero biases,
# early stopping. The paper gives no patience, held-out size or dropout rate for the 1024-wide nets;
# ours: the last 5,000 training images held out, patience 3, at most 50 epochs, dropout 0.2 (the rate
# it gives for the 20-wide nets of Figure 1).
_LRG_VARIANTS = {"vanilla": {}, "bn": {"batch_norm": True}, "dropout": {"dropout": 0.2}}
_LRG = dict(dataset="mnist", value_range=(-1.0, 1.0), batch_size=256, papers=("LRG",))
for _variant, _extra in _LRG_VARIANTS.items():
    for _lr, _lr_name in ((1e-3, "1e-3"), (1e-4, "1e-4")):
        register(
            ModelSpec(
                name=f"mnist-lrg-{_variant}-lr{_lr_name}",
                arch="mlp",
                arch_kwargs={
                    "in_features": 784,
                    "hidden": [1024, 1024, 1024],
                    "n_classes": 10,
                    "init": "xavier_uniform",
                    **_extra,
                },
                epochs=50,
                lr=_lr,
                trainer_kwargs={"validation": 5000, "patience": 3},
                description=f"3 x 1024 ReLU ({_variant}), Adam lr {_lr_name}, early stopping (Zhang & Wu, Table 1)",
                **_LRG,
            )
        )
    register(
        ModelSpec(
            name=f"mnist-lrg20-{_variant}",
            arch="mlp",
            arch_kwargs={
                "in_features": 784,
                "hidden": [20, 20, 20],
                "n_classes": 10,
                "init": "xavier_uniform",
                **_extra,
            },
            epochs=50,
            lr=1e-3,
            trainer_kwargs={"validation": 5000, "patience": 3},
            description=f"3 x 20 ReLU ({_variant}) for the 2-D slices of Figure 1 (Zhang & Wu)",
            **_LRG,
        )
    )


# The CNNs of Appendix E (Table 3): three stride-2 3x3 convolutions (32, 64, 128), a 1024-unit layer; BN
# before every ReLU, or dropout after every ReLU; Adam 1e-3, batches of 256, inputs in [-1, 1], early
# stopping, no augmentation. Not given, ours as for the MNIST nets: Xavier-uniform weights, dropout 0.2,
# 5,000 training images held out, patience 3, at most 50 epochs. On CIFAR-10 as in the paper; on
# Fashion-MNIST (28 x 28 x 1: maps of 13, 6 and 2 pixels, 9,248 hidden units) as a stand-in for the
# CIFAR-10 page when CIFAR-10 is not available.
for _variant, _extra in _LRG_VARIANTS.items():
    for _data, _prefix, _shape in (("cifar10", "cifar10", (3, 32)), ("fashion-mnist", "fashion", (1, 28))):
        register(
            ModelSpec(
                name=f"{_prefix}-lrg-cnn-{_variant}",
                arch="strided_cnn",
                arch_kwargs={"in_channels": _shape[0], "image_size": _shape[1], "n_classes": 10, **_extra},
                dataset=_data,
                value_range=(-1.0, 1.0),
                epochs=50,
                batch_size=256,
                lr=1e-3,
                trainer_kwargs={"validation": 5000, "patience": 3},
                description=f"stride-2 CNN ({_variant}) of Zhang & Wu's Appendix E on {_data}"
                + ("" if _data == "cifar10" else " (a stand-in for CIFAR-10)"),
                papers=("LRG",),
            )
        )

# The feature-space hulls paper's ResNet-20 (He et al.'s CIFAR network: 3 stages of 3 basic blocks, 16/32/64
# channels, global average pooling, 64 features, a 64 -> 10 layer). The paper used a pretrained MATLAB model
# (about 91 % on CIFAR-10); ours is trained with He et al.'s recipe: SGD with momentum 0.9, weight decay
# 1e-4, batches of 128, lr 0.1 divided by 10 at 50 % and 75 % of training, random crops (4-pixel padding)
# and flips, about 164 epochs (64,000 steps). On CIFAR-10 when it is present; on Fashion-MNIST (one input
# channel) as the labelled stand-in. Profiles shorten the training.
for _data, _prefix, _channels in (("cifar10", "cifar10", 3), ("fashion-mnist", "fashion", 1)):
    register(
        ModelSpec(
            name=f"{_prefix}-resnet20",
            arch="cifar_resnet",
            arch_kwargs={"depth": 20, "in_channels": _channels, "n_classes": 10},
            dataset=_data,
            epochs=164,
            batch_size=128,
            optimizer="sgd",
            lr=0.1,
            weight_decay=1e-4,
            lr_milestones=(0.5, 0.75),
            augment="crop_flip",
            description=f"ResNet-20 on {_data} (the feature-space hulls paper's network)"
            + ("" if _data == "cifar10" else ", a stand-in for CIFAR-10"),
            papers=("FSH",),
        )
    )

# The natural-image-spaces paper's networks. Table 2 uses the CleverHans CIFAR-10 tutorial model (the
# all-convolutional net, 64 base filters) with the tutorial's training: Adam at 1e-3, batches of 128 (its
# pages build those networks themselves, for the epochs they state). The zoo's copy is Table 1's base
# classifier, a regular run "terminated at a premature stage before over-fitting" of a network the paper
# does not name: the same model, stopped early on a held-out split (the last 5,000 training images, patience
# 3, at most 30 epochs, the best epoch's weights kept). On Fashion-MNIST (the stand-in) also an 8-filter
# version, 1/64 of the work per image, for a 2-core CPU.
for _data, _prefix, _channels, _size in (("cifar10", "cifar10", 3, 32), ("fashion-mnist", "fashion", 1, 28)):
    for _width, _suffix in ((64, ""), (8, "-w8")):
        if _data == "cifar10" and _width != 64:
            continue
        register(
            ModelSpec(
                name=f"{_prefix}-allconv{_suffix}",
                arch="all_convolutional",
                arch_kwargs={"base_filters": _width, "in_channels": _channels, "image_size": _size, "n_classes": 10},
                dataset=_data,
                epochs=30,
                batch_size=128,
                lr=1e-3,
                trainer_kwargs={"validation": 5000, "patience": 3},
                description=f"all-convolutional net ({_width} base filters) of the CleverHans tutorial on {_data}, "
                "stopped early" + ("" if _data == "cifar10" else ", a stand-in for CIFAR-10"),
                papers=("NIS",),
            )
        )

# The 3 x 10 nets of Appendix A on the two-spirals toy (Figures 7-8): Adam at 1e-3; the paper gives no
# batch size or length of training, ours: batches of 64 for 300 epochs (4,000 points), dropout 0.2.
for _variant, _extra in _LRG_VARIANTS.items():
    register(
        ModelSpec(
            name=f"spirals-lrg10-{_variant}",
            arch="mlp",
            arch_kwargs={"in_features": 2, "hidden": [10, 10, 10], "n_classes": 2, "init": "xavier_uniform", **_extra},
            dataset="two-spirals",
            epochs=300,
            batch_size=64,
            lr=1e-3,
            description=f"3 x 10 ReLU ({_variant}) on the two-spirals toy (Zhang & Wu, Appendix A)",
            papers=("LRG",),
        )
    )


def spec(name: str, profile: str | None = None, **overrides: Any) -> ModelSpec:
    """The registered spec ``name``, with the profile's zoo overrides and then ``overrides`` applied.

    ``name`` may also be a further training run ``"<model>@run<k>"`` (see :func:`run_name`): the spec of
    ``<model>`` with its seed raised by ``k`` after the overrides.
    """
    m = _RUN.match(name)
    base, run = (m["base"], int(m["run"])) if m else (name, 0)
    if base not in REGISTRY:
        raise ValueError(
            f"unknown model {name!r}; the zoo has: {', '.join(names())} "
            "(and '<name>@run<k>' for a further training run)"
        )
    merged: dict[str, Any] = {}
    if profile is not None:
        zoo_cfg = load_profile(profile).get("zoo", {}) or {}
        merged.update(zoo_cfg.get("overrides", {}) or {})
        merged.update((zoo_cfg.get("models", {}) or {}).get(base, {}) or {})
    merged.update(overrides)
    if "penalty" in merged:
        merged["penalty"] = tuple(float(v) for v in merged["penalty"])
    if "lr_milestones" in merged:  # a profile's YAML list
        merged["lr_milestones"] = tuple(float(v) for v in merged["lr_milestones"])
    if "trainer_kwargs" in merged:  # merged into the registered ones, so a profile can change one setting
        merged["trainer_kwargs"] = {**REGISTRY[base].trainer_kwargs, **(merged["trainer_kwargs"] or {})}
    bad = set(merged) - _OVERRIDABLE
    if bad:
        raise ValueError(f"cannot override {sorted(bad)} of model {name!r}; allowed: {sorted(_OVERRIDABLE)}")
    s = dataclasses.replace(REGISTRY[base], **merged)
    return dataclasses.replace(s, name=name, seed=s.seed + run) if run else s


def cache_dir() -> Path:
    """Root of the model cache: ``NNGEOM_CACHE`` or ``~/.cache/nngeom/models``."""
    env = os.environ.get("NNGEOM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nngeom" / "models"


def entry_dir(s: ModelSpec) -> Path:
    return cache_dir() / f"{s.name}-{s.key()}"


def metadata(s: ModelSpec) -> dict[str, Any] | None:
    """The saved metadata of a trained spec, or ``None`` if it has not been trained."""
    meta = entry_dir(s) / "meta.json"
    return json.loads(meta.read_text()) if meta.exists() else None


def training_part(x: torch.Tensor, y: torch.Tensor, part: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole training set (``part=None``), its first half (``"P1"``) or its second half (``"P2"``)."""
    if part is None:
        return x, y
    if part not in TRAIN_PARTS:
        raise ValueError(f"parameter 'part' must be None or one of {TRAIN_PARTS}, got {part!r}")
    half = len(y) // 2
    sl = slice(0, half) if part == "P1" else slice(half, len(y))
    return x[sl], y[sl]


def _split(s: ModelSpec, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    if s.dataset in TOY_DATASETS:
        return toy_tensors(s.dataset, split)
    return nndata.tensors(s.dataset, split, value_range=s.value_range, flatten=s.flatten)


def _fit(
    s: ModelSpec,
    model: nn.Module,
    x_train,
    y_train,
    x_test,
    y_test,
    device: torch.device,
    progress: bool,
    extra_loss,
    kwargs: dict[str, Any],
):
    return train_classifier(
        model,
        (x_train, y_train),
        (x_test, y_test),
        epochs=s.epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        optimizer=s.optimizer,
        weight_decay=s.weight_decay,
        penalty=s.penalty,
        penalty_form=s.penalty_form,
        seed=s.seed,
        device=device,
        progress=progress,
        desc=f"training {s.name}",
        extra_loss=extra_loss,
        lr_milestones=s.lr_milestones,
        augment=s.augment,
        # a supervised spec's trainer_kwargs are train_classifier's own options (early stopping)
        **(kwargs if s.trainer == "supervised" else {}),
    )


def _train(s: ModelSpec, device: torch.device, progress: bool) -> tuple[nn.Module, dict[str, Any]]:
    x_train, y_train = _split(s, "train")
    x_train, y_train = training_part(x_train, y_train, s.train_part)
    x_train, y_train = x_train[: s.train_limit], y_train[: s.train_limit]
    x_test, y_test = _split(s, "test")
    model = _initial(s).to(device)
    extra: dict[str, Any] = {}
    extra_loss = None
    kwargs = dict(s.trainer_kwargs)
    if s.trainer == "sparse_autoencoder":
        # Unsupervised pretraining of the first layer, then the softmax on the frozen code.
        encoder = models.split_after_hidden(model, 0)[1][0]
        extra["autoencoder_history"] = pretrain_sparse_autoencoder(
            encoder,
            x_train,
            batch_size=s.batch_size,
            lr=s.lr,
            seed=s.seed,
            progress=progress,
            desc=f"autoencoder {s.name}",
            **kwargs,
        )
        encoder.requires_grad_(False)
    elif s.trainer == "adversarial_pool":
        extra_loss = AdversarialPool(model, x_train.to(device), y_train.to(device), seed=s.seed, **kwargs)
    # a toy-sized net (the 3 x 10 spirals nets: ~300 weights) trains far faster on one thread
    threads = 1 if sum(p.numel() for p in model.parameters()) < 2_000 else torch.get_num_threads()
    with torch_threads(threads):
        result = _fit(s, model, x_train, y_train, x_test, y_test, device, progress, extra_loss, kwargs)
    model.requires_grad_(True)
    if extra_loss is not None:
        extra["adversarial_pool"] = extra_loss.stats()
    meta = {
        "name": s.name,
        "key": s.key(),
        "spec": s.recipe(),
        "description": s.description,
        "test_accuracy": result.test_accuracy,
        "train_accuracy": result.train_accuracy,
        "train_seconds": result.seconds,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "history": result.history,
        **extra,
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return model, meta


def _initial(s: ModelSpec) -> nn.Module:
    torch.manual_seed(s.seed)  # the initial weights
    return models.build(s.arch, **s.arch_kwargs)


def initial(
    name: str, profile: str | None = None, device: str | torch.device | None = "auto", **overrides: Any
) -> nn.Module:
    """The untrained model ``name`` with exactly the initial weights its training started from (eval mode):
    the spec's seed, then the architecture's own initialisation, as in training. Trains nothing."""
    model = _initial(spec(name, profile, **overrides))
    return model.to(resolve_device(device)).eval()


def load(
    name: str,
    profile: str | None = None,
    device: str | torch.device | None = "auto",
    progress: bool = True,
    **overrides: Any,
) -> nn.Module:
    """The trained model ``name`` (eval mode, on ``device``), training and caching it on first use.

    The returned module carries its metadata as ``model.nngeom_meta`` (test accuracy, training time, spec).

    Example:
        >>> model = load("mnist-mlp-200-200", profile="smoke")   # trains once, then reads the cache
        >>> model.nngeom_meta["test_accuracy"]
    """
    s = spec(name, profile, **overrides)
    dev = resolve_device(device)
    target = entry_dir(s)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "meta.json").exists():
            model, meta = _train(s, dev, progress)
            with atomic_directory(target) as tmp:
                torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp / "weights.pt")
                # meta.json is written last: its presence marks a complete entry.
                atomic_write_json(tmp / "meta.json", meta)
    meta = json.loads((target / "meta.json").read_text())
    model = models.build(s.arch, **s.arch_kwargs)
    model.load_state_dict(torch.load(target / "weights.pt", map_location="cpu", weights_only=True))
    model.to(dev).eval()
    model.nngeom_meta = meta  # type: ignore[attr-defined]
    return model


def describe(model: nn.Module) -> str:
    """A one-line Markdown summary of a zoo model for a page: name, architecture, recipe, test accuracy."""
    meta = model.nngeom_meta  # type: ignore[attr-defined]
    sp = meta["spec"]
    penalty = f"penalty {sp['penalty']} ({sp['penalty_form']})" if sp.get("penalty") else "no penalty"
    epochs = f"{sp['epochs']} epochs"
    held_out = [h["val_accuracy"] for h in meta.get("history", []) if "val_accuracy" in h]
    if held_out:  # early stopping: training keeps the first epoch with the best held-out accuracy
        kw = sp.get("trainer_kwargs", {})
        best = 1 + held_out.index(max(held_out))
        ran = (
            f"stopped early after {len(held_out)} of at most {sp['epochs']} epochs"
            if len(held_out) < sp["epochs"]
            else f"all {sp['epochs']} epochs with early stopping, which did not trigger"
        )
        epochs = (
            f"{ran} (the weights of epoch {best} kept, the best on the last {kw.get('validation', 0):,} images "
            f"held out; patience {kw.get('patience', 0)})"
        )
    return (
        f"`{meta['name']}`: {sp['arch']} {sp['arch_kwargs']}, {epochs} on {meta['n_train']:,} "
        f"training images ({sp['optimizer']}, lr {sp['lr']}, batch {sp['batch_size']}), {penalty}; "
        f"test accuracy **{meta['test_accuracy']:.2%}**."
    )


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nngeom.core.zoo", description="Build or list zoo models.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="train (if needed) and cache a model")
    b.add_argument("name")
    b.add_argument("--profile", default=None)
    b.add_argument("--device", default="auto")
    b.add_argument("--marker", default=None, help="write the model's metadata here (a workflow target)")
    sub.add_parser("list", help="list the registered models")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for n in names():
            print(f"{n}: {REGISTRY[n].description}")
        return 0
    try:
        model = load(args.name, profile=args.profile, device=args.device)
    except (ValueError, nndata.DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    meta = model.nngeom_meta  # type: ignore[attr-defined]
    print(
        f"{args.name}: test accuracy {meta['test_accuracy']:.4f}, cached in {entry_dir(spec(args.name, args.profile))}"
    )
    if args.marker:
        atomic_write_json(args.marker, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
