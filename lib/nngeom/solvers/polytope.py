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
processes without importing torch (:func:`nngeom.core.parallel.run_jobs`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nngeom.core.validation import check_value_range

__all__ = ["ChebyshevBall", "chebyshev_ball", "Redundancy", "redundant_rows"]

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


def _check_box(value_range: tuple[float, float], d: int) -> tuple[float, float]:
    lo, hi = check_value_range("value_range", value_range)
    if d < 1:
        raise ValueError("the polytope needs at least one dimension")
    return lo, hi


class _RowGeneration:
    """A HiGHS model over columns ``(z, t)`` (``t`` the objective column, maximised) whose rows
    ``A z + b >= t * coef`` are added lazily from a pool; ``fixed`` rows are always present."""

    def __init__(
        self,
        d: int,
        lower: np.ndarray,
        upper: np.ndarray,
        A: np.ndarray,
        b: np.ndarray,
        coef: float,
        hint: np.ndarray,
        first: int,
        batch: int,
    ):
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
        self.h.addRows(
            k,
            -g,
            np.full(k, self.inf),
            M.size,
            np.arange(0, M.size, self.d + 1, dtype=np.int32),
            np.tile(np.arange(self.d + 1, dtype=np.int32), k),
            M.ravel(),
        )

    def add_pool_rows(self, rows: np.ndarray) -> None:
        self.add_rows(self.A[rows], self.b[rows], self.coef)
        self.inset[rows] = True

    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self.h.changeColsBounds(self.d, np.arange(self.d, dtype=np.int32), lower, upper)

    def rounds(self) -> Iterator[tuple[np.ndarray, float, np.ndarray, np.ndarray]]:
        """Solve, yield ``(z, t, slack, violated pool rows)``, add the most violated rows, repeat; ends
        after yielding a solution that violates no row (the optimum over every pool row)."""
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
            yield z, t, slack, bad
            if len(bad) == 0:
                return
            self.add_pool_rows(bad[np.argsort(slack[bad], kind="stable")[: self.batch]])

    def solve(self) -> tuple[np.ndarray, float]:
        """Optimum over every pool row: re-solve, adding the most violated rows, until none is violated."""
        # run every round, keeping only the last, whose optimum is the answer
        ((z, t, _, _),) = deque(self.rounds(), maxlen=1)
        return z, t

    def bound_duals(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_dual)[: self.d]


@dataclass
class ChebyshevBall:
    """Result of :func:`chebyshev_ball`: the largest ball in a polytope and what finding it cost."""

    centre: np.ndarray  # [d]
    radius: float  # the smallest distance from the centre to a facet or the box
    solves: int  # LP solves
    rows: int  # rows in the final working set
    newton: int  # Newton steps on the box shrinkage


def chebyshev_ball(
    A: np.ndarray,
    b: np.ndarray,
    value_range: tuple[float, float],
    hint: np.ndarray | None = None,
    first: int = 300,
    batch: int = 200,
    max_newton: int = 50,
) -> ChebyshevBall:
    """Centre and radius of the largest ball in ``{z : A z + b >= 0, lo <= z <= hi}`` (the LP of eq. 5), with
    ``value_range = (lo, hi)``.

    Exact (see the module docstring for the method). ``hint`` is a point in or near the polytope (the
    input whose region it is): the first working set is the ``first`` rows nearest to it, and ``batch``
    violated rows are added per round. The radius is recomputed at the centre as the smallest distance to
    a facet or the box.
    Raises ``ValueError`` if the polytope misses the box.
    """
    An, bn = _normalised(A, b, "A")
    d = An.shape[1]
    lo, hi = _check_box(value_range, d)
    half = (hi - lo) / 2
    if len(bn) == 0:
        return ChebyshevBall(np.full(d, lo + half), float(half), solves=0, rows=0, newton=0)
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
    return ChebyshevBall(c, max(r, 0.0), solves=lp.solves, rows=int(lp.inset.sum()), newton=k + 1)


def _ray_exits(
    An: np.ndarray, slack: np.ndarray, directions: np.ndarray, rows: np.ndarray, box_slack: np.ndarray
) -> np.ndarray:
    """For rays ``p + s * direction`` (``s > 0``) from a point ``p`` inside the polytope (``slack`` its row
    slacks, ``box_slack`` its ``[p - lo, hi - p]``): the row among ``rows`` through which each ray leaves,
    or -1 where it leaves through the box first."""
    rate = directions @ An[rows].T  # [rays, rows]: how fast each row's slack changes along the ray
    d = directions.shape[1]
    box_rate = np.hstack([directions, -directions])
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(rate < 0, slack[rows][None, :] / -rate, np.inf)
        s_box = np.where(box_rate < 0, box_slack[None, :] / -box_rate, np.inf).min(1)
    hit = s.argmin(1)
    s_hit = s[np.arange(len(s)), hit]
    assert box_slack.shape == (2 * d,)
    return np.where(s_hit < s_box, rows[hit], -1)


@dataclass
class Redundancy:
    """Result of :func:`redundant_rows`: which rows can be dropped, and how each was settled."""

    redundant: np.ndarray  # [m] bool: the row is not a facet (undecided rows count as not redundant)
    decided: np.ndarray  # [m] bool: the row's answer is known (every row unless ``rows`` limited the LPs)
    by_box: int  # rows the box alone implies
    by_rays: int  # rows proved facets by rays
    facets: int  # rows known to be facets
    lps: int  # LP solves
    working_rows: int  # rows that entered the LP's working set


def redundant_rows(
    A: np.ndarray,
    b: np.ndarray,
    value_range: tuple[float, float],
    interior: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    n_rays: int = 1000,
    n_starts: int = 10,
    generator: np.random.Generator | None = None,
    batch: int = 200,
    progress: bool = False,
    desc: str = "redundancy LPs",
) -> Redundancy:
    """Which rows of ``{z : A z + b >= 0, lo <= z <= hi}`` (``value_range = (lo, hi)``) can be dropped without
    changing the set
    (Zhang & Wu, Appendix C, eq. 18): every row that is not a facet.

    The paper tests row ``k`` with ``y = min a_k z + b_k`` over all other rows, the box, and row ``k``
    loosened to ``a_k z + b_k >= -1``: redundant iff ``y >= 0``; a redundant row is removed before the
    next test. That is one LP with thousands of dense rows per row (more than 13 minutes for one 3 x 1024
    region here). This function reaches the same answer faster in two ways:

    * **rays**: a ray from a point strictly inside leaves through a facet, so rays towards every
      hyperplane and ``n_rays`` random ones, from ``n_starts`` interior points, prove many rows to be
      facets for the price of matrix products;
    * **row generation** for the remaining rows' LPs: the LP over a subset of the rows is a relaxation, so
      ``y >= 0`` on it already proves redundancy, and an optimum that satisfies every other row proves
      row ``k`` is a facet; otherwise the rows it violates join (``batch`` at a time, dual simplex
      restarts from the previous basis), and the working set carries over to the next row.

    Rows the box alone implies are settled without an LP; of identical rows the last is kept (as the
    paper's sequential removal does). ``rows``: test only these rows by LP (e.g. a random sample, when
    every LP is too slow); the others are then decided only where the box or a ray settles them, and
    ``info["decided"]`` marks which rows have an answer (undecided rows are reported as not redundant).
    ``interior``: a point strictly inside (e.g. the input whose region it is); by default, or if it is
    not strictly inside, the Chebyshev centre. ``generator`` draws the random rays and starting points
    (default: a fixed ``numpy.random.default_rng(0)``); the answer does not depend on them, only how many
    rows need an LP. Rows are scaled to unit norm, so tolerances are in distance units. Returns a
    :class:`Redundancy`.
    """
    from tqdm import tqdm

    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if A.ndim != 2 or b.shape != (A.shape[0],):
        raise ValueError(f"parameter 'A' must be a matrix [m, d] with offsets [m], got {A.shape} and {b.shape}")
    m, d = A.shape
    lo, hi = _check_box(value_range, d)
    for name, v in (("n_rays", n_rays), ("n_starts", n_starts), ("batch", batch)):
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= (0 if name == "n_rays" else 1)):
            raise ValueError(f"parameter '{name}' must be an integer >= {0 if name == 'n_rays' else 1}, got {v!r}")
    norms = np.linalg.norm(A, axis=1)
    nonzero = norms > 0
    if np.any(b[~nonzero] < 0):
        raise ValueError("parameter 'A' has a zero row with a negative offset: the polytope is empty")
    An = np.zeros_like(A)
    bn = np.where(nonzero, 0.0, 1.0)
    An[nonzero] = A[nonzero] / norms[nonzero, None]
    bn[nonzero] = b[nonzero] / norms[nonzero]
    # the smallest value of a row over the box alone: rows already >= 0 there cut nothing
    box_min = np.minimum(An * lo, An * hi).sum(1) + bn
    redundant = box_min >= -_FEAS
    by_box = int(redundant.sum())
    # of rows that are the same half-space the paper's order removes all but the last (each is redundant
    # while a later copy remains); ties between copies would otherwise confuse the rays below
    _, group = np.unique(np.round(np.c_[An, bn], 12), axis=0, return_inverse=True)
    last = np.zeros(group.max() + 1, dtype=int)
    np.maximum.at(last, group.ravel(), np.arange(m))
    redundant |= np.arange(m) != last[group.ravel()]
    facet = np.zeros(m, dtype=bool)
    live = np.flatnonzero(~redundant)
    c = None if interior is None else np.asarray(interior, dtype=np.float64).ravel()
    if c is not None and c.shape != (d,):
        raise ValueError(f"parameter 'interior' must have {d} entries, got {c.shape}")
    if c is None or min((An[live] @ c + bn[live]).min(initial=np.inf), (c - lo).min(), (hi - c).min()) <= 1e-7:
        ball = chebyshev_ball(An[live], bn[live], (lo, hi))
        c, r = ball.centre, ball.radius
        if r <= 1e-9:
            raise ValueError("the polytope has no interior inside the box: redundancy is not defined this way")

    # rays from c, then from points on random chords through c
    rng = np.random.default_rng(0) if generator is None else generator
    points = [c]
    for _ in range(n_starts - 1):
        u = rng.standard_normal(d)
        u /= np.linalg.norm(u)
        slack0, box0 = An @ c + bn, np.r_[c - lo, hi - c]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.r_[An[live] @ u, u, -u]
            room = np.where(rate < 0, np.r_[slack0[live], box0] / -rate, np.inf).min()
        points.append(c + rng.uniform(0.05, 0.95) * room * u)
    for p in points:
        slack, box_slack = An @ p + bn, np.r_[p - lo, hi - p]
        undecided = np.flatnonzero(~redundant & ~facet)
        rays = np.vstack([-An[undecided], rng.standard_normal((n_rays, d))])
        for chunk in np.array_split(rays, max(1, len(rays) // 256)):
            hits = _ray_exits(An, slack, chunk, live, box_slack)
            facet[hits[hits >= 0]] = True
    by_rays = int(facet.sum())

    # the paper's LP for each undecided row, by row generation over a working set that starts with the
    # known facets and carries over from row to row
    h, hs = _highs()
    inf = hs.kHighsInf
    h.addVars(d, np.full(d, lo), np.full(d, hi))
    cols = np.arange(d, dtype=np.int32)
    position = np.full(m, -1)  # the row's index in the HiGHS model

    def add_rows(rows: np.ndarray) -> None:
        k = len(rows)
        position[rows] = h.getNumRow() + np.arange(k)
        h.addRows(
            k,
            -bn[rows],
            np.full(k, inf),
            k * d,
            np.arange(0, k * d, d, dtype=np.int32),
            np.tile(cols, k),
            An[rows].ravel(),
        )

    add_rows(np.flatnonzero(facet))
    lps = 0
    todo = ~redundant & ~facet
    if rows is not None:
        chosen = np.zeros(m, dtype=bool)
        chosen[np.asarray(rows, dtype=int)] = True
        todo &= chosen
    for k in tqdm(np.flatnonzero(todo), desc=desc, disable=not progress):
        if position[k] < 0:
            add_rows(np.array([k]))
        h.changeRowBounds(int(position[k]), -bn[k] - 1.0, inf)
        h.changeColsCost(d, cols, An[k])
        while True:
            h.run()
            lps += 1
            status = h.getModelStatus()
            if status != hs.HighsModelStatus.kOptimal:
                raise RuntimeError(f"redundancy LP for row {k}: {h.modelStatusToString(status)}")
            z = np.asarray(h.getSolution().col_value)
            if An[k] @ z + bn[k] >= -_FEAS:
                redundant[k] = True
                break
            slack = An @ z + bn
            slack[k] = 0.0
            bad = np.flatnonzero((slack < -_FEAS) & (position < 0) & ~redundant)
            if len(bad) == 0:
                facet[k] = True
                break
            add_rows(bad[np.argsort(slack[bad], kind="stable")[:batch]])
        # a redundant row is removed before the next test (the paper's sequential removal)
        h.changeRowBounds(int(position[k]), -inf if redundant[k] else -bn[k], inf)
    return Redundancy(redundant, redundant | facet, by_box, by_rays, int(facet.sum()), lps, int((position >= 0).sum()))
