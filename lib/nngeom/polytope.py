"""Linear programs over one polytope ``{z : A z + b >= 0, lo <= z <= hi}`` with thousands of dense rows.

A linear region of a 3 x 1024 ReLU net on MNIST has 3,072 dense rows in 784 dimensions. Handing the
whole LP to a solver is slow (HiGHS' interior-point method: about 9 s per region on this 2-core CPU,
dual simplex longer), yet at the optimum only a few hundred of the rows are tight. So the programs here
use **row generation**: solve with a working set of rows (the ones nearest a hint point), add the rows
the solution violates, re-solve from the previous basis with HiGHS' dual simplex, and stop when the
solution satisfies every row. The last LP is a relaxation of the full one whose optimum is feasible for
the full one, so it is the full LP's optimum: nothing is approximated.

The Chebyshev ball (:func:`chebyshev_ball`) has a second trick. Its box rows ``lo + r <= c <= hi - r``
couple the centre to the radius, so they cannot be simple bounds; instead the box is shrunk by a guess
``rho`` and ``f(rho) = max {r : A c + b >= r ||A||, lo + rho <= c <= hi - rho}`` is solved with ``c``
bounded. ``f`` is concave, piecewise linear and decreasing, and the inradius is the root of
``f(rho) = rho``; Newton's method (the slope of ``f`` is minus the sum of the bounds' duals) finds it in
two or three warm-started solves. This module needs numpy and highspy only, so it runs in worker
processes without importing torch (:func:`solve_many`).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from collections import deque
from typing import Any, Callable, Iterable, Optional

import numpy as np

__all__ = ["chebyshev_ball", "max_margin", "solve_many"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# a row of the working set is violated when its (unit-normalised) slack is below -_FEAS
_FEAS = 1e-9


_BANNER_SHOWN = False


def _highs():
    """A quiet HiGHS instance (the first one a process makes prints a banner from C: swallowed here)."""
    global _BANNER_SHOWN
    import highspy

    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        import sys

        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("threads", 1)  # one core per LP: parallelism comes from worker processes
    return h, highspy


def _normalised(A: np.ndarray, b: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to unit norm (so slacks are distances); zero rows are dropped after checking ``b``."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if A.ndim != 2 or b.shape != (A.shape[0],):
        raise ValueError(f"parameter '{name}' must be a matrix [m, d] with offsets [m], got {A.shape} and {b.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise ValueError(f"parameter '{name}' has non-finite entries")
    norms = np.linalg.norm(A, axis=1)
    keep = norms > 0
    if np.any(b[~keep] < 0):
        raise ValueError(f"parameter '{name}' has a zero row with a negative offset: the polytope is empty")
    return A[keep] / norms[keep, None], b[keep] / norms[keep]


def _check_box(lo: float, hi: float, d: int) -> None:
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
    if d < 1:
        raise ValueError("the polytope needs at least one dimension")


class _RowGeneration:
    """A HiGHS model over columns ``(z, t)`` (``t`` the objective column, maximised) whose rows
    ``A z + b >= t * coef`` are added lazily from a pool; ``fixed`` rows are always present."""

    def __init__(self, d: int, lower: np.ndarray, upper: np.ndarray, A: np.ndarray, b: np.ndarray, coef: float,
                 hint: np.ndarray, first: int, batch: int):
        self.h, hs = _highs()
        self.inf = hs.kHighsInf
        self.optimal = hs.HighsModelStatus.kOptimal
        self.d, self.A, self.b, self.coef, self.batch = d, A, b, coef, batch
        self.h.addVars(d + 1, np.r_[lower, -self.inf], np.r_[upper, self.inf])
        self.h.changeColsCost(1, np.array([d], dtype=np.int32), np.array([-1.0]))
        self.inset = np.zeros(len(b), dtype=bool)
        self.add_pool_rows(np.argsort(A @ hint + b, kind="stable")[:first])
        self.solves = 0

    def add_rows(self, G: np.ndarray, g: np.ndarray, coef: float) -> None:
        """Rows ``G z + g >= coef * t``."""
        k = len(g)
        if k == 0:
            return
        M = np.hstack([G, np.full((k, 1), -coef)])
        self.h.addRows(k, -g, np.full(k, self.inf), M.size, np.arange(0, M.size, self.d + 1, dtype=np.int32),
                       np.tile(np.arange(self.d + 1, dtype=np.int32), k), M.ravel())

    def add_pool_rows(self, rows: np.ndarray) -> None:
        self.add_rows(self.A[rows], self.b[rows], self.coef)
        self.inset[rows] = True

    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self.h.changeColsBounds(self.d, np.arange(self.d, dtype=np.int32), lower, upper)

    def solve(self) -> tuple[np.ndarray, float]:
        """Optimum over every pool row: re-solve, adding the most violated rows, until none is violated."""
        while True:
            self.h.run()
            self.solves += 1
            status = self.h.getModelStatus()
            if status != self.optimal:
                raise RuntimeError(f"HiGHS did not find an optimum: {self.h.modelStatusToString(status)}")
            sol = np.asarray(self.h.getSolution().col_value)
            z, t = sol[: self.d], float(sol[self.d])
            slack = self.A @ z + self.b - self.coef * t
            bad = np.flatnonzero((slack < -_FEAS) & ~self.inset)
            if len(bad) == 0:
                return z, t
            self.add_pool_rows(bad[np.argsort(slack[bad], kind="stable")[: self.batch]])

    def bound_duals(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_dual)[: self.d]


def chebyshev_ball(A: np.ndarray, b: np.ndarray, lo: float, hi: float, hint: Optional[np.ndarray] = None,
                   first: int = 300, batch: int = 200, max_newton: int = 50) -> tuple[np.ndarray, float, dict]:
    """Centre and radius of the largest ball in ``{z : A z + b >= 0, lo <= z <= hi}`` (the LP of eq. 5).

    Exact (see the module docstring for the method). ``hint`` is a point in or near the polytope (the
    input whose region it is): the first working set is the ``first`` rows nearest to it, and ``batch``
    violated rows are added per round. Returns ``(centre, r, info)``; ``r`` is recomputed at the centre
    as the smallest distance to a facet or the box, and ``info`` counts solves and working-set rows.
    Raises ``ValueError`` if the polytope misses the box.
    """
    An, bn = _normalised(A, b, "A")
    d = An.shape[1]
    _check_box(lo, hi, d)
    half = (hi - lo) / 2
    if len(bn) == 0:
        return np.full(d, lo + half), float(half), {"solves": 0, "rows": 0, "newton": 0}
    hint = np.full(d, lo + half) if hint is None else np.asarray(hint, dtype=np.float64).ravel()
    if hint.shape != (d,):
        raise ValueError(f"parameter 'hint' must have {d} entries, got {hint.shape}")
    lp = _RowGeneration(d, np.full(d, lo), np.full(d, hi), An, bn, 1.0, hint, first, batch)
    rho = 0.0
    for k in range(max_newton):
        lp.set_bounds(np.full(d, lo + rho), np.full(d, hi - rho))
        c, f = lp.solve()
        if k == 0 and f < -_FEAS:
            raise ValueError(f"the polytope does not meet the box [{lo}, {hi}]^d (deepest point {f:.3g} outside)")
        gap = f - rho
        if abs(gap) <= 1e-12 * max(1.0, half) or (rho >= half and gap >= 0):
            break
        slope = -np.abs(lp.bound_duals()).sum()
        rho = min(half, max(0.0, rho + gap / (1.0 - slope)))
    else:
        raise RuntimeError(f"chebyshev_ball: Newton on the box shrinkage did not converge in {max_newton} steps")
    r = float(min((An @ c + bn).min(), (c - lo).min(), (hi - c).min()))
    return c, max(r, 0.0), {"solves": lp.solves, "rows": int(lp.inset.sum()), "newton": k + 1}


def max_margin(G: np.ndarray, g: np.ndarray, A: np.ndarray, b: np.ndarray, lo: float, hi: float,
               hint: Optional[np.ndarray] = None, first: int = 300, batch: int = 200) -> tuple[float, np.ndarray, dict]:
    """``max s`` s.t. ``G z + g >= s`` (every row), ``A z + b >= 0``, ``lo <= z <= hi``: an exact LP.

    ``G`` holds a few rows kept throughout (e.g. logit differences); the polytope's rows ``A`` are
    generated lazily as in :func:`chebyshev_ball`. Returns ``(s, z, info)``.
    """
    G = np.asarray(G, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if G.ndim != 2 or g.shape != (G.shape[0],) or len(g) == 0:
        raise ValueError(f"parameter 'G' must be a non-empty matrix [k, d] with offsets [k], got {G.shape} and {g.shape}")
    An, bn = _normalised(A, b, "A")
    d = G.shape[1]
    if An.shape[1] != d:
        raise ValueError(f"G has {d} columns but A has {An.shape[1]}")
    _check_box(lo, hi, d)
    hint = np.full(d, (lo + hi) / 2) if hint is None else np.asarray(hint, dtype=np.float64).ravel()
    lp = _RowGeneration(d, np.full(d, lo), np.full(d, hi), An, bn, 0.0, hint, first, batch)
    lp.add_rows(G, g, 1.0)
    z, s = lp.solve()
    return s, z, {"solves": lp.solves, "rows": int(lp.inset.sum())}


def solve_many(fn: Callable, jobs: Iterable[tuple[tuple, dict]], workers: int = 1, total: Optional[int] = None,
               progress: bool = True, desc: str = "LPs") -> list[Any]:
    """``[fn(*args, **kwargs) for args, kwargs in jobs]``, in order, over ``workers`` processes.

    HiGHS' simplex uses one core, so two workers on a 2-core machine double the LP throughput. ``jobs``
    may be a generator: at most ``2 * workers`` jobs are held at a time, so a region's rows (19 MB for a
    3 x 1024 MNIST net) need only exist while its LP is pending. Workers are spawned (not forked, which is
    unsafe once torch has started its threads); ``fn`` must be a module-level function.
    """
    from tqdm.auto import tqdm

    if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        raise ValueError(f"parameter 'workers' must be an integer >= 1, got {workers!r}")
    bar = tqdm(total=total, desc=desc, disable=not progress)
    out: list[Any] = []
    try:
        if workers == 1:
            for args, kwargs in jobs:
                out.append(fn(*args, **kwargs))
                bar.update()
            return out
        ctx = multiprocessing.get_context("spawn")
        # each worker gets one BLAS/OpenMP thread (children inherit the environment, which is set for
        # as long as the pool lives): workers x threads above the core count makes threads spin
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                pending: deque = deque()
                for args, kwargs in jobs:
                    pending.append(pool.submit(fn, *args, **kwargs))
                    while len(pending) >= 2 * workers:
                        out.append(pending.popleft().result())
                        bar.update()
                while pending:
                    out.append(pending.popleft().result())
                    bar.update()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return out
    finally:
        bar.close()
