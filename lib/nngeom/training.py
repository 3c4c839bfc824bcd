"""Supervised training of a classifier on in-memory tensors, seeded and device-agnostic."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from nngeom.validation import check_choice, check_positive, check_positive_int

__all__ = ["TrainResult", "train_classifier", "accuracy"]


@dataclass
class TrainResult:
    test_accuracy: float
    train_accuracy: float
    seconds: float
    history: list[dict] = field(default_factory=list)


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 4096) -> float:
    """Fraction of ``x`` whose argmax logit equals ``y``."""
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        correct += (model(xb.to(device)).argmax(1) == yb.to(device)).sum().item()
    return correct / len(y)


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
    seed: int = 0,
    device: Optional[torch.device] = None,
    progress: bool = True,
    desc: str = "training",
) -> TrainResult:
    """Minimise cross-entropy with mini-batches drawn by a seeded permutation each epoch.

    Data stay in memory (MNIST-sized sets): indexing a tensor is much faster than a DataLoader here, and
    the seeded permutation makes the run repeatable on one machine.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive("lr", lr)
    check_choice("optimizer", optimizer, ["adam", "sgd"])
    device = device or next(model.parameters()).device
    model.to(device)
    x_train, y_train = train[0].to(device), train[1].to(device)
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    n = len(y_train)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    history: list[dict] = []
    start = time.perf_counter()
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc, disable=not progress, leave=False)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for idx in order.split(batch_size):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            bar.update(1)
        history.append({"epoch": epoch + 1, "train_loss": total / n})
        bar.set_postfix(loss=f"{total / n:.4f}")
    bar.close()
    seconds = time.perf_counter() - start
    model.eval()
    return TrainResult(
        test_accuracy=accuracy(model, *test),
        train_accuracy=accuracy(model, x_train, y_train),
        seconds=seconds,
        history=history,
    )
