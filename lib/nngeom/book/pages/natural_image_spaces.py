"""The opening of the natural-image-spaces pages: the data set and the all-convolutional net of the zoo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from nngeom.book.notebook import start_page
from nngeom.book.pages.common import cifar_or_stand_in
from nngeom.book.report import Metrics
from nngeom.core import data, models, zoo
from nngeom.core.validation import check_choice, check_nonnegative_int

__all__ = ["NaturalImageSetting", "open_natural_image_page"]


@dataclass
class NaturalImageSetting:
    """What :func:`open_natural_image_page` loaded for a natural-image-spaces page."""

    device: torch.device
    metrics: Metrics
    dataset: str  # "cifar10" or "fashion-mnist"
    model_name: str  # the zoo's all-convolutional net for this data set and width
    spec: zoo.ModelSpec
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: list[str]

    @property
    def stand_in(self) -> bool:
        """The page runs on Fashion-MNIST in place of the paper's CIFAR-10."""
        return self.dataset != "cifar10"

    def label(self, text: str) -> str:
        """``text`` prefixed with "Fashion-MNIST stand-in: " on the stand-in (captions, table titles)."""
        return f"Fashion-MNIST stand-in: {text}" if self.stand_in else text

    def data_name(self) -> str:
        """The data set as :meth:`nngeom.book.report.Metrics.item` names it."""
        return "Fashion-MNIST" if self.stand_in else "CIFAR-10"

    def note(self, text: str) -> str:
        """An item's note, saying so on the stand-in."""
        return ("Fashion-MNIST stand-in for CIFAR-10 (absent here); " if self.stand_in else "") + text

    def illusive_cache(self, epochs: int, batch_size: int, lr: float) -> Path:
        """Where the regular runs and the runs without illusive samples of this data, architecture and
        schedule are kept (:func:`nngeom.natural_image_spaces.studies.with_and_without_illusive`), shared
        by the pages that use them (Figure 2, Table 2)."""
        arch = "-".join(f"{k}{v}" for k, v in sorted(self.spec.arch_kwargs.items()))
        name = f"{self.dataset}-{self.spec.arch}-{arch}-n{len(self.y_train)}-t{len(self.y_test)}"
        return zoo.cache_dir() / "nis-illusive" / f"{name}-e{epochs}-b{batch_size}-lr{lr:g}"

    @property
    def build(self) -> models.Builder:
        """Fresh, untrained networks of the page's architecture: ``build()``, or ``build(n_classes)`` for another
        number of outputs (a :class:`nngeom.core.models.Builder`, which worker processes can be sent)."""
        return models.Builder(self.spec.arch, dict(self.spec.arch_kwargs))


def open_natural_image_page(
    key: str,
    profile: str,
    metrics_path: str,
    *,
    seed: int,
    device: str,
    dataset: str = "auto",
    model_width: int = 8,
    train_limit: int = 0,
    test_limit: int = 0,
) -> NaturalImageSetting:
    """The opening of a natural-image-spaces page: the data set
    (:func:`nngeom.book.pages.common.cifar_or_stand_in`), the zoo's all-convolutional net of the paper's Table 2
    for it (64 base filters on CIFAR-10; 8 or 64 on the Fashion-MNIST stand-in, ``model_width``), and the first
    ``train_limit`` / ``test_limit`` training and test images (0 for all). Nothing is trained here: a page loads
    the model or builds fresh ones."""
    check_choice("model_width", model_width, [8, 64])
    check_nonnegative_int("train_limit", train_limit)
    check_nonnegative_int("test_limit", test_limit)
    dataset, shown = cifar_or_stand_in(dataset)
    dev, metrics = start_page(key, profile, metrics_path, seed=seed, device=device, data=shown)
    if dataset == "cifar10":
        model_name = "cifar10-allconv"
    else:
        model_name = "fashion-allconv-w8" if model_width == 8 else "fashion-allconv"
    x_train, y_train = data.tensors(dataset, "train", limit=train_limit or None)
    x_test, y_test = data.tensors(dataset, "test", limit=test_limit or None)
    metrics.value("dataset", dataset)
    return NaturalImageSetting(dev, metrics, dataset, model_name, zoo.spec(model_name, profile), x_train, y_train,
                               x_test, y_test, data.class_names(dataset))  # fmt: skip
