"""The paper's over-the-test-set measurements (section 7.2): for every query, the distance to the closest
decision boundary of the last layer and to the hull of the training set, both in feature space; and how
the hull projections are supported by the training set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nngeom.feature_space.flips import FlipPoints, flip_points
from nngeom.feature_space.geometry import ambiguity
from nngeom.solvers.hull import HullProjection, hull_projection

__all__ = ["BoundaryAndHull", "boundary_and_hull", "support_label_agreement"]


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


def support_label_agreement(hull: HullProjection, train_labels: Tensor, query_labels: Tensor) -> tuple[float, float]:
    """How far each hull projection is supported by training points of the query's own label (FSH-X3):
    ``(by_count, by_weight)``, the share of all support points that carry the query's label, and the
    mean over queries of the convex weight they carry. The paper reports the share of support images
    (78 % in feature space, 27 % in pixel space), which is ``by_count``."""
    train_labels = torch.as_tensor(train_labels).cpu().numpy()
    query_labels = torch.as_tensor(query_labels).cpu().numpy()
    if len(query_labels) != len(hull.support_index):
        raise ValueError(
            f"parameter 'query_labels' must have one label per query ({len(hull.support_index)}), "
            f"got {len(query_labels)}"
        )
    same, total, weights = 0, 0, []
    for idx, w, label in zip(hull.support_index, hull.support_weight, query_labels):
        match = train_labels[idx] == label
        same, total = same + int(match.sum()), total + len(idx)
        weights.append(float(w[match].sum()))
    return (same / total if total else float("nan"), float(np.mean(weights)) if weights else float("nan"))
