"""Classification regions inside one linear region (Zhang & Wu, section 3.4, eq. 6-8, Appendix D).

On a linear region ``P = {x : A x + b >= 0, lo <= x <= hi}`` a ReLU net's logits are affine,
``z(x) = L x + l`` (eq. 7). Two questions are asked of every class ``t``:

* **x^t** (eq. 6): the point of ``P`` where the softmax probability of ``t`` is largest. Maximising
  ``log p_t = z_t - LSE_j z_j`` has the same maximisers as maximising ``psi_t = z_t - LSE_{j != t} z_j``
  (``log p_t = -softplus(-psi_t)`` and softplus is increasing), and ``psi_t`` stays well scaled where
  ``p_t`` saturates at 1, so :func:`most_likely_point` maximises ``psi_t``. The distortion (eq. 8) is
  ``max_t ||x^t - x*||``.
* **does class t own part of P?** The paper's test is whether ``x^t`` is classified as ``t``. The exact
  test is the sign of the largest margin ``max_{x in P} min_{j != t} z_t(x) - z_j(x)``, a linear program
  (:func:`class_margin`). The two can differ: ``psi_t`` can be largest where another class still wins by
  a little while every other class is far behind.

Eq. (6) fixes the logits at its optimum but not always the point: on a 3 x 1024 MNIST region the
maximisers can fill a face of hundreds of dimensions, and the distortion then depends on which one a
solver returns. Here ``x^t`` is the maximiser nearest to ``x*`` (:func:`nearest_most_likely_point`), a
well-defined choice; the one nearest to the middle of the box is available for comparison.

All programs are solved by the dense interior-point method of :mod:`nngeom.solvers.interior_point` (the paper used a
convex solver; the tests compare ours with cvxpy). The programs take numpy arrays and run in worker processes
(:func:`nngeom.core.parallel.run_jobs`, one thread each); the solver is torch code, the same that solves a
batch of programs on a GPU (:func:`nngeom.solvers.interior_point.minimize_convex_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nngeom.core.validation import check_value_range
from nngeom.solvers.interior_point import minimize_convex

__all__ = [
    "RegionProgram",
    "MostLikelyPoint",
    "most_likely_point",
    "NearestMaximiser",
    "nearest_most_likely_point",
    "ClassMargin",
    "class_margin",
    "ClassRegions",
    "class_regions",
]


class RegionProgram:
    """One linear region ``{A x + b >= 0, lo <= x <= hi}`` of the test point ``x0`` with its logits
    ``L x + l``, prepared for the programs of section 3.4 (rows scaled to unit length)."""

    def __init__(
        self,
        A: np.ndarray,
        b: np.ndarray,
        L: np.ndarray,
        l: np.ndarray,
        value_range: tuple[float, float],
        x0: np.ndarray,
    ) -> None:
        lo, hi = check_value_range("value_range", value_range)
        A = np.asarray(A, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        self.L = np.asarray(L, dtype=np.float64)
        self.l = np.asarray(l, dtype=np.float64)
        self.x0 = np.asarray(x0, dtype=np.float64).ravel()
        d = len(self.x0)
        if A.ndim != 2 or A.shape[1] != d or b.shape != (A.shape[0],):
            raise ValueError(f"parameters 'A' [m, {d}] and 'b' [m] do not match x0 ({d} values): {A.shape}, {b.shape}")
        if self.L.ndim != 2 or self.L.shape[1] != d or self.l.shape != (self.L.shape[0],) or self.L.shape[0] < 2:
            raise ValueError(
                f"parameters 'L' [M, {d}] and 'l' [M] (M >= 2 classes) do not match: {self.L.shape}, {self.l.shape}"
            )
        norms = np.linalg.norm(A, axis=1)
        keep = norms > 0  # a unit constant on the region cuts nothing (its sign at x0 is its sign everywhere)
        self.A, self.b = A[keep] / norms[keep, None], b[keep] / norms[keep]
        self.lo, self.hi = float(lo), float(hi)
        if (
            (self.A @ self.x0 + self.b).min(initial=0.0) < -1e-7
            or self.x0.min() < lo - 1e-9
            or self.x0.max() > hi + 1e-9
        ):
            raise ValueError("x0 does not lie in the region (or in the box) it is said to define")

    @property
    def n_classes(self) -> int:
        return len(self.l)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.L @ x + self.l

    def face_distance(self, x: np.ndarray) -> tuple[float, int, int]:
        """The distance from ``x`` to the nearest facet hyperplane or box face, and how many hyperplanes and
        box faces lie within ``1e-6`` of it."""
        rows = self.A @ x + self.b
        box = np.r_[x - self.lo, self.hi - x]
        return float(min(rows.min(initial=np.inf), box.min())), int((rows <= 1e-6).sum()), int((box <= 1e-6).sum())


def _check_class(prog: RegionProgram, t) -> int:
    if not (isinstance(t, (int, np.integer)) and not isinstance(t, bool) and 0 <= t < prog.n_classes):
        raise ValueError(f"parameter 't' must be a class in [0, {prog.n_classes}), got {t!r}")
    return int(t)


def _psi(u: np.ndarray, t: int) -> tuple[float, np.ndarray, np.ndarray]:
    """``psi_t(u) = u_t - LSE_{j != t} u_j``, its gradient and Hessian in ``u``."""
    others = np.delete(u, t)
    e = np.exp(others - others.max())
    q = np.insert(e / e.sum(), t, 0.0)
    grad = -q
    grad[t] += 1.0
    return float(u[t] - others.max() - np.log(e.sum())), grad, -(np.diag(q) - np.outer(q, q))


@dataclass
class MostLikelyPoint:
    """Result of :func:`most_likely_point`."""

    x: np.ndarray  # x^t
    psi: float  # psi_t at x
    gap: float  # a bound on max psi_t - psi_t(x)
    iterations: int
    converged: bool
    gradient_norm: float  # |grad_x psi_t| at x: 0 would be needed for an optimum strictly inside (Proposition 1)


@dataclass
class NearestMaximiser:
    """Result of :func:`nearest_most_likely_point`."""

    x: np.ndarray
    distance: float  # to the target
    iterations: int
    converged: bool


@dataclass
class ClassMargin:
    """Result of :func:`class_margin`."""

    margin: float  # max over the region of min_j z_t - z_j: positive iff class t owns an open part of it
    x: np.ndarray  # where it is attained
    gap: float
    iterations: int
    converged: bool


def most_likely_point(prog: RegionProgram, t: int, tol: float = 1e-9) -> MostLikelyPoint:
    """``x^t``: the point of the region where class ``t`` is most probable (eq. 6).

    Maximises the concave ``psi_t(L x + l)`` with :func:`nngeom.solvers.interior_point.minimize_convex`.
    """
    t = _check_class(prog, t)
    L, l = prog.L, prog.l

    def F(x):
        val, g, H = _psi(L @ x + l, t)
        return -val, -(L.T @ g), -(L.T @ H @ L)

    sol = minimize_convex(F, prog.A, prog.b, prog.lo, prog.hi, prog.x0, tol=tol)
    val, g, _ = _psi(prog.logits(sol.x), t)
    return MostLikelyPoint(sol.x, val, sol.gap, sol.iterations, sol.converged, float(np.linalg.norm(L.T @ g)))


def nearest_most_likely_point(
    prog: RegionProgram, t: int, x_t: np.ndarray, target: np.ndarray, slack: float = 1e-6, tol: float = 1e-7
) -> NearestMaximiser:
    """The maximiser of eq. (6) nearest to ``target`` (e.g. the test point).

    Eq. (6) fixes the logit differences ``y = z_t - z_j`` at its optimum ``y*`` (``psi_t`` is strictly
    concave in them), but not ``x``: on a 3 x 1024 MNIST region the maximisers can form a face of
    hundreds of dimensions, and different solvers return different points of it (cvxpy's, for one, lies
    near the middle of the box). Since ``psi_t`` increases in every ``y_j``, the maximisers are exactly
    ``{x in P : y(x) >= y*}``; this function returns the point of that polyhedron (with ``y*`` lowered by
    ``slack`` logits, so the set has an interior) nearest to ``target``, a quadratic program. ``x_t`` is
    any maximiser (:func:`most_likely_point`).
    """
    t = _check_class(prog, t)
    others = [j for j in range(prog.n_classes) if j != t]
    D, g = prog.L[t] - prog.L[others], prog.l[t] - prog.l[others]
    y_star = D @ np.asarray(x_t, dtype=np.float64) + g
    n = np.linalg.norm(D, axis=1)
    if np.any(n == 0):
        raise ValueError("two classes have the same logit gradient on this region: eq. (6) does not fix x")
    target = np.asarray(target, dtype=np.float64).ravel()
    C = np.vstack([prog.A, D / n[:, None]])
    c = np.r_[prog.b, (g - y_star + slack) / n]
    # the objective scaled to about 1 at the start: the unit slacks and multipliers the interior-point
    # method starts from are then of the right size
    scale = 1.0 / max(1.0, float(np.sum((np.asarray(x_t) - target) ** 2)))
    eye2 = 2 * scale * np.eye(len(target))

    def F(x):
        r = x - target
        return scale * float(r @ r), 2 * scale * r, eye2

    # the thin slab makes the last Newton systems ill-conditioned: the residuals stall near 1e-6, where
    # the distance is settled (two starts agree to 1e-8)
    sol = minimize_convex(F, C, c, prog.lo, prog.hi, np.asarray(x_t, dtype=np.float64), tol=tol, residual_tol=1e-5)
    return NearestMaximiser(sol.x, float(np.sqrt(max(sol.value, 0.0) / scale)), sol.iterations, sol.converged)


def class_margin(prog: RegionProgram, t: int, tol: float = 1e-9) -> ClassMargin:
    """``max_{x in P} min_{j != t} z_t(x) - z_j(x)``: class ``t`` owns an open part of the region iff this
    LP's optimum is positive (section 3.4, decided exactly rather than through ``x^t``).

    Solved over ``(x, s)`` with rows ``z_t - z_j - s >= 0`` added to the region's.
    """
    t = _check_class(prog, t)
    others = [j for j in range(prog.n_classes) if j != t]
    G, g = prog.L[t] - prog.L[others], prog.l[t] - prog.l[others]
    d = len(prog.x0)
    C = np.block([[prog.A, np.zeros((len(prog.b), 1))], [G, -np.ones((len(g), 1))]])
    c = np.r_[prog.b, g]
    lo = np.r_[np.full(d, prog.lo), -np.inf]
    hi = np.r_[np.full(d, prog.hi), np.inf]
    y0 = np.r_[prog.x0, float((G @ prog.x0 + g).min()) - 1.0]
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    sol = minimize_convex(lambda y: (float(cost @ y), cost, None), C, c, lo, hi, y0, tol=tol)
    return ClassMargin(float(sol.x[-1]), sol.x[:d], sol.gap, sol.iterations, sol.converged)


@dataclass
class ClassRegions:
    """What :func:`class_regions` found in one linear region (``M`` classes).

    ``x_t`` ``[M, d]``: for every class the most probable point (eq. 6) nearest to the test point ``x*``;
    ``psi`` ``[M]``: ``z_t - LSE_{j != t} z_j`` there; ``predicted`` ``[M]``: the class ``x^t`` is assigned
    (the same for every maximiser); ``margin`` ``[M]``: the exact LP's margin, or where ``x^t`` already
    settles its sign a bound with that sign; ``distortion``: ``max_t ||x^t - x*||`` (eq. 8) with these
    ``x^t``; ``face`` ``[M, 3]``: :meth:`RegionProgram.face_distance` of each ``x^t``; ``gradient_norm``
    ``[M]``: ``||grad psi_t(x^t)||``; ``x_central``, ``distortion_central``: the same with the maximisers
    nearest to the middle of the box (where a solver started there, such as cvxpy's, tends to end), if
    asked for; ``info``: iteration counts and convergence.
    """

    x_t: np.ndarray
    psi: np.ndarray
    predicted: np.ndarray
    margin: np.ndarray
    distortion: float
    face: np.ndarray
    gradient_norm: np.ndarray
    info: dict
    x_central: np.ndarray | None = None
    distortion_central: float | None = None

    @property
    def n_paper(self) -> int:
        """Classes whose ``x^t`` is classified as ``t``: the paper's count of classification regions."""
        return int((self.predicted == np.arange(len(self.predicted))).sum())

    @property
    def n_exact(self) -> int:
        """Classes that win on an open part of the region (exact margin > 0)."""
        return int((self.margin > 0).sum())


def class_regions(
    A: np.ndarray,
    b: np.ndarray,
    L: np.ndarray,
    l: np.ndarray,
    value_range: tuple[float, float],
    x0: np.ndarray,
    central: bool = False,
    tol: float = 1e-9,
) -> ClassRegions:
    """``x^t``, the paper's and the exact class-region test, and the distortion, for every class ``t`` of the
    linear region ``{A x + b >= 0, lo <= x <= hi}`` of the test point ``x0`` whose logits are ``L x + l``.

    ``x^t`` is the maximiser of eq. (6) nearest to ``x0`` (:func:`nearest_most_likely_point`); with
    ``central`` also the one nearest to the middle of the box. The margin LP is skipped where ``x^t``
    already settles its sign: if ``x^t`` is classified as ``t`` the class wins there; if
    ``max psi_t + log(M - 1) < 0`` it wins nowhere (``LSE`` exceeds ``max`` by at most ``log(M - 1)``).
    """
    prog = RegionProgram(A, b, L, l, value_range, x0)
    M, d = prog.n_classes, len(prog.x0)
    x_t = np.zeros((M, d))
    x_central = np.zeros((M, d)) if central else None
    psi, margin, grad_norm = np.zeros(M), np.zeros(M), np.zeros(M)
    predicted = np.zeros(M, dtype=int)
    face = np.zeros((M, 3))
    iters, margin_lps, converged = 0, 0, True
    middle = np.full(d, (prog.lo + prog.hi) / 2)
    for t in range(M):
        best = most_likely_point(prog, t, tol=tol)
        x_any = best.x
        psi[t], grad_norm[t] = best.psi, best.gradient_norm
        near = nearest_most_likely_point(prog, t, x_any, prog.x0)
        x_t[t] = near.x
        iters += best.iterations + near.iterations
        converged &= best.converged and near.converged
        if central:
            mid = nearest_most_likely_point(prog, t, x_any, middle)
            x_central[t] = mid.x
            iters += mid.iterations
            converged &= mid.converged
        u = prog.logits(x_any)
        predicted[t] = int(u.argmax())
        wins = float(u[t] - np.delete(u, t).max())
        bound = best.psi + best.gap + np.log(M - 1)
        if wins > 0:
            margin[t] = wins  # a lower bound: class t wins at x^t
        elif bound < 0:
            margin[t] = bound  # an upper bound below 0
        else:
            lp = class_margin(prog, t, tol=tol)
            margin[t] = lp.margin
            margin_lps += 1
            iters += lp.iterations
            converged &= lp.converged
        face[t] = prog.face_distance(x_t[t])
    return ClassRegions(
        x_t=x_t,
        psi=psi,
        predicted=predicted,
        margin=margin,
        distortion=float(np.linalg.norm(x_t - prog.x0, axis=1).max()),
        face=face,
        gradient_norm=grad_norm,
        info={"iterations": iters, "margin_lps": margin_lps, "converged": bool(converged)},
        x_central=x_central,
        distortion_central=None if x_central is None else float(np.linalg.norm(x_central - prog.x0, axis=1).max()),
    )
