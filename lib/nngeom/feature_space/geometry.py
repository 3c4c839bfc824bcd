"""Drawing and scoring positions in the feature space: the two-point equidistant projection that draws
64-dimensional paths in a plane (Appendix A of the paper), and the ambiguity indicator of eq. 26."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["two_point_projection", "ambiguity", "path_bend"]


def two_point_projection(points: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Map ``points [N, d]`` to the plane so that each one's distances to the anchors ``a`` and ``b``
    are kept exactly: ``a`` goes to ``(0, 0)``, ``b`` to ``(|b - a|, 0)``, and ``p`` to ``(u, v)`` with
    ``u = <p - a, b - a> / |b - a|`` and ``v = sqrt(|p - a|^2 - u^2) >= 0`` (a doubly equidistant
    projection, Close 1921). Returns ``[N, 2]`` float64."""
    P = torch.as_tensor(points).double()
    a, b = torch.as_tensor(a).double().reshape(-1), torch.as_tensor(b).double().reshape(-1)
    if P.ndim != 2 or P.shape[1] != len(a) or b.shape != a.shape:
        raise ValueError(f"parameters 'points' [N, d], 'a' [d] and 'b' [d] do not match: {tuple(P.shape)}, "
                         f"{tuple(a.shape)}, {tuple(b.shape)}")  # fmt: skip
    base = (b - a).norm()
    if float(base) == 0.0:
        raise ValueError("parameters 'a' and 'b' must be different points")
    rel = P - a
    u = rel @ (b - a) / base
    v = ((rel * rel).sum(1) - u * u).clamp_min(0.0).sqrt()  # rounding can make the square slightly negative
    return torch.stack([u, v], 1)


def ambiguity(boundary_distance: Tensor, hull_distance: Tensor) -> Tensor:
    """``d^{f-h} = d^{f,min} - d^h`` (eq. 26): the distance to the closest decision boundary minus the
    distance to the training set's hull, both in feature space. Small or negative values mark inputs close
    to a boundary and far from anything the model was trained on."""
    f, h = torch.as_tensor(boundary_distance).double(), torch.as_tensor(hull_distance).double()
    if f.shape != h.shape:
        raise ValueError(f"parameters 'boundary_distance' and 'hull_distance' must have the same shape, got "
                         f"{tuple(f.shape)} and {tuple(h.shape)}")  # fmt: skip
    return f - h


def path_bend(points: Tensor) -> float:
    """How far a path ``points [N, d]`` (in order) is from straight: its length over the distance between
    its ends, 1 for a straight path and larger the more it bends or doubles back (FSH-F9, F12)."""
    P = torch.as_tensor(points).double()
    if P.ndim != 2 or len(P) < 2:
        raise ValueError(f"parameter 'points' must be [N, d] with N >= 2, got {tuple(P.shape)}")
    chord = float((P[-1] - P[0]).norm())
    if chord == 0.0:
        raise ValueError("parameter 'points': the path's two ends coincide, so its bend is undefined")
    return float((P[1:] - P[:-1]).norm(dim=1).sum()) / chord
