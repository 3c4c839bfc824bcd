"""Nearest points in small polyhedra, many at once: ``min ||y - x||^2`` over ``{A_eq y + c_eq = 0,
A_in y + c_in >= 0}``, optionally with ``y >= 0``.

The feature-space flip points (the closest point on the boundary between two classes of a linear layer)
are such projections, with a handful of rows (one equality and ``C - 2`` inequalities for ``C`` classes)
in a few dozen dimensions, and a page needs hundreds of thousands of them. Because the Hessian is the
identity, the problem's dual has one variable per row, and with the bounds ``y >= 0`` kept inside the
inner minimisation the dual function is

    g(lam) = min_{y >= 0} 1/2 ||y - x||^2 - lam^T (A y + c),   minimised at  y(lam) = max(0, x + A^T lam),

concave and piecewise quadratic, to be maximised over ``lam_eq`` free and ``lam_in >= 0``. A projected
Newton method (Bertsekas 1982) with an Armijo line search solves it for every query of a group of queries
that share ``A`` and ``c`` at once: the gradient is ``-(A y + c)`` and the Hessian ``-A D A^T`` with ``D``
the coordinates where ``y`` is positive, computed for the whole group by one matrix product with the
precomputed outer products of ``A``'s columns. Once the pieces are identified the method lands on the
exact optimum, usually within a few steps.

Exactness is checked, not assumed: a query counts as solved when its KKT conditions hold to ``tol``
(primal feasibility, ``lam_in >= 0``, complementarity; ``y >= 0`` and its own complementarity hold by
construction). Queries that do not meet them within ``max_iter`` steps, or whose multipliers grow without
bound (the polyhedron is empty, so the dual is unbounded), go to DAQP (Arnström et al., a dual active-set
solver), one at a time; DAQP's verdict on feasibility is final.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Projections", "project_onto_polyhedra"]

_DIVERGED = 1e8  # multipliers this large: treat the polyhedron as empty and let DAQP decide


@dataclass
class Projections:
    """Result of :func:`project_onto_polyhedra` (tensors on the CPU, float64)."""

    points: Tensor  # [N, f] the nearest point of each query's polyhedron (NaN where it is empty)
    distance: Tensor  # [N] Euclidean distance to it (inf where the polyhedron is empty)
    feasible: Tensor  # [N] bool: the polyhedron is not empty
    multipliers: Tensor  # [N, m] the rows' Lagrange multipliers (NaN where empty)
    by_fallback: int  # queries DAQP solved because the Newton method did not certify them
    newton_steps: int  # the most Newton steps any group took


def project_onto_polyhedra(
    x: Tensor,
    A: Tensor,
    c: Tensor,
    group: Tensor,
    n_eq: int = 1,
    nonnegative: bool = True,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> Projections:
    """The point nearest to each query ``x[n]`` in the polyhedron of its group ``g = group[n]``:
    ``{y : A[g, :n_eq] y + c[g, :n_eq] = 0, A[g, n_eq:] y + c[g, n_eq:] >= 0}``, intersected with
    ``y >= 0`` if ``nonnegative``.

    Args:
        x: queries ``[N, f]``.
        A: the groups' rows ``[G, m, f]`` (the first ``n_eq`` rows of each group are equalities).
        c: their offsets ``[G, m]``.
        group: ``[N]`` integers in ``[0, G)``: which polyhedron each query is projected on.
        n_eq: number of equality rows (the same for every group).
        nonnegative: also require ``y >= 0``.
        tol: KKT tolerance of the certificate, scaled by ``1 + |x|_inf`` per query.
        max_iter: Newton steps per group before the uncertified queries go to DAQP.

    Returns:
        :class:`Projections`. Everything is computed in float64 on the CPU.

    Example:
        >>> A = torch.tensor([[[1.0, -1.0]]])  # one group: y_0 = y_1 (and y >= 0)
        >>> x, group = torch.tensor([[2.0, 0.0]]), torch.zeros(1, dtype=torch.long)
        >>> project_onto_polyhedra(x, A, torch.zeros(1, 1), group).points  # tensor([[1., 1.]])
    """
    x = torch.as_tensor(x, dtype=torch.float64).cpu()
    A = torch.as_tensor(A, dtype=torch.float64).cpu()
    c = torch.as_tensor(c, dtype=torch.float64).cpu()
    group = torch.as_tensor(group).cpu()
    if x.ndim != 2 or A.ndim != 3 or A.shape[2] != x.shape[1] or c.shape != A.shape[:2]:
        raise ValueError(
            f"parameters 'x' [N, f], 'A' [G, m, f] and 'c' [G, m] do not match: {tuple(x.shape)}, "
            f"{tuple(A.shape)}, {tuple(c.shape)}"
        )
    N, (G, m, f) = len(x), A.shape
    if group.shape != (N,) or group.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"parameter 'group' must be an integer tensor [N] = [{N}], got {tuple(group.shape)}")
    if N and (int(group.min()) < 0 or int(group.max()) >= G):
        raise ValueError(
            f"parameter 'group' must lie in [0, {G}), got values in [{int(group.min())}, {int(group.max())}]"
        )
    if not (isinstance(n_eq, int) and 0 <= n_eq <= m):
        raise ValueError(f"parameter 'n_eq' must be an integer in [0, {m}], got {n_eq!r}")
    points = torch.full((N, f), float("nan"), dtype=torch.float64)
    lam_all = torch.full((N, m), float("nan"), dtype=torch.float64)
    feasible = torch.zeros(N, dtype=torch.bool)
    fallback, steps = [], 0
    for g in torch.unique(group).tolist():
        idx = torch.nonzero(group == g).squeeze(1)
        y, lam, ok, k = _newton_group(x[idx], A[g], c[g], n_eq, nonnegative, tol, max_iter)
        steps = max(steps, k)
        points[idx[ok]], lam_all[idx[ok]], feasible[idx[ok]] = y[ok], lam[ok], True
        fallback += [(int(n), g) for n in idx[~ok]]
    for n, g in fallback:
        y, lam = _daqp(x[n].numpy(), A[g].numpy(), c[g].numpy(), n_eq, nonnegative)
        if y is not None:
            points[n], lam_all[n], feasible[n] = torch.from_numpy(y), torch.from_numpy(lam), True
    distance = torch.where(feasible, (points - x).norm(dim=1), torch.full((N,), float("inf"), dtype=torch.float64))
    return Projections(points, distance, feasible, lam_all, len(fallback), steps)


def _newton_group(
    x: Tensor, A: Tensor, c: Tensor, n_eq: int, nonnegative: bool, tol: float, max_iter: int
) -> tuple[Tensor, Tensor, Tensor, int]:
    """Projected Newton on the dual for queries ``x [n, f]`` sharing ``A [m, f]``, ``c [m]``. Returns
    ``(y, lam, certified, steps)``."""
    n, (m, f) = len(x), A.shape
    lower = torch.full((m,), -float("inf"), dtype=torch.float64)
    lower[n_eq:] = 0.0
    outer = (A.T[:, :, None] * A.T[:, None, :]).reshape(f, m * m)  # row p: a_p a_p^T, flattened
    scale = 1.0 + x.abs().amax(1)
    lam = torch.zeros(n, m, dtype=torch.float64)
    y = torch.empty_like(x)
    certified = torch.zeros(n, dtype=torch.bool)
    live = torch.arange(n)  # queries still iterating

    def evaluate(xs: Tensor, ls: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        v = xs + ls @ A
        ys = v.clamp_min(0.0) if nonnegative else v
        r = ys @ A.T + c  # constraint values; the gradient of -g
        h = (ls * r).sum(1) - 0.5 * ((ys - xs) ** 2).sum(1)  # -g(lam)
        return h, r, ys, v

    xs, ls = x, lam
    h, r, ys, v = evaluate(xs, ls)
    k = 0
    for k in range(max_iter + 1):
        viol = (
            torch.cat(
                [r[:, :n_eq].abs(), (-r[:, n_eq:]).clamp_min(0.0), (ls[:, n_eq:] * r[:, n_eq:]).abs(), r[:, :0]], 1
            ).amax(1)
            if m
            else torch.zeros(len(ls), dtype=torch.float64)
        )
        done = viol <= tol * scale[live]
        certified[live[done]] = True
        y[live[done]], lam[live[done]] = ys[done], ls[done]
        keep = ~done & ((ls.abs().amax(1) < _DIVERGED) if m else torch.zeros_like(done))
        if k == max_iter or not keep.any():
            break
        live, xs, ls, h, r, ys, v = live[keep], xs[keep], ls[keep], h[keep], r[keep], ys[keep], v[keep]
        # bound-active multipliers: at their bound with the gradient pushing them out of the box
        fixed = (ls <= lower) & (r > 0)
        free = (~fixed).double()
        active = (v > 0).double() if nonnegative else torch.ones_like(v)
        hess = (active @ outer).view(-1, m, m) * free[:, :, None] * free[:, None, :]
        # a singular Hessian (fewer positive coordinates than free rows) gets a relative ridge; rows whose
        # Newton step finds no descent fall back to a projected gradient step of length 1 / trace(hess)
        diag_max = hess.diagonal(dim1=1, dim2=2).amax(1).clamp_min(1e-300)
        ridge = 1e-10 * diag_max[:, None, None] * torch.eye(m, dtype=torch.float64)
        hess = hess + torch.diag_embed(1.0 - free) + ridge
        newton = -torch.linalg.solve(hess, (r * free).unsqueeze(-1)).squeeze(-1)
        gradient = -(r * free) / hess.diagonal(dim1=1, dim2=2).sum(1, keepdim=True)
        new = ls.clone()
        pending = torch.arange(len(ls))
        for d in (newton, gradient):
            step = torch.ones(len(ls), dtype=torch.float64)
            for _ in range(40):  # Armijo backtracking on the projected path, only for rows not yet accepted
                cand = torch.maximum(ls[pending] + step[pending, None] * d[pending], lower)
                hc = evaluate(xs[pending], cand)[0]
                decrease = (r[pending] * (cand - ls[pending])).sum(1)
                ok = hc <= h[pending] + 1e-4 * decrease + 1e-15 * scale[live[pending]]
                new[pending[ok]] = cand[ok]
                pending = pending[~ok]
                if len(pending) == 0:
                    break
                step[pending] /= 2
            if len(pending) == 0:
                break
        ls = new
        h, r, ys, v = evaluate(xs, ls)
    return y, lam, certified, k


def _daqp(
    x: np.ndarray, A: np.ndarray, c: np.ndarray, n_eq: int, nonnegative: bool
) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """One projection by DAQP (exact dual active set); ``(None, None)`` if the polyhedron is empty."""
    import daqp

    m, f = A.shape
    big = 1e30  # DAQP's infinity
    upper = np.r_[-c[:n_eq], np.full(m - n_eq, big)]
    lower = -c
    sense = np.r_[np.full(n_eq, 5), np.zeros(m - n_eq)].astype(np.int32)  # 5: equality
    if nonnegative:  # the first f bounds are simple bounds on y
        upper, lower = np.r_[np.full(f, big), upper], np.r_[np.zeros(f), lower]
        sense = np.r_[np.zeros(f, dtype=np.int32), sense]
    y, _, flag, info = daqp.solve(np.eye(f), -x, A, upper, lower, sense)
    if flag < 0:  # infeasible (-1) or another failure: no projection
        if flag != -1:
            raise RuntimeError(f"DAQP failed on a projection (exit flag {flag})")
        return None, None
    # DAQP's multipliers are those of 0.5 y'Hy + f'y + lam'(A y - b): the opposite sign of ours
    lam = -np.asarray(info["lam"], dtype=np.float64)[-m:]
    return np.asarray(y, dtype=np.float64), lam
