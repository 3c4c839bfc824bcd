"""Protocols of Zhang & Wu's section 3: which linear regions are studied, and their inspheres.

Three categories of regions (section 3.2):

* **manifold**: the region of a test point;
* **decision**: the region holding the decision boundary met on the way from the test point to the mean
  image of another class;
* **adversarial**: the region holding the boundary met on the way to a PGD adversarial example.

For the last two, :func:`nngeom.regions.last_point_of_class` finds the largest ``alpha`` at which the
point of the segment is still in the test point's class, exactly. :func:`inradii` then solves the
Chebyshev-ball LP of every region over worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np
import torch
from torch import Tensor, nn

from nngeom.attacks import PGD
from nngeom.device import torch_threads
from nngeom.experiments import random_other_targets
from nngeom.models import UnitBoxInput, output_width
from nngeom.polytope import chebyshev_ball, solve_many
from nngeom.regions import last_point_of_class, region_constraints

__all__ = ["CATEGORIES", "RegionSample", "class_means", "region_sample", "inradii"]

CATEGORIES = ("manifold", "decision", "adversarial")


def class_means(x: Tensor, y: Tensor, n_classes: int) -> Tensor:
    """The mean image of every class ``[n_classes, ...]``."""
    return torch.stack([x[y == c].mean(0) for c in range(n_classes)])


@dataclass
class RegionSample:
    """A point inside each studied region, per category, with what led to it.

    ``points[c]`` ``[n_c, ...]`` lie inside the regions of category ``c``; ``source[c]`` gives the index of
    the test point each came from; ``alpha[c]`` the position of the boundary on the segment (decision and
    adversarial); ``counts`` what was dropped and why.
    """

    points: dict[str, Tensor]
    source: dict[str, np.ndarray]
    alpha: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor) -> Tensor:
    return model(x).argmax(1).cpu()


def region_sample(model: nn.Module, x: Tensor, means: Tensor, value_range: tuple[float, float],
                  pgd: Optional[dict] = None, seed: int = 0) -> RegionSample:
    """Points inside the manifold, decision and adversarial regions of the test points ``x``.

    The decision target of each test point is the mean of a class drawn uniformly from the classes other
    than its predicted one (the paper says "another class"). Segments whose target is not classified as
    a different class hold no boundary and are dropped, as are test points PGD fails on. ``pgd``: keyword
    arguments of :class:`nngeom.attacks.PGD` in units of the [0, 1] box (default eps 0.1, alpha 0.01,
    40 steps).
    """
    lo, hi = value_range
    dev = next(model.parameters()).device
    x = x.to(dev)
    pred = _predict(model, x)
    g = torch.Generator().manual_seed(seed)
    other = random_other_targets(pred, output_width(model), generator=g)
    targets = means.to(dev)[other]
    sample = RegionSample(points={"manifold": x.cpu()}, source={"manifold": np.arange(len(x))})
    # decision: towards another class's mean
    ok = (_predict(model, targets) != pred).numpy()
    sample.counts["decision_target_same_class"] = int((~ok).sum())
    _boundary(sample, "decision", model, x, targets, pred, ok)
    # adversarial: towards an untargeted PGD example of the predicted class
    wrapped = UnitBoxInput(model, lo, hi)
    attack = PGD(wrapped, seed=seed, **{"eps": 0.1, "alpha": 0.01, "steps": 40, **(pgd or {})})
    x_adv = wrapped.from_unit(attack(wrapped.to_unit(x).clamp(0, 1), pred.to(dev)).to(dev))
    ok = (_predict(model, x_adv) != pred).numpy()
    sample.counts["pgd_failed"] = int((~ok).sum())
    _boundary(sample, "adversarial", model, x, x_adv, pred, ok)
    return sample


def _boundary(sample: RegionSample, category: str, model: nn.Module, x: Tensor, targets: Tensor, pred: Tensor,
              ok: np.ndarray) -> None:
    """Fill ``sample`` for one category from the segments ``x[ok] -> targets[ok]`` (none: empty)."""
    idx = np.flatnonzero(ok)
    if len(idx):
        alpha, inner = last_point_of_class(model, x[idx], targets[idx], pred[idx])
        sample.points[category], sample.alpha[category] = inner.cpu(), alpha.numpy()
    else:
        sample.points[category], sample.alpha[category] = x[:0].cpu(), np.zeros(0)
    sample.source[category] = idx


def _ball_jobs(model: nn.Module, points: Tensor, lo: float, hi: float, batch: int) -> Iterator[tuple[tuple, dict]]:
    for chunk in points.split(batch):
        reg = region_constraints(model, chunk)
        for i in range(len(chunk)):
            yield (reg.W[i].numpy(), reg.b[i].numpy(), lo, hi), {"hint": chunk[i].double().reshape(-1).numpy()}


def inradii(model: nn.Module, points: Tensor, value_range: tuple[float, float], workers: int = 1,
            progress: bool = True, desc: str = "inradius LPs") -> tuple[np.ndarray, list[dict]]:
    """The inradius (eq. 5, with the input box) of the linear region of every point: ``(r [n], infos)``.

    The regions are built a few at a time and their LPs solved over ``workers`` processes.
    """
    lo, hi = value_range
    if len(points) == 0:
        return np.zeros(0), []
    # the workers hold the cores: building regions on one thread avoids oversubscribing them
    with torch_threads(1 if workers > 1 else torch.get_num_threads()):
        out = solve_many(chebyshev_ball, _ball_jobs(model, points, lo, hi, batch=4), workers=workers,
                         total=len(points), progress=progress, desc=desc)
    return np.array([r for _, r, _ in out]), [info for _, _, info in out]
