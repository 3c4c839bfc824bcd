"""Supervised training of a classifier on in-memory tensors, seeded and device-agnostic."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm import tqdm

from nngeom.core.device import model_device, predict
from nngeom.core.validation import (
    check_choice,
    check_in_open_interval,
    check_nonnegative_int,
    check_positive,
    check_positive_int,
)

__all__ = [
    "TrainResult",
    "train_classifier",
    "crop_flip",
    "pretrain_sparse_autoencoder",
    "accuracy",
    "weight_layers",
    "weight_penalty",
    "PENALTY_FORMS",
]


@dataclass
class TrainResult:
    test_accuracy: float
    train_accuracy: float
    seconds: float
    history: list[dict] = field(default_factory=list)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The layers with a weight matrix or kernel (``Linear`` and ``Conv*``), in forward order."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]


PENALTY_FORMS = ("squared_over_units", "norm_over_size")


def weight_penalty(model: nn.Module, lambdas: Sequence[float], form: str = "squared_over_units") -> Tensor:
    """Per-layer weight regulariser, summed over the layers of :func:`weight_layers` (biases are free).

    ``form="squared_over_units"``: ``lambda_l * sum(W_l^2) / k_l`` with ``k_l`` the number of units
    (output rows or channels) of the layer, Szegedy et al.'s weight decay for the FC10(lambda) nets.
    ``form="norm_over_size"``: ``lambda_l * ||W_l||_2 / N_l`` with ``N_l`` the number of weights, the
    formula as printed in Bell's thesis (section 5.1.2). One lambda per weight layer, or one for all.
    """
    if form not in PENALTY_FORMS:
        raise ValueError(f"parameter 'penalty_form' must be one of {PENALTY_FORMS}, got {form!r}")
    layers = weight_layers(model)
    lam = list(lambdas)
    if len(lam) == 1:
        lam = lam * len(layers)
    if len(lam) != len(layers):
        raise ValueError(f"parameter 'penalty' needs 1 or {len(layers)} values (one per weight layer), got {len(lam)}")
    total = torch.zeros((), device=layers[0].weight.device)
    for lam_l, layer in zip(lam, layers):
        w = layer.weight
        if not lam_l:
            continue
        if form == "squared_over_units":
            total = total + lam_l * w.pow(2).sum() / w.shape[0]
        else:
            total = total + lam_l * w.norm() / w.numel()
    return total


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 4096) -> float:
    """Fraction of ``x`` whose argmax logit equals ``y``."""
    return (predict(model, x, batch_size).cpu() == y.cpu()).sum().item() / len(y)


def train_classifier(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    penalty: Sequence[float] = (),
    penalty_form: str = "squared_over_units",
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = True,
    desc: str = "training",
    extra_loss: Callable[[nn.Module, int], Tensor] | None = None,
    validation: int = 0,
    patience: int = 0,
    lr_milestones: Sequence[float] = (),
    augment: str = "none",
    batch_transform: Callable[[Tensor, Tensor, torch.Generator], tuple[Tensor, Tensor]] | None = None,
    observe: Callable[[int, Tensor, Tensor], None] | None = None,
    after_epoch: Callable[[int, nn.Module], None] | None = None,
) -> TrainResult:
    """Minimise cross-entropy with mini-batches drawn by a seeded permutation each epoch.

    ``lr_milestones``: fractions of the training (in steps) after which the learning rate is divided by
    10 (He et al.'s CIFAR schedule is ``(0.5, 0.75)``). ``augment="crop_flip"`` shows each batch of images
    ``[N, C, H, W]`` randomly shifted within a 4-pixel zero padding and flipped left-right with probability
    1/2 (He et al.'s CIFAR augmentation), drawn from the same seeded generator as the batches.

    ``penalty`` (one lambda per weight layer, or one for all; empty: none) adds :func:`weight_penalty`
    of form ``penalty_form`` to the loss; ``weight_decay`` is the optimiser's own decay. ``extra_loss``
    is called as ``extra_loss(model, step)`` at every step and its value added to the loss (e.g.
    :class:`nngeom.core.adversarial_training.AdversarialPool`).

    Hooks, for studies of the training itself: ``batch_transform(x, y, generator) -> (x, y)`` replaces each
    batch (after augmentation) before the forward pass, e.g. to append samples of an extra class (it must
    keep the batch's own samples first and in order);
    ``observe(epoch, idx, logits)`` sees every batch's logits (detached, training mode, before the step)
    with ``idx`` the batch's indices into the training set, so per-sample statistics cost no extra pass;
    ``after_epoch(epoch, model)`` is called after each epoch (in eval mode). ``epoch`` counts from 0.

    Early stopping: ``validation > 0`` holds out the last ``validation`` training examples; after each
    epoch their accuracy is measured, and training stops once it has not improved for ``patience``
    epochs (``patience=0``: run all ``epochs``). The weights of the best epoch are restored.

    Data stay in memory (MNIST-sized sets): indexing a tensor is much faster than a DataLoader here, and
    the seeded permutation makes the run repeatable on one machine.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive("lr", lr)
    check_choice("optimizer", optimizer, ["adam", "sgd"])
    check_choice("penalty_form", penalty_form, list(PENALTY_FORMS))
    check_nonnegative_int("validation", validation)
    check_nonnegative_int("patience", patience)
    check_choice("augment", augment, ["none", "crop_flip"])
    milestones = sorted(float(v) for v in lr_milestones)
    if any(not 0 < v < 1 for v in milestones):
        raise ValueError(f"parameter 'lr_milestones' must be fractions in (0, 1), got {list(lr_milestones)!r}")
    if augment == "crop_flip" and train[0].ndim != 4:
        raise ValueError(f"augment='crop_flip' needs images [N, C, H, W], got shape {tuple(train[0].shape)}")
    if validation >= len(train[1]):
        raise ValueError(
            f"parameter 'validation' must be smaller than the training set ({len(train[1])}), got {validation}"
        )
    if patience and not validation:
        raise ValueError("parameter 'patience' needs a held-out split: set 'validation' > 0")
    device = device or model_device(model)
    model.to(device)
    x_train, y_train = train[0].to(device), train[1].to(device)
    if validation:
        x_val, y_val = x_train[-validation:], y_train[-validation:]
        x_train, y_train = x_train[:-validation], y_train[:-validation]
    best_acc, best_epoch, best_state = -1.0, 0, None
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    n = len(y_train)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    history: list[dict] = []
    decay_at = {int(round(v * epochs * steps_per_epoch)) for v in milestones}
    step = 0
    start = time.perf_counter()
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc, disable=not progress, leave=False)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for idx in order.split(batch_size):
            if step in decay_at:
                for group in opt.param_groups:
                    group["lr"] /= 10
            opt.zero_grad(set_to_none=True)
            xb = x_train[idx] if augment == "none" else crop_flip(x_train[idx], gen)
            yb = y_train[idx]
            if batch_transform is not None:
                xb, yb = batch_transform(xb, yb, gen)
            logits = model(xb)
            if observe is not None:
                observe(epoch, idx, logits[: len(idx)].detach())
            loss = loss_fn(logits, yb)
            if penalty:
                loss = loss + weight_penalty(model, penalty, penalty_form)
            if extra_loss is not None:
                loss = loss + extra_loss(model, step)
            step += 1
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            bar.update(1)
        record = {"epoch": epoch + 1, "train_loss": total / n}
        if after_epoch is not None:
            model.eval()
            after_epoch(epoch, model)
        if validation:
            val_acc = accuracy(model, x_val, y_val)
            record["val_accuracy"] = val_acc
            if val_acc > best_acc:
                best_acc, best_epoch = val_acc, epoch + 1
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(record)
        bar.set_postfix(loss=f"{total / n:.4f}")
        if patience and epoch + 1 - best_epoch >= patience:
            break
    bar.close()
    seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        test_accuracy=accuracy(model, *test),
        train_accuracy=accuracy(model, x_train, y_train),
        seconds=seconds,
        history=history,
    )


def crop_flip(x: Tensor, generator: torch.Generator, pad: int = 4) -> Tensor:
    """Each image of ``x [N, C, H, W]`` shifted by up to ``pad`` pixels in each direction (zeros come in)
    and flipped left-right with probability 1/2; the draws come from ``generator`` (CPU)."""
    n, _, h, w = x.shape
    shift = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).to(x.device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (shift[:, 0, None] + torch.arange(h, device=x.device))[:, :, None]  # [N, H, 1]
    cols = shift[:, 1, None] + torch.arange(w, device=x.device)  # [N, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]  # [N, 1, W]
    out = padded[torch.arange(n, device=x.device)[:, None, None], :, rows, cols]  # [N, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


def pretrain_sparse_autoencoder(
    encoder: nn.Linear,
    x_train: Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    sparsity_target: float = 0.05,
    sparsity_weight: float = 3.0,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
    desc: str = "sparse autoencoder",
) -> list[dict]:
    """Train ``encoder`` (a ``Linear(n, h)`` followed by a sigmoid) as a sparse autoencoder, without labels.

    The decoder is ``sigmoid(Linear(h, n))`` (pixels lie in [0, 1]); the loss per batch is the squared
    reconstruction error (summed over pixels, averaged over images) plus ``sparsity_weight`` times
    ``sum_j KL(rho || rho_hat_j)``, the usual sparsity penalty on each unit's mean activation ``rho_hat_j``
    with target ``rho = sparsity_target``, plus ``weight_decay * (sum W_enc^2 + sum W_dec^2) / 2``.
    Szegedy et al.'s AE400-10 gives no settings beyond "400 sigmoid units"; these defaults are the
    common ones of the sparse-autoencoder literature. The decoder is thrown away. Returns the loss history.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_in_open_interval("sparsity_target", sparsity_target, 0.0, 1.0)
    if not (isinstance(sparsity_weight, (int, float)) and sparsity_weight >= 0):
        raise ValueError(f"parameter 'sparsity_weight' must be a number >= 0, got {sparsity_weight!r}")
    device = encoder.weight.device
    x = x_train.reshape(len(x_train), -1).to(device)
    if x.shape[1] != encoder.in_features:
        raise ValueError(f"x_train has {x.shape[1]} features per item, the encoder expects {encoder.in_features}")
    torch.manual_seed(seed)
    decoder = nn.Linear(encoder.out_features, encoder.in_features).to(device)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=lr)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    rho = torch.tensor(sparsity_target, device=device)
    history: list[dict] = []
    steps = (len(x) + batch_size - 1) // batch_size
    bar = tqdm(total=epochs * steps, desc=desc, disable=not progress, leave=False)
    for epoch in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(x), generator=gen).to(device).split(batch_size):
            xb = x[idx]
            code = torch.sigmoid(encoder(xb))
            recon = torch.sigmoid(decoder(code))
            rho_hat = code.mean(0).clamp(1e-6, 1 - 1e-6)
            kl = (rho * (rho / rho_hat).log() + (1 - rho) * ((1 - rho) / (1 - rho_hat)).log()).sum()
            decay = encoder.weight.pow(2).sum() + decoder.weight.pow(2).sum()
            loss = (recon - xb).pow(2).sum(1).mean() + sparsity_weight * kl + weight_decay * decay / 2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            bar.update(1)
        history.append({"epoch": epoch + 1, "autoencoder_loss": total / len(x)})
        bar.set_postfix(loss=f"{total / len(x):.3f}")
    bar.close()
    return history
