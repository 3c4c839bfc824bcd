"""Exact projection of query points onto the convex hull of a large point set (eqs. 20-25 of the
feature-space hulls paper): ``min ||alpha P - x||`` over convex weights ``alpha``.

Each query is solved on a working set of the points, by non-negative least squares: with the columns
``p_i - x`` stacked over a row of ones, ``min_{u >= 0} ||[P_S - x; 1^T] u - e_last||`` has its solution at
``u = t * alpha`` for the convex weights ``alpha`` of the nearest point of the hull of ``P_S`` (Lawson and
Hanson's reduction), so ``alpha = u / sum(u)``. The working set starts with the query's nearest points
and grows by the points that violate Wolfe's optimality condition for the whole set::

    min_i <p_i - y, y - x> >= 0   (y the current projection),

which says that the hull lies on the far side of the plane through ``y`` orthogonal to ``y - x``. One
matrix product checks it for a batch of queries against every point; a query is *certified* when the
condition holds to ``tol`` in distance units (``<p_i - y, y - x> / |y - x| >= -tol``), or when ``y``
reaches ``x`` to within ``tol`` (the query lies in the hull).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import nnls
from torch import Tensor

__all__ = ["HullProjection", "hull_projection"]


@dataclass
class HullProjection:
    """Result of :func:`hull_projection` (float64, CPU)."""

    projection: Tensor  # [Q, d] the nearest point of the hull
    distance: Tensor  # [Q] its distance to the query
    support_index: list[np.ndarray]  # per query: indices of the points with positive weight
    support_weight: list[np.ndarray]  # ... and their convex weights (summing to 1), largest first
    gap: Tensor  # [Q] how far the worst point lies on the near side of the optimality plane (<= tol)
    certified: Tensor  # [Q] bool: Wolfe's condition holds to tol
    rounds: int  # the most working-set rounds any query needed

    def top_support(self, q: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` points with the largest weights in query ``q``'s convex combination."""
        return self.support_index[q][:k], self.support_weight[q][:k]


def hull_projection(
    points: Tensor,
    queries: Tensor,
    tol: float = 1e-7,
    start: int = 64,
    grow: int = 32,
    max_rounds: int = 100,
    batch_size: int = 256,
) -> HullProjection:
    """Project every row of ``queries [Q, d]`` onto the convex hull of the rows of ``points [n, d]``.

    Args:
        points: the set whose hull is taken (e.g. the training set's features).
        queries: the points to project.
        tol: certificate tolerance, in the units of the points (see the module docstring).
        start: size of the first working set (the query's nearest points).
        grow: violating points added per round (the worst ones).
        max_rounds: rounds per query before it is returned uncertified.
        batch_size: queries whose certificates are checked by one matrix product.

    Returns:
        :class:`HullProjection`; ``certified`` says which answers carry the optimality certificate.

    Example:
        >>> square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> hull_projection(square, torch.tensor([[2.0, 0.5]])).projection  # tensor([[1.0, 0.5]])
    """
    P = torch.as_tensor(points).detach().double().cpu()
    X = torch.as_tensor(queries).detach().double().cpu()
    if P.ndim != 2 or X.ndim != 2 or P.shape[1] != X.shape[1] or len(P) == 0:
        raise ValueError(
            f"parameters 'points' [n, d] (n >= 1) and 'queries' [Q, d] do not match: {tuple(P.shape)}, {tuple(X.shape)}"
        )
    for name, v in (("start", start), ("grow", grow), ("max_rounds", max_rounds), ("batch_size", batch_size)):
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            raise ValueError(f"parameter '{name}' must be an integer >= 1, got {v!r}")
    Q, d = X.shape
    Pn = P.numpy()
    sq = (P * P).sum(1)
    proj = torch.empty(Q, d, dtype=torch.float64)
    gap = torch.empty(Q, dtype=torch.float64)
    certified = torch.zeros(Q, dtype=torch.bool)
    index: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * Q
    weight: list[np.ndarray] = [np.zeros(0)] * Q
    rounds = 0
    for b0 in range(0, Q, batch_size):
        xb = X[b0 : b0 + batch_size]
        # nearest points first: |p|^2 - 2 <p, x> orders them by distance to x
        near = torch.topk(sq[None, :] - 2 * xb @ P.T, min(start, len(P)), dim=1, largest=False).indices.numpy()
        work = [set(row.tolist()) for row in near]
        todo = np.arange(len(xb))
        for r in range(max_rounds):
            rounds = max(rounds, r + 1)
            ys = np.empty((len(todo), d))
            for t, q in enumerate(todo):
                idx = np.fromiter(work[q], dtype=np.int64)
                a = _convex_weights(Pn[idx], xb[q].numpy())
                keep = a > 0
                order = np.argsort(-a[keep], kind="stable")
                index[b0 + q], weight[b0 + q] = idx[keep][order], a[keep][order]
                ys[t] = a[keep] @ Pn[idx[keep]]
            Y = torch.from_numpy(ys)
            diff = Y - xb[todo]  # y - x
            dist = diff.norm(dim=1)
            # <p_i - y, y - x> / |y - x| for every point: the hull's reach to the query's side of the plane
            reach = (P @ diff.T - (Y * diff).sum(1)[None, :]) / dist.clamp_min(1e-300)[None, :]
            worst = reach.min(0)
            g = torch.where(dist <= tol, torch.zeros_like(dist), (-worst.values).clamp_min(0.0))
            ok = g <= tol
            proj[b0 + todo], gap[b0 + todo] = Y, g
            certified[b0 + todo[ok.numpy()]] = True
            bad = np.flatnonzero(~ok.numpy())
            if len(bad) == 0:
                break
            viol = torch.topk(reach[:, bad], min(grow, len(P)), dim=0, largest=False).indices.T.numpy()
            for t, row in zip(bad, viol):
                work[todo[t]].update(row.tolist())
            todo = todo[bad]
    distance = (proj - X).norm(dim=1)
    return HullProjection(proj, distance, index, weight, gap, certified, rounds)


def _convex_weights(points: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Convex weights of the point of the hull of ``points [k, d]`` nearest to ``x``, by one NNLS."""
    k = len(points)
    M = np.vstack([(points - x).T, np.ones((1, k))])
    e = np.zeros(M.shape[0])
    e[-1] = 1.0
    u, _ = nnls(M, e, maxiter=50 * (k + M.shape[0]))
    s = u.sum()
    return u / s if s > 0 else np.full(k, 1.0 / k)
