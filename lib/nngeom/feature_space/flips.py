"""Decision boundaries of the last linear layer, in the feature space it reads (section 3 of the paper).

A classifier ``z = W x_phi + b`` on features ``x_phi = N_phi(x) >= 0`` (the last hidden layer, eq. 3)
splits the feature space into convex cells, one per class. For a feature vector classified as ``i`` the
closest point on the boundary with class ``j`` (its *flip point*, eqs. 7-10) solves::

    min ||y - x_phi||^2   s.t.  (w_i - w_j) y + b_i - b_j = 0,
                                (w_i - w_k) y + b_i - b_k >= 0  for k not in {i, j},   y >= 0,

a projection onto a small polyhedron, solved exactly and in bulk by
:func:`nngeom.solvers.qp.project_onto_polyhedra`. The smallest of these distances is the radius of the
ball ``B(x_phi)`` in which every feature vector keeps the class (eqs. 12-13); :func:`samples_in_balls`
counts the samples inside such balls.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nngeom.core.device import eval_mode, model_device
from nngeom.solvers.qp import project_onto_polyhedra

__all__ = [
    "split_last_linear",
    "features",
    "FlipPoints",
    "flip_points",
    "lipschitz_constant",
    "samples_in_balls",
    "in_any_ball",
]


def split_last_linear(model: nn.Module) -> tuple[nn.Module, nn.Linear]:
    """``(N_phi, last)``: the network up to its last hidden layer, and its final ``nn.Linear``. The model
    must be an ``nn.Sequential`` whose last module is ``nn.Linear`` (the zoo's networks are)."""
    if not isinstance(model, nn.Sequential) or not isinstance(model[-1], nn.Linear):
        raise ValueError(
            f"parameter 'model' must be an nn.Sequential ending in nn.Linear, got {type(model).__name__}"
            + (f" ending in {type(model[-1]).__name__}" if isinstance(model, nn.Sequential) else "")
        )
    return model[:-1], model[-1]


@torch.no_grad()
def features(model: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """``N_phi(x)``, the last hidden layer of ``model`` for every input of ``x`` (eq. 3), ``[N, f]`` on the
    CPU, computed in eval mode ``batch_size`` inputs at a time."""
    body, _ = split_last_linear(model)
    dev = model_device(model)
    with eval_mode(model):
        out = [body(chunk.to(dev)).flatten(1).cpu() for chunk in x.split(batch_size)]
    return torch.cat(out) if out else torch.zeros(0, body(x[:0].to(dev)).flatten(1).shape[1])


@dataclass
class FlipPoints:
    """Result of :func:`flip_points` (CPU, float64). ``B`` feature vectors, ``C`` classes, ``f`` features."""

    predicted: Tensor  # [B] the class i of each feature vector
    points: Tensor  # [B, C, f] the flip point with each class (NaN for i itself and unreachable classes)
    distance: Tensor  # [B, C] its distance (inf for i itself and for classes whose boundary is unreachable)
    by_one_row: int  # QPs settled by the one-row pass (no inequality active, or unreachable)

    @property
    def min_distance(self) -> Tensor:
        """``[B]`` the distance to the closest boundary, the radius of ``B(x_phi)`` (eq. 12)."""
        return self.distance.min(1).values

    @property
    def nearest_class(self) -> Tensor:
        """``[B]`` the class across the closest boundary."""
        return self.distance.argmin(1)


def flip_points(
    weight: Tensor, bias: Tensor, features: Tensor, nonnegative: bool = True, method: str = "daqp", workers: int = 1
) -> FlipPoints:
    """The closest flip point between each feature vector's class and every other class (eqs. 7-12).

    Args:
        weight: the last layer's ``nn.Linear`` weight ``[C, f]`` (row ``j`` is ``W_phi(:, j)`` of the paper).
        bias: its bias ``[C]``.
        features: feature vectors ``[B, f]``.
        nonnegative: require ``y >= 0`` (eq. 10; the features of a ReLU or pooling layer are).
        method, workers: how the QPs that the one-row pass leaves are solved
            (:func:`nngeom.solvers.qp.project_onto_polyhedra`).

    Returns:
        :class:`FlipPoints`. A class whose boundary with ``i`` meets no admissible point (the cell of
        ``i`` never touches the cell of ``j`` within ``y >= 0``) has distance ``inf``. Ties in the
        prediction go to the lowest class index.

    Example:
        >>> lin = nn.Linear(64, 10)
        >>> fp = flip_points(lin.weight, lin.bias, torch.rand(5, 64))
        >>> fp.min_distance.shape, fp.nearest_class.shape   # ([5], [5])
    """
    W = torch.as_tensor(weight).detach().double().cpu()
    b = torch.as_tensor(bias).detach().double().cpu()
    x = torch.as_tensor(features).detach().double().cpu()
    if W.ndim != 2 or b.shape != (W.shape[0],) or x.ndim != 2 or x.shape[1] != W.shape[1] or W.shape[0] < 2:
        raise ValueError(
            f"parameters 'weight' [C, f] (C >= 2), 'bias' [C] and 'features' [B, f] do not match: "
            f"{tuple(W.shape)}, {tuple(b.shape)}, {tuple(x.shape)}"
        )
    C, f = W.shape
    B = len(x)
    pred = (x @ W.T + b).argmax(1)
    # one polyhedron per ordered pair (i, j): the equality row first, then the other classes' rows
    pairs = [(i, j) for i in range(C) for j in range(C) if i != j]
    index = {p: g for g, p in enumerate(pairs)}
    A = torch.empty(len(pairs), C - 1, f, dtype=torch.float64)
    c = torch.empty(len(pairs), C - 1, dtype=torch.float64)
    for g, (i, j) in enumerate(pairs):
        rows = [j] + [k for k in range(C) if k not in (i, j)]
        A[g], c[g] = W[i] - W[rows], b[i] - b[rows]
    query = torch.arange(B).repeat_interleave(C - 1)
    other = torch.tensor([[j for j in range(C) if j != i] for i in range(C)], dtype=torch.long)[pred].reshape(-1)
    group = torch.tensor([index[(int(i), int(j))] for i, j in zip(pred[query].tolist(), other.tolist())],
                         dtype=torch.long)  # fmt: skip
    proj = project_onto_polyhedra(x[query], A, c, group, n_eq=1, nonnegative=nonnegative, method=method,
                                  workers=workers)  # fmt: skip
    points = torch.full((B, C, f), float("nan"), dtype=torch.float64)
    distance = torch.full((B, C), float("inf"), dtype=torch.float64)
    points[query, other] = proj.points
    distance[query, other] = proj.distance
    return FlipPoints(pred, points, distance, proj.by_one_row)


def lipschitz_constant(weight: Tensor) -> float:
    """``sigma_max(W_phi)``, the largest singular value of the last layer's weight: the Lipschitz constant
    of the logits as a function of the features (eq. 14)."""
    return float(torch.linalg.matrix_norm(torch.as_tensor(weight).detach().double().cpu(), ord=2))


def _balls(centres: Tensor, radii: Tensor, points: Tensor, name: str) -> tuple[Tensor, Tensor, Tensor]:
    """The three arguments as float64 CPU tensors, checked against each other."""
    centres, radii, points = (torch.as_tensor(t).double().cpu() for t in (centres, radii, points))
    if centres.ndim != 2 or points.ndim != 2 or centres.shape[1] != points.shape[1] or radii.shape != (len(centres),):
        raise ValueError(
            f"parameters 'centres' [N, f], 'radii' [N] and '{name}' [P, f] do not match: {tuple(centres.shape)}, "
            f"{tuple(radii.shape)}, {tuple(points.shape)}"
        )
    return centres, radii, points


@torch.no_grad()
def samples_in_balls(centres: Tensor, radii: Tensor, points: Tensor, block: int = 2048) -> Tensor:
    """How many of ``points [P, f]`` lie strictly inside each ball ``B(centres[n], radii[n])``, ``[N]``
    integers; pairwise distances are computed ``block`` centres at a time (never a Python loop over
    pairs). A point at distance 0 (the centre itself, if it is among ``points``) is counted: remove it
    from ``points`` or subtract it, as the question needs."""
    centres, radii, points = _balls(centres, radii, points, "points")
    counts = torch.zeros(len(centres), dtype=torch.long)
    for start in range(0, len(centres), block):
        d = torch.cdist(centres[start : start + block], points)
        counts[start : start + block] = (d < radii[start : start + block, None]).sum(1)
    return counts


@torch.no_grad()
def in_any_ball(centres: Tensor, radii: Tensor, queries: Tensor, block: int = 2048) -> Tensor:
    """``[Q]`` bool: each query lies strictly inside at least one ball ``B(centres[n], radii[n])`` (the
    union of learned regions, FSH-X2), tested ``block`` queries at a time against every ball."""
    centres, radii, queries = _balls(centres, radii, queries, "queries")
    inside = torch.zeros(len(queries), dtype=torch.bool)
    for start in range(0, len(queries), block):
        d = torch.cdist(queries[start : start + block], centres)
        inside[start : start + block] = (d < radii[None, :]).any(1)
    return inside
