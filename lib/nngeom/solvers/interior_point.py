"""A dense primal-dual interior-point method for ``min F(x)`` over ``{x : C x + c >= 0, lo <= x <= hi}``.

``F`` is convex and smooth (a linear function included) and the constraint matrix is dense with a few
thousand rows, as for the linear region of a ReLU net. Simplex-based solvers pay for the density at
every pivot, and a new objective over the same polytope costs thousands of pivots (measured: 1 to 9 s
per LP on a 3 x 1024 MNIST region with HiGHS, warm-started); here each iteration is one dense product
``C^T diag(z/s) C`` and one Cholesky factorisation (0.05 s for 3,072 x 784 on this CPU, 0.12 s for the
9,248 rows of a CNN region: keeping a convolution's sparse rows sparse measured slower), and 20 to 40
iterations reach a duality gap of ``1e-9``.

The method is Mehrotra's predictor-corrector with an infeasible start: the slacks ``s`` are variables
of their own, and the primal and dual residuals and the complementarity gap are driven to zero
together. For convex ``F`` and vanishing residuals, ``F(x) - F* <= gap``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

__all__ = ["ConvexSolution", "minimize_convex"]

# F(x) -> (value, gradient [n], Hessian [n, n] or None for a linear F)
Objective = Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray | None]]


@dataclass
class ConvexSolution:
    """Result of :func:`minimize_convex`."""

    x: np.ndarray  # the best iterate found
    value: float  # F(x)
    gap: float  # the duality gap there (a bound on F(x) - min F)
    residual: float  # the largest primal or dual residual there
    iterations: int
    converged: bool  # gap and residuals within their tolerances


def minimize_convex(
    F: Objective,
    C: np.ndarray,
    c: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    x0: np.ndarray,
    tol: float = 1e-9,
    residual_tol: float = 1e-6,
    max_iter: int = 100,
    patience: int = 5,
) -> ConvexSolution:
    """``argmin F(x)`` s.t. ``C x + c >= 0``, ``lo <= x <= hi`` (``lo``/``hi`` per coordinate, ``+-inf``
    allowed), starting from ``x0`` (any point; one near the answer helps).

    Rows of ``C`` should be scaled to comparable norms (unit rows are best). The slacks are variables of
    their own, so the iterates need not be feasible until the end (an infeasible-start method, started
    from unit slacks and multipliers). Stops when the complementarity gap ``z^T s`` (over all
    constraints; a bound on ``F(x) - F*`` once the residuals vanish) is below ``tol (1 + |F|)`` and the
    primal and dual residuals below ``residual_tol`` (relative to ``1 + ||grad F||``). Near a degenerate
    optimum rounding can make the residuals grow again once the gap is tiny, so the best iterate (by the
    larger of the relative gap and residual) is kept and the loop also ends after ``patience``
    iterations without improving it. Returns the best iterate as a :class:`ConvexSolution`.
    """
    C = np.asarray(C, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    n = C.shape[1]
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,))
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,))
    if np.any(lo >= hi):
        raise ValueError("need lo < hi in every coordinate")
    bl, bu = np.isfinite(lo), np.isfinite(hi)
    x = np.asarray(x0, dtype=np.float64).copy()
    if x.shape != (n,):
        raise ValueError(f"x0 must have {n} entries, got {x.shape}")
    # unit slacks and multipliers, the slacks no smaller than the constraints' values at x0
    s = np.maximum(C @ x + c, 1.0)
    sl, su = np.maximum(x - lo, 1.0)[bl], np.maximum(hi - x, 1.0)[bu]
    z, zl, zu = np.ones_like(s), np.ones_like(sl), np.ones_like(su)
    N = len(s) + len(sl) + len(su)
    best: tuple | None = None
    since_best = 0

    def step_to_boundary(v, dv):
        neg = dv < 0
        return float((-v[neg] / dv[neg]).min()) if neg.any() else np.inf

    for it in range(1, max_iter + 1):
        value, grad, hess = F(x)
        rd = grad - C.T @ z
        rd[bl] -= zl
        rd[bu] += zu
        rp, rpl, rpu = C @ x + c - s, (x - lo)[bl] - sl, (hi - x)[bu] - su
        gap = float(z @ s + zl @ sl + zu @ su)
        scale = 1 + float(np.abs(grad).max())
        res = max(float(np.abs(rd).max()), float(np.abs(np.r_[rp, rpl, rpu]).max(initial=0.0))) / scale
        merit = max(gap / (1 + abs(value)) / tol, res / residual_tol)
        if best is None or merit < best[0]:
            best, since_best = (merit, x.copy(), float(value), gap, res, it), 0
        else:
            since_best += 1
        if merit <= 1 or since_best >= patience:
            break
        mu = gap / N
        K = (C.T * (z / s)) @ C
        if hess is not None:
            K += hess
        diag = np.zeros(n)
        diag[bl] += zl / sl
        diag[bu] += zu / su
        K[np.diag_indices(n)] += diag
        try:
            chol = np.linalg.cholesky(K)
        except np.linalg.LinAlgError:  # a direction no constraint or curvature holds yet: a small ridge
            K[np.diag_indices(n)] += 1e-12 * max(1.0, float(np.abs(np.diag(K)).max()))
            chol = np.linalg.cholesky(K)

        def direction(rc, rcl, rcu):
            rhs = -rd + C.T @ ((rc - z * rp) / s)
            rhs[bl] += (rcl - zl * rpl) / sl
            rhs[bu] -= (rcu - zu * rpu) / su
            dx = solve_triangular(chol, solve_triangular(chol, rhs, lower=True), lower=True, trans="T")
            ds, dsl, dsu = C @ dx + rp, dx[bl] + rpl, -dx[bu] + rpu
            return dx, ds, dsl, dsu, (rc - z * ds) / s, (rcl - zl * dsl) / sl, (rcu - zu * dsu) / su

        def steps(ds, dsl, dsu, dz, dzl, dzu, frac):
            a_p = min(1.0, frac * min(step_to_boundary(s, ds), step_to_boundary(sl, dsl), step_to_boundary(su, dsu)))
            a_d = min(1.0, frac * min(step_to_boundary(z, dz), step_to_boundary(zl, dzl), step_to_boundary(zu, dzu)))
            return a_p, a_d

        # predictor (affine scaling), then Mehrotra's centring and second-order correction
        dx, ds, dsl, dsu, dz, dzl, dzu = direction(-z * s, -zl * sl, -zu * su)
        a_p, a_d = steps(ds, dsl, dsu, dz, dzl, dzu, 1.0)
        gap_aff = float(
            (z + a_d * dz) @ (s + a_p * ds) + (zl + a_d * dzl) @ (sl + a_p * dsl) + (zu + a_d * dzu) @ (su + a_p * dsu)
        )
        sigma = min(1.0, (gap_aff / gap) ** 3)
        dx, ds, dsl, dsu, dz, dzl, dzu = direction(
            sigma * mu - z * s - ds * dz, sigma * mu - zl * sl - dsl * dzl, sigma * mu - zu * su - dsu * dzu
        )
        a_p, a_d = steps(ds, dsl, dsu, dz, dzl, dzu, 0.995)
        if hess is not None:  # a curved objective couples x and z: one step length for both
            a_p = a_d = min(a_p, a_d)
        x = x + a_p * dx
        s, sl, su = s + a_p * ds, sl + a_p * dsl, su + a_p * dsu
        z, zl, zu = z + a_d * dz, zl + a_d * dzl, zu + a_d * dzu
    merit, x, value, gap, res, at = best
    return ConvexSolution(x, value, gap, res, it, bool(merit <= 1))
