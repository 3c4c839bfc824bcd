"""The paper's over-the-test-set measurements (section 7.2): for every query, the distance to the closest
decision boundary of the last layer and to the hull of the training set, both in feature space; and how
the hull projections are supported by the training set."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nngeom.feature_space.flips import FlipPoints, flip_points
from nngeom.feature_space.geometry import ambiguity
from nngeom.solvers.hull import HullProjection, hull_projection

__all__ = [
    "BoundaryAndHull",
    "boundary_and_hull",
    "support_label_agreement",
    "own_label_share",
    "end_image_in_ball",
    "AdversarialDistances",
    "adversarial_distances",
]


@dataclass
class BoundaryAndHull:
    """Result of :func:`boundary_and_hull` for ``Q`` queries."""

    flips: FlipPoints
    hull: HullProjection

    @property
    def boundary_distance(self) -> Tensor:
        """``[Q]`` d^{f,min}, the distance to the closest decision boundary (eq. 12)."""
        return self.flips.min_distance

    @property
    def hull_distance(self) -> Tensor:
        """``[Q]`` d^h, the distance to the training set's hull (eq. 25)."""
        return self.hull.distance

    @property
    def ambiguity(self) -> Tensor:
        """``[Q]`` d^{f-h} (eq. 26)."""
        return ambiguity(self.boundary_distance, self.hull_distance)

    def hull_closer(self) -> Tensor:
        """``[Q]`` bool: the hull is closer than every boundary (FSH-F10's comparison)."""
        return self.hull_distance < self.boundary_distance


def boundary_and_hull(
    weight: Tensor,
    bias: Tensor,
    train_features: Tensor,
    query_features: Tensor,
    *,
    method: str = "daqp",
    workers: int = 1,
    **hull_kwargs,
) -> BoundaryAndHull:
    """Flip points of every query (:func:`nngeom.feature_space.flips.flip_points`, with the last layer's
    ``weight [C, f]`` and ``bias [C]``) and its projection onto the hull of ``train_features [n, f]``
    (:func:`nngeom.solvers.hull.hull_projection`, which takes ``hull_kwargs``)."""
    flips = flip_points(weight, bias, query_features, method=method, workers=workers)
    return BoundaryAndHull(flips, hull_projection(train_features, query_features, **hull_kwargs))


def _support_labels(hull: HullProjection, train_labels: Tensor, query_labels: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Both label sets as arrays, checked: one query label per projection."""
    train, query = torch.as_tensor(train_labels).cpu().numpy(), torch.as_tensor(query_labels).cpu().numpy()
    if len(query) != len(hull.support_index):
        raise ValueError(
            f"parameter 'query_labels' must have one label per query ({len(hull.support_index)}), got {len(query)}"
        )
    return train, query


def support_label_agreement(hull: HullProjection, train_labels: Tensor, query_labels: Tensor) -> tuple[float, float]:
    """How far each hull projection is supported by training points of the query's own label (FSH-X3):
    ``(by_count, by_weight)``, the share of all support points that carry the query's label, and the
    mean over queries of the convex weight they carry. The paper reports the share of support images
    (78 % in feature space, 27 % in pixel space), which is ``by_count``."""
    train_labels, query_labels = _support_labels(hull, train_labels, query_labels)
    same, total, weights = 0, 0, []
    for idx, w, label in zip(hull.support_index, hull.support_weight, query_labels):
        match = train_labels[idx] == label
        same, total = same + int(match.sum()), total + len(idx)
        weights.append(float(w[match].sum()))
    return (same / total if total else float("nan"), float(np.mean(weights)) if weights else float("nan"))


def own_label_share(hull: HullProjection, train_labels: Tensor, query_labels: Tensor) -> np.ndarray:
    """``[Q]`` per query, the share of its support points (positive convex weight) that carry the query's
    label: the per-query form of :func:`support_label_agreement`'s ``by_count``, whose mean over queries
    has an ordinary confidence interval (queries are independent; support points of one query are not)."""
    train_labels, query_labels = _support_labels(hull, train_labels, query_labels)
    return np.array([float(np.mean(train_labels[idx] == label)) if len(idx) else float("nan")
                     for idx, label in zip(hull.support_index, query_labels)])  # fmt: skip


def end_image_in_ball(train_features: Tensor, train_predicted: Tensor, centre: Tensor, cls: int, radius: float) -> int:
    """The training sample that ends the paper's morph (FSH-F8, F9): among those the model puts in class
    ``cls``, the one whose features lie inside the ball ``B(centre, radius)`` nearest its perimeter (the
    paper's training image 19821 lies at 2.546 from a ball of radius 2.546); if none lies inside, the
    nearest one. Returns its index."""
    F = torch.as_tensor(train_features).double()
    c = torch.as_tensor(centre).double().reshape(-1)
    same = torch.as_tensor(train_predicted) == cls
    if not bool(same.any()):
        raise ValueError(f"no training sample is predicted as class {cls}")
    d = (F - c).norm(dim=1)
    inside = same & (d < radius)
    if bool(inside.any()):
        return int(torch.where(inside, d, torch.tensor(-1.0, dtype=d.dtype)).argmax())
    return int(torch.where(same, d, torch.tensor(math.inf, dtype=d.dtype)).argmin())


@dataclass
class AdversarialDistances:
    """Result of :func:`adversarial_distances` for ``N`` attacked images."""

    images: Tensor  # [N, ...] the attack's output
    success: Tensor  # [N] bool: the model no longer gives the label
    distances: BoundaryAndHull  # of the successful adversarials only, in their order


def adversarial_distances(
    model, attack, x: Tensor, y: Tensor, train_features: Tensor, *, method: str = "daqp"
) -> AdversarialDistances:
    """Attack images ``x`` of labels ``y`` (``attack(x, y)``, any :class:`nngeom.core.attacks.Attack`) and place
    the successful adversarials in the feature space of ``model``: their distances to the closest decision
    boundary and to the hull of ``train_features`` (:func:`boundary_and_hull`), as FSH-F14 compares them."""
    from nngeom.core.device import model_device
    from nngeom.feature_space.flips import features, split_last_linear

    dev = model_device(model)
    x_adv = attack(x.to(dev), y.to(dev)).cpu()
    with torch.no_grad():
        pred = torch.cat([model(c.to(dev)).argmax(1).cpu() for c in x_adv.split(1024)])
    won = pred != torch.as_tensor(y).cpu()
    _, last = split_last_linear(model)
    f = features(model, x_adv[won])
    return AdversarialDistances(x_adv, won, boundary_and_hull(last.weight, last.bias, train_features, f, method=method))
