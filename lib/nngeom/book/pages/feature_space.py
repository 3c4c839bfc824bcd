"""The opening of the feature-space pages: the data set, its ResNet-20 and the features of its images."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from IPython.display import Markdown, display
from torch import Tensor, nn

from nngeom.book.notebook import start_page
from nngeom.book.pages.common import cifar_or_stand_in
from nngeom.book.report import Metrics
from nngeom.core import data, zoo
from nngeom.core.io import atomic_write_bytes
from nngeom.core.validation import check_nonnegative_int
from nngeom.feature_space.flips import features, split_last_linear
from nngeom.solvers.hull import HullProjection, hull_projection

__all__ = ["FEATURE_SPACE_DATA", "FeatureSpaceSetting", "open_feature_space_page"]


#: The data set of each feature-space page: the paper's CIFAR-10 when it is under the data root, else the
#: Fashion-MNIST stand-in; each with its ResNet-20 of the zoo.
FEATURE_SPACE_DATA = {
    "cifar10": ("CIFAR-10", "cifar10-resnet20"),
    "fashion-mnist": ("Fashion-MNIST", "fashion-resnet20"),
}


@dataclass
class FeatureSpaceSetting:
    """What every feature-space page works on (:func:`open_feature_space_page`). Images are ``[N, C, H, W]``
    in the box ``(0, 1)``, features ``[N, 64]`` (float32, CPU); ``weight [10, 64]`` and ``bias [10]`` are the
    last linear layer's."""

    cache: Path  # where results of this model that several pages need are kept (see :func:`_cached`)
    device: torch.device
    metrics: Metrics
    model: nn.Module
    dataset: str  # "cifar10" or "fashion-mnist"
    data: str  # its display name, as the scoreboard records it
    classes: list[str]
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    f_train: Tensor
    f_test: Tensor
    weight: Tensor
    bias: Tensor

    @property
    def stand_in(self) -> bool:
        """The page runs on Fashion-MNIST in place of the paper's CIFAR-10."""
        return self.dataset != "cifar10"

    def label(self, text: str) -> str:
        """``text`` prefixed with "Fashion-MNIST stand-in: " on the stand-in (captions, table titles)."""
        return f"Fashion-MNIST stand-in: {text}" if self.stand_in else text

    def item(self, item_id: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`nngeom.book.report.Metrics.item` with this page's data set (the scoreboard then shows
        *stand-in* on the stand-in) and a note saying so."""
        note = kwargs.pop("note", "")
        if self.stand_in:
            note = "Fashion-MNIST stand-in for CIFAR-10 (absent here), same ResNet-20 architecture" + (
                f"; {note}" if note else ""
            )
        return self.metrics.item(item_id, data=self.data, note=note, **kwargs)

    def test_hull(self) -> HullProjection:
        """The certified projection of every test image's features onto the hull of the training features
        (:func:`nngeom.solvers.hull.hull_projection`), computed once per model and kept for the other pages."""
        return _cached(self.cache / f"{self.dataset}-hull-{len(self.f_train)}-{len(self.f_test)}.pt",
                       lambda: hull_projection(self.f_train, self.f_test))  # fmt: skip

    def predict(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """The model's classes of images ``x`` (CPU)."""
        with torch.no_grad():
            return torch.cat([self.model(c.to(self.device)).argmax(1).cpu() for c in x.split(batch_size)])

    def classify(self, f: Tensor) -> Tensor:
        """The classes the last layer gives feature vectors ``f [N, 64]``."""
        return (torch.as_tensor(f).float() @ self.weight.T + self.bias).argmax(1)

    def ood_images(self, limit: int | None = None) -> Tensor:
        """MNIST test images (the paper's out-of-distribution set) in the model's input format: as they are
        for the 28 x 28 grey stand-in; for CIFAR-10 padded by 2 pixels to 32 x 32 and repeated over the three
        colour channels."""
        x, _ = data.tensors("mnist", "test", limit=limit)
        if self.dataset == "cifar10":
            x = torch.nn.functional.pad(x, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()
        return x


def _cached(path: Path, compute: Callable[[], Any]) -> Any:
    """``compute()``, kept at ``path`` (written atomically) and read back on later calls: for what several
    pages compute from the same trained model and data (features, the test set's hull projections). The
    model's zoo entry is keyed by its full specification and the data are checksummed, so the file stays valid
    for as long as the entry exists."""
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=False)
    value = compute()
    buf = io.BytesIO()
    torch.save(value, buf)
    atomic_write_bytes(path, buf.getvalue())
    return value


def open_feature_space_page(
    key: str,
    profile: str,
    metrics_path: str,
    *,
    seed: int,
    device: str,
    dataset: str = "auto",
    train_limit: int = 0,
    test_limit: int = 0,
) -> FeatureSpaceSetting:
    """The opening of a feature-space page: which data set it runs on (``dataset="auto"``: CIFAR-10 when it
    is under the data root, extracted or as ``cifar-10-python.tar.gz``, else the Fashion-MNIST stand-in),
    its ResNet-20 from the zoo (trained on first use), the training and test images (the first
    ``train_limit`` / ``test_limit`` of each, 0 for all) and their features. Shows what was loaded and
    returns a :class:`FeatureSpaceSetting`."""
    check_nonnegative_int("train_limit", train_limit)
    check_nonnegative_int("test_limit", test_limit)
    dataset, shown = cifar_or_stand_in(dataset)
    name, model_name = FEATURE_SPACE_DATA[dataset]
    dev, metrics = start_page(key, profile, metrics_path, seed=seed, device=device, data=shown)
    model = zoo.load(model_name, profile=profile, device=dev)
    x_train, y_train = data.tensors(dataset, "train", limit=train_limit or None)
    x_test, y_test = data.tensors(dataset, "test", limit=test_limit or None)
    cache = zoo.entry_dir(zoo.spec(model_name, profile)) / "features"
    f_train = _cached(cache / f"{dataset}-train-{len(x_train)}.pt", lambda: features(model, x_train))
    f_test = _cached(cache / f"{dataset}-test-{len(x_test)}.pt", lambda: features(model, x_test))
    _, last = split_last_linear(model)
    display(Markdown(f"- **model**: {zoo.describe(model)}\n- **images**: {len(x_train):,} training and "
                     f"{len(x_test):,} test images of {name}; their features: the {f_train.shape[1]} outputs "
                     "of the global average pooling, the input of the last linear layer"))  # fmt: skip
    metrics.value("dataset", dataset)
    metrics.value("n_train", len(x_train))
    metrics.value("n_test", len(x_test))
    metrics.value("test_accuracy", 100 * model.nngeom_meta["test_accuracy"])
    return FeatureSpaceSetting(cache, dev, metrics, model, dataset, name, data.class_names(dataset), x_train, y_train,
                               x_test, y_test, f_train, f_test, last.weight.detach().cpu(),
                               last.bias.detach().cpu())  # fmt: skip
