"""Nearest points in small polyhedra, many at once: ``min ||y - x||^2`` over ``{A_eq y + c_eq = 0,
A_in y + c_in >= 0}``, optionally with ``y >= 0``.

The feature-space flip points (the closest point on the boundary between two classes of a linear layer)
are such projections, with a handful of rows (one equality and ``C - 2`` inequalities for ``C`` classes)
in a few dozen dimensions, and a page needs hundreds of thousands of them. They are solved in stages,
each answer exact:

1. **One row, every query at once.** With one equality row, the projection onto that row (and
   ``y >= 0``) alone is ``y = max(0, x + lam a)`` with ``lam`` the root of a non-decreasing piecewise
   linear function, found by safeguarded Newton steps and then solved exactly on its linear piece. Where
   that point satisfies the inequality rows it is the answer (the nearest point of a larger set that lies
   in the smaller set); where the row cannot be met the polyhedron is empty.
2. **DAQP** (Arnström et al., an exact dual active-set solver) for the rest, one solve per query with
   the constraint arrays built once per polyhedron, optionally over worker processes: about 30 us per
   64-dimensional problem on a CPU.
3. Or, with ``method="newton"``, a **batched dual Newton method** for the rest, meant for large batches
   on an accelerator. Because the Hessian is the identity the dual has one variable per row, and with the
   bounds kept inside the inner minimisation the dual function
   ``g(lam) = min_{y >= 0} 1/2 |y - x|^2 - lam^T (A y + c)`` (minimised at ``y = max(0, x + A^T lam)``)
   is concave and piecewise quadratic, maximised over ``lam_eq`` free and ``lam_in >= 0`` by projected
   Newton steps (Bertsekas 1982) with an Armijo line search, for all queries sharing ``A`` at once. A query
   counts as solved only when its KKT conditions hold to ``tol``; the others (and empty polyhedra, whose
   dual is unbounded) go to DAQP, whose verdict on feasibility is final.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nngeom.core.device import torch_threads
from nngeom.core.parallel import run_jobs

__all__ = ["Projections", "project_onto_polyhedra"]

_DIVERGED = 1e8  # multipliers this large: treat the polyhedron as empty and let DAQP decide


@dataclass
class Projections:
    """Result of :func:`project_onto_polyhedra` (tensors on the CPU, float64)."""

    points: Tensor  # [N, f] the nearest point of each query's polyhedron (NaN where it is empty)
    distance: Tensor  # [N] Euclidean distance to it (inf where the polyhedron is empty)
    feasible: Tensor  # [N] bool: the polyhedron is not empty
    multipliers: Tensor  # [N, m] the rows' Lagrange multipliers (NaN where empty)
    by_one_row: int  # queries settled by the one-row pass (answer, or an empty polyhedron)
    by_fallback: int  # with method "newton": queries DAQP solved because the Newton method did not certify them
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
    method: str = "daqp",
    workers: int = 1,
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
        method: how the queries that the one-row pass does not settle are solved: ``"daqp"`` (one exact
            active-set solve each, about 30 us per 64-d problem) or ``"newton"`` (the batched dual Newton
            method; DAQP takes what it leaves). On a CPU Newton pays off only with thousands of queries
            per polyhedron on an idle machine (about 2x at 4,000 feature vectors); with a few hundred or
            fewer, or a busy machine, it is 1-5x slower (bench/README.md), hence the default.
        workers: processes for the DAQP solves (``nngeom.core.parallel.run_jobs``).

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
    N, (G, m) = len(x), A.shape[:2]
    if group.shape != (N,) or group.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"parameter 'group' must be an integer tensor [N] = [{N}], got {tuple(group.shape)}")
    if N and (int(group.min()) < 0 or int(group.max()) >= G):
        raise ValueError(
            f"parameter 'group' must lie in [0, {G}), got values in [{int(group.min())}, {int(group.max())}]"
        )
    if method not in ("daqp", "newton"):
        raise ValueError(f"parameter 'method' must be 'daqp' or 'newton', got {method!r}")
    if not (isinstance(n_eq, int) and 0 <= n_eq <= m):
        raise ValueError(f"parameter 'n_eq' must be an integer in [0, {m}], got {n_eq!r}")
    # the tensors are small (a few thousand rows of a few dozen numbers): one thread is faster than two
    # that wait for each other, and much faster when another process holds the other core
    with torch_threads(1):
        return _project(x, A, c, group, n_eq, nonnegative, tol, max_iter, method, workers)


def _project(
    x: Tensor,
    A: Tensor,
    c: Tensor,
    group: Tensor,
    n_eq: int,
    nonnegative: bool,
    tol: float,
    max_iter: int,
    method: str,
    workers: int,
) -> Projections:
    """:func:`project_onto_polyhedra` after its checks."""
    N, (m, f) = len(x), A.shape[1:]
    points = torch.full((N, f), float("nan"), dtype=torch.float64)
    lam_all = torch.full((N, m), float("nan"), dtype=torch.float64)
    feasible = torch.zeros(N, dtype=torch.bool)
    steps = 0
    # First pass, every query at once: with a single equality row the inequalities are often inactive at
    # the optimum. Project on the equality row (and y >= 0) alone; where that point satisfies the other
    # rows it is the answer (the nearest point of a larger set that lies in the smaller one), and where
    # the equality row alone is out of reach the polyhedron is empty.
    todo = torch.arange(N)
    if n_eq == 1:
        settled = torch.zeros(N, dtype=torch.bool)
        for chunk in torch.arange(N).split(8192):
            gs = group[chunk]
            y, lam0, reachable, exact = _one_row(x[chunk], A[gs, 0], c[gs, 0], nonnegative, tol)
            r = (A[gs, 1:] @ y.unsqueeze(-1)).squeeze(-1) + c[gs, 1:]
            ok = exact & reachable
            if m > 1:  # the other rows must hold at the one-row projection
                ok &= r.amin(1) >= -tol * (1.0 + x[chunk].abs().amax(1))
            points[chunk[ok]], feasible[chunk[ok]] = y[ok], True
            lam_all[chunk[ok]] = torch.cat([lam0[ok, None], torch.zeros(int(ok.sum()), m - 1, dtype=torch.float64)], 1)
            settled[chunk[ok | ~reachable]] = True  # unreachable: empty, stays infeasible
        todo = torch.nonzero(~settled).squeeze(1)
    one_row = N - len(todo)
    if method == "newton":
        left = []
        for g in torch.unique(group[todo]).tolist():
            idx = todo[group[todo] == g]
            y, lam, ok, k = _newton_group(x[idx], A[g], c[g], n_eq, nonnegative, tol, max_iter)
            steps = max(steps, k)
            points[idx[ok]], lam_all[idx[ok]], feasible[idx[ok]] = y[ok], lam[ok], True
            left.append(idx[~ok])
        todo = torch.cat(left) if left else todo[:0]
    fallback = len(todo) if method == "newton" else 0
    chunks = [idx for g in torch.unique(group[todo]).tolist() for idx in todo[group[todo] == g].split(2048)]
    jobs = (((x[idx].numpy(), A[int(group[idx[0]])].numpy(), c[int(group[idx[0]])].numpy(), n_eq, nonnegative), {})
            for idx in chunks)  # fmt: skip
    for idx, (ys, lams, ok) in zip(chunks, run_jobs(_daqp_many, jobs, workers=workers, progress=False)):
        ok_t = torch.from_numpy(ok)
        points[idx[ok_t]], lam_all[idx[ok_t]] = torch.from_numpy(ys[ok]), torch.from_numpy(lams[ok])
        feasible[idx[ok_t]] = True
    distance = torch.where(feasible, (points - x).norm(dim=1), torch.full((N,), float("inf"), dtype=torch.float64))
    return Projections(points, distance, feasible, lam_all, one_row, fallback, steps)


def _one_row(x: Tensor, a: Tensor, c: Tensor, nonnegative: bool, tol: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Nearest points to ``x [n, f]`` on ``{a y + c = 0}`` (per row: ``a [n, f]``, ``c [n]``), within
    ``y >= 0`` if ``nonnegative``. Returns ``(y, lam, reachable, exact)``: the point ``y = max(0, x + lam a)``,
    its multiplier, whether the set is non-empty, and whether ``y`` meets the row to ``tol``.

    ``phi(lam) = a max(0, x + lam a) + c`` is non-decreasing and piecewise linear; its root is bracketed by
    doubling and found by Newton steps on its linear pieces, safeguarded by bisection."""
    n = len(x)
    scale = 1.0 + x.abs().amax(1)
    if not nonnegative:
        aa = (a * a).sum(1)
        lam = -((a * x).sum(1) + c) / aa.clamp_min(1e-300)
        y = x + lam[:, None] * a
        reachable = aa > 0
        return y, lam, reachable, reachable & (((a * y).sum(1) + c).abs() <= tol * scale)

    def phi(lam: Tensor) -> tuple[Tensor, Tensor]:
        """phi and its slope (the squared norm of a on the positive coordinates)."""
        v = x + lam[:, None] * a
        pos = v > 0
        return (a * v * pos).sum(1) + c, (a * a * pos).sum(1)

    # phi(+inf) = +inf if some a_k > 0, else c; phi(-inf) = -inf if some a_k < 0, else c
    up = torch.where((a > 0).any(1), torch.full((n,), float("inf"), dtype=torch.float64), c)
    down = torch.where((a < 0).any(1), torch.full((n,), -float("inf"), dtype=torch.float64), c)
    reachable = (down <= 0) & (up >= 0)
    lo, hi = -torch.ones(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
    for _ in range(80):  # bracket the root: phi(lo) <= 0 <= phi(hi)
        grow_lo, grow_hi = reachable & (phi(lo)[0] > 0), reachable & (phi(hi)[0] < 0)
        if not (grow_lo.any() or grow_hi.any()):
            break
        lo = torch.where(grow_lo, 2 * lo, lo)
        hi = torch.where(grow_hi, 2 * hi, hi)
    # safeguarded Newton: a Newton step on the current linear piece when it stays inside the bracket,
    # else bisection; on the right piece the Newton step lands on the root exactly
    lam = (lo + hi) / 2
    for _ in range(100):
        value, slope = phi(lam)
        done = (value.abs() <= tol * scale) | ~reachable
        if bool(done.all()):
            break
        lo, hi = torch.where(value < 0, lam, lo), torch.where(value > 0, lam, hi)
        step = lam - value / slope.clamp_min(1e-300)
        inside = (slope > 0) & (step > lo) & (step < hi)
        lam = torch.where(done, lam, torch.where(inside, step, (lo + hi) / 2))
    # the root of the linear piece the iterate is on: exact unless the iterate sits on a breakpoint
    active = (x + lam[:, None] * a) > 0
    aa = (a * a * active).sum(1)
    lam = torch.where(aa > 0, -((a * x * active).sum(1) + c) / aa.clamp_min(1e-300), lam)
    y = (x + lam[:, None] * a).clamp_min(0.0)
    exact = reachable & (((a * y).sum(1) + c).abs() <= tol * scale)
    return y, lam, reachable, exact


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


def _daqp_many(
    x: np.ndarray, A: np.ndarray, c: np.ndarray, n_eq: int, nonnegative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projections of the rows of ``x [k, f]`` on one polyhedron by DAQP (exact dual active set), one
    solve each with the constraint arrays built once. Returns ``(y [k, f], lam [k, m], ok [k])``; ``ok`` is
    false where the polyhedron is empty."""
    import daqp

    m, f = A.shape
    big = 1e30  # DAQP's infinity
    upper = np.r_[-c[:n_eq], np.full(m - n_eq, big)]
    lower = -c
    sense = np.r_[np.full(n_eq, 5), np.zeros(m - n_eq)].astype(np.int32)  # 5: equality
    if nonnegative:  # the first f bounds are simple bounds on y
        upper, lower = np.r_[np.full(f, big), upper], np.r_[np.zeros(f), lower]
        sense = np.r_[np.zeros(f, dtype=np.int32), sense]
    A, H = np.ascontiguousarray(A, dtype=np.float64), np.eye(f)
    ys, lams, ok = np.full((len(x), f), np.nan), np.full((len(x), m), np.nan), np.zeros(len(x), dtype=bool)
    for t, xt in enumerate(np.asarray(x, dtype=np.float64)):
        y, _, flag, info = daqp.solve(H, -xt, A, upper, lower, sense)
        if flag == -1:  # infeasible: no projection
            continue
        if flag < 0:
            raise RuntimeError(f"DAQP failed on a projection (exit flag {flag})")
        # DAQP's multipliers are those of 0.5 y'Hy + f'y + lam'(A y - b): the opposite sign of ours
        # (DAQP meets the bounds y >= 0 to rounding, -1e-15; clip so that they hold exactly)
        ys[t] = np.maximum(y, 0.0) if nonnegative else y
        lams[t], ok[t] = -np.asarray(info["lam"], dtype=np.float64)[-m:], True
    return ys, lams, ok
