"""What the openings of several papers' pages share: the choice between CIFAR-10 and its stand-in."""

from __future__ import annotations

from nngeom.core import data
from nngeom.core.validation import check_choice

__all__ = ["cifar_or_stand_in"]


def cifar_or_stand_in(dataset: str) -> tuple[str, str]:
    """The data set of a CIFAR-10 page: ``"cifar10"`` or ``"fashion-mnist"`` as asked, or for ``"auto"``
    CIFAR-10 when it is under the data root (extracted, or as ``cifar-10-python.tar.gz``) and else the
    Fashion-MNIST stand-in. Returns ``(dataset, how the page's header names it)``."""
    check_choice("dataset", dataset, ["auto", "cifar10", "fashion-mnist"])
    if dataset == "auto":
        # the extracted batches, or the archive that the first load extracts (a bad archive is a DataError there)
        present = data.available("cifar10") or (data.data_root() / "cifar-10-python.tar.gz").is_file()
        dataset = "cifar10" if present else "fashion-mnist"
    shown = (
        "CIFAR-10" if dataset == "cifar10" else "Fashion-MNIST, a **stand-in** for CIFAR-10 (absent on this machine)"
    )
    return dataset, shown
