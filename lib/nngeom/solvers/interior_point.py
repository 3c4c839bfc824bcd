"""A dense primal-dual interior-point method for ``min F(x)`` over ``{x : C x + c >= 0, lo <= x <= hi}``,
in torch, for a batch of programs at once, on the device of ``C`` (CUDA or CPU) in float64.

``F`` is convex and smooth (a linear function included) and the constraint matrix is dense with a few
thousand rows, as for the linear region of a ReLU net. Simplex-based solvers pay for the density at
every pivot, and a new objective over the same polytope costs thousands of pivots (measured: 1 to 9 s
per LP on a 3 x 1024 MNIST region with HiGHS, warm-started); here each iteration is one dense product
``C^T diag(z/s) C`` and one Cholesky factorisation (0.05 s for 3,072 x 784 on this CPU, 0.12 s for the
9,248 rows of a CNN region: keeping a convolution's sparse rows sparse measured slower), and 20 to 40
iterations reach a duality gap of ``1e-9``. Those are batched matrix products and batched Cholesky
factorisations, so the programs of a page that share a shape (the regions of one net, one program per
class) run together on a GPU: :func:`minimize_convex_batch`. :func:`minimize_convex` is the same code
for one program given as numpy arrays (on the CPU), and :func:`chebyshev_ball_batch` the inradius LP of
many regions on it.

The method is Mehrotra's predictor-corrector with an infeasible start: the slacks ``s`` are variables
of their own, and the primal and dual residuals and the complementarity gap are driven to zero
together. For convex ``F`` and vanishing residuals, ``F(x) - F* <= gap``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nngeom.core.validation import check_positive, check_positive_int, check_value_range

__all__ = [
    "ConvexSolution",
    "minimize_convex",
    "ConvexSolutions",
    "minimize_convex_batch",
    "ChebyshevBalls",
    "chebyshev_ball_batch",
]

# F(x) -> (value, gradient [n], Hessian [n, n] or None for a linear F)
Objective = Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray | None]]
# F(x [B, n]) -> (values [B], gradients [B, n], Hessians [B, n, n] or None for a linear F)
BatchObjective = Callable[[Tensor], tuple[Tensor, Tensor, Tensor | None]]


@dataclass
class ConvexSolution:
    """Result of :func:`minimize_convex`."""

    x: np.ndarray  # the best iterate found
    value: float  # F(x)
    gap: float  # the duality gap there (a bound on F(x) - min F)
    residual: float  # the largest primal or dual residual there (relative to 1 + |grad F|)
    iterations: int
    converged: bool  # gap and residuals within their tolerances


@dataclass
class ConvexSolutions:
    """Result of :func:`minimize_convex_batch`: one entry per program, on the device the programs ran on."""

    x: Tensor  # [B, n] the best iterate found
    value: Tensor  # [B] F(x)
    gap: Tensor  # [B] the duality gap there (a bound on F(x) - min F)
    residual: Tensor  # [B] the largest primal or dual residual there (relative to 1 + |grad F|)
    iterations: Tensor  # [B] iterations until the program stopped
    converged: Tensor  # [B] bool: gap and residuals within their tolerances


@contextmanager
def _numpy_blas_threads(n: int) -> Iterator[None]:
    """Run the block with numpy's and scipy's BLAS (OpenBLAS) limited to ``n`` threads, then restore them.

    For a loop that alternates small numpy calls with large torch ones: after each call OpenBLAS's threads
    busy-wait for new work, and on two cores they take the cores from torch's threads. Measured on the
    class-region programs of a 3 x 1024 MNIST region (numpy objectives, 2 cores): 1.6x faster with numpy's
    BLAS on one thread.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, int(n)), user_api="blas"):
        yield


def _float64(name: str, value, device: torch.device) -> Tensor:
    """``value`` as a float64 tensor on ``device``; a tensor already on another device is refused rather
    than copied, so that a program does not silently run half on the CPU."""
    if isinstance(value, Tensor):
        if value.device != device:
            raise ValueError(f"parameter '{name}' is on {value.device}, but 'C' is on {device}: use one device")
        return value.detach().to(torch.float64)
    return torch.as_tensor(np.array(value, dtype=np.float64), device=device)


def _mv(Ct: Tensor, x: Tensor) -> Tensor:
    """``C x`` per program from ``Ct = C^T``, shared ``[n, m]`` or one per program ``[B, n, m]``; ``x [B, n]`` ->
    ``[B, m]``."""
    return x @ Ct if Ct.ndim == 2 else torch.bmm(x.unsqueeze(1), Ct).squeeze(1)


def _rmv(Ct: Tensor, y: Tensor) -> Tensor:
    """``C^T y`` per program, ``y [B, m]`` -> ``[B, n]``."""
    return y @ Ct.mT if Ct.ndim == 2 else torch.bmm(Ct, y.unsqueeze(-1)).squeeze(-1)


def _normal_matrix(Ct: Tensor, d: Tensor) -> Tensor:
    """The lower triangle of ``C^T diag(d) C`` per program (``Ct = C^T`` as in :func:`_mv`, ``d [B, m]``), with
    zeros above the diagonal: ``[B, n, n]``, all that the Cholesky factorisation reads.

    This product is most of the method's work (``2 m n^2`` flops an iteration). Computing only the lower
    block triangle, in ``k`` column blocks, does ``(k + 1) / 2k`` of it: measured on 2 cores at 3,072 x 785,
    0.042 s with four blocks against 0.074 s for the whole product (``C^T`` stored contiguously is part of
    that: a row-scaled ``C^T`` times ``C`` runs at BLAS speed, a scaled transposed view does not).
    """
    B, n = d.shape[0], Ct.shape[-2]
    blocks = min(4, max(1, n // 128))  # blocks narrower than ~200 columns lose BLAS efficiency
    scaled = Ct * d[:, None, :]
    K = torch.zeros(B, n, n, dtype=Ct.dtype, device=Ct.device)
    edges = [round(i * n / blocks) for i in range(blocks + 1)]
    for a, b in zip(edges[:-1], edges[1:]):
        K[:, a:b, :b] = scaled[:, a:b] @ Ct[..., :b, :].mT
    return K


def _step_to_boundary(v: Tensor, dv: Tensor) -> Tensor:
    """Per program, the largest ``a`` with ``v + a dv >= 0`` (``inf`` where no entry decreases)."""
    return torch.where(dv < 0, -v / dv, torch.inf).amin(1)


def minimize_convex_batch(
    F: BatchObjective,
    C,
    c,
    lo,
    hi,
    x0,
    *,
    tol: float = 1e-9,
    residual_tol: float = 1e-6,
    max_iter: int = 100,
    patience: int = 5,
) -> ConvexSolutions:
    """``argmin F(x)`` s.t. ``C x + c >= 0``, ``lo <= x <= hi`` for ``B`` programs at once.

    Args:
        F: maps ``x [B, n]`` to the values ``[B]``, gradients ``[B, n]`` and Hessians ``[B, n, n]`` (or
            ``None`` for a linear objective) of the ``B`` objectives. It is always called with all ``B``
            programs (finished ones at their last iterate), so row ``i`` is program ``i``'s.
        C: the constraint matrices, ``[B, m, n]``, or ``[m, n]`` shared by every program. Rows should be
            scaled to comparable norms (unit rows are best). Its device is where everything runs.
        c: offsets ``[B, m]`` (or ``[m]``, shared).
        lo, hi: bounds, a number, ``[n]`` or ``[B, n]``; ``+-inf`` allowed; ``lo < hi`` everywhere.
        x0: starting points ``[B, n]`` (any points; ones near the answers help).
        tol: relative duality gap ``z^T s / (1 + |F|)`` at which a program has converged (over all
            constraints; a bound on ``F(x) - F*`` once the residuals vanish).
        residual_tol: largest primal and dual residual (relative to ``1 + ||grad F||_inf``) for convergence.
        max_iter: iterations at most.
        patience: a program stops after this many iterations without improving its best iterate.

    The inputs are converted to float64 on ``C``'s device (a tensor on another device is refused). The
    slacks are variables of their own, so the iterates need not be feasible until the end (an
    infeasible-start method, started from unit slacks and multipliers). Near a degenerate optimum rounding
    can make the residuals grow again once the gap is tiny, so each program keeps its best iterate (by
    the larger of the relative gap and residual, each over its tolerance) and stops when that is within
    the tolerances or has not improved for ``patience`` iterations; stopped programs drop out of the
    linear algebra while the others go on. Where a Newton matrix is not positive definite (a direction no
    constraint or curvature holds yet) a ridge of ``1e-12`` times its largest diagonal entry is added for
    that program; if that fails too the program stops at its best iterate, unconverged.

    Returns:
        :class:`ConvexSolutions`, on ``C``'s device.

    Example:
        >>> C = torch.tensor([[1.0, 1.0]]) / 2**0.5  # x_0 + x_1 >= 1 (a unit row), for two programs
        >>> cost = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
        >>> F = lambda x: ((cost * x).sum(1), cost, None)
        >>> minimize_convex_batch(F, C, torch.full((2, 1), -(0.5**0.5)), 0.0, 1.0, torch.zeros(2, 2)).x
        ... # about [[1, 0], [0, 1]]
    """
    device = C.device if isinstance(C, Tensor) else torch.device("cpu")
    C = _float64("C", C, device)
    x = _float64("x0", x0, device)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"parameter 'x0' must be [B, n] with B, n >= 1, got {tuple(x.shape)}")
    B, n = x.shape
    if C.ndim not in (2, 3) or C.shape[-1] != n or C.shape[-2] < 1 or (C.ndim == 3 and C.shape[0] != B):
        raise ValueError(f"parameter 'C' must be [m, {n}] or [{B}, m, {n}] (x0 is [{B}, {n}]), got {tuple(C.shape)}")
    m = C.shape[-2]
    c = _float64("c", c, device)
    if c.shape not in ((m,), (B, m)):
        raise ValueError(f"parameter 'c' must be [{m}] or [{B}, {m}], got {tuple(c.shape)}")
    c = c.expand(B, m)
    bounds = []
    for name, v in (("lo", lo), ("hi", hi)):
        v = _float64(name, v, device)
        if v.shape not in ((), (n,), (B, n)):
            raise ValueError(f"parameter '{name}' must be a number, [{n}] or [{B}, {n}], got {tuple(v.shape)}")
        bounds.append(v.expand(B, n))
    lo, hi = bounds
    if not bool((lo < hi).all()):
        raise ValueError("parameters 'lo' and 'hi': need lo < hi in every coordinate")
    if not (bool(C.isfinite().all()) and bool(c.isfinite().all()) and bool(x.isfinite().all())):
        raise ValueError("parameters 'C', 'c' and 'x0' must be finite")
    # only C^T is kept, stored contiguously: the Newton matrix is then a product at BLAS speed (_normal_matrix)
    Ct, C = C.mT.contiguous(), None
    tol = check_positive("tol", tol)
    residual_tol = check_positive("residual_tol", residual_tol)
    max_iter = check_positive_int("max_iter", max_iter)
    patience = check_positive_int("patience", patience)

    def objective(x_all: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        value, grad, hess = F(x_all)
        value, grad = _float64("F", value, device), _float64("F", grad, device)
        hess = None if hess is None else _float64("F", hess, device)
        if value.shape != (B,) or grad.shape != (B, n) or (hess is not None and hess.shape != (B, n, n)):
            raise ValueError(
                f"parameter 'F' must return values [{B}], gradients [{B}, {n}] and Hessians [{B}, {n}, {n}] or "
                f"None, got {tuple(value.shape)}, {tuple(grad.shape)}, {None if hess is None else tuple(hess.shape)}"
            )
        return value, grad, hess

    # an infinite bound is no constraint: its slack and multiplier are held at 1 and 0, and masked out of
    # every residual and right-hand side so that they never move
    fl, fu = lo.isfinite().double(), hi.isfinite().double()
    lo_f, hi_f = torch.where(fl > 0, lo, 0.0), torch.where(fu > 0, hi, 0.0)
    # unit slacks and multipliers, the slacks no smaller than the constraints' values at x0
    s = (_mv(Ct, x) + c).clamp_min(1.0)
    sl = torch.where(fl > 0, (x - lo_f).clamp_min(1.0), 1.0)
    su = torch.where(fu > 0, (hi_f - x).clamp_min(1.0), 1.0)
    z, zl, zu = torch.ones_like(s), fl.clone(), fu.clone()
    N = m + fl.sum(1) + fu.sum(1)
    since_best = torch.zeros(B, dtype=torch.long, device=device)
    best_merit = torch.full((B,), torch.inf, dtype=torch.float64, device=device)
    best_x, best_value = x.clone(), torch.zeros(B, dtype=torch.float64, device=device)
    best_gap, best_res = torch.full_like(best_value, torch.inf), torch.full_like(best_value, torch.inf)
    iterations = torch.zeros(B, dtype=torch.long, device=device)
    # the programs still running (positions in the batch); the state above is kept for these only
    idx = torch.arange(B, device=device)
    x_all = x.clone()

    for it in range(1, max_iter + 1):
        value, grad, hess = objective(x_all)
        value, grad = value[idx], grad[idx]
        hess = None if hess is None else hess[idx]
        rd = grad - _rmv(Ct, z) - zl + zu
        rp, rpl, rpu = _mv(Ct, x) + c - s, (x - lo_f - sl) * fl, (hi_f - x - su) * fu
        gap = (z * s).sum(1) + (zl * sl).sum(1) + (zu * su).sum(1)
        scale = 1 + grad.abs().amax(1)
        res = torch.maximum(rd.abs().amax(1), torch.cat([rp, rpl, rpu], 1).abs().amax(1)) / scale
        merit = torch.maximum(gap / (1 + value.abs()) / tol, res / residual_tol)
        better = merit < best_merit[idx]
        kept = idx[better]
        best_merit[kept], best_x[kept], best_value[kept] = merit[better], x[better], value[better]
        best_gap[kept], best_res[kept] = gap[better], res[better]
        since_best = torch.where(better, 0, since_best + 1)
        iterations[idx] = it
        go = (merit > 1) & (since_best < patience)
        if it == max_iter or not bool(go.any()):
            break
        if not bool(go.all()):
            idx, x, s, sl, su, z, zl, zu = idx[go], x[go], s[go], sl[go], su[go], z[go], zl[go], zu[go]
            fl, fu, lo_f, hi_f, c, N, since_best = fl[go], fu[go], lo_f[go], hi_f[go], c[go], N[go], since_best[go]
            value, grad, rd, rp, rpl, rpu, gap = value[go], grad[go], rd[go], rp[go], rpl[go], rpu[go], gap[go]
            hess = None if hess is None else hess[go]
            if Ct.ndim == 3:
                Ct = Ct[go]
        mu = (gap / N)[:, None]
        K = _normal_matrix(Ct, z / s)  # its lower triangle
        if hess is not None:
            K = K + hess
        K.diagonal(dim1=-2, dim2=-1).add_(fl * zl / sl + fu * zu / su)
        chol, info = torch.linalg.cholesky_ex(K)
        stuck = info > 0
        if bool(stuck.any()):  # a direction no constraint or curvature holds yet: a small ridge
            Ks = K[stuck]
            ridge = 1e-12 * Ks.diagonal(dim1=-2, dim2=-1).abs().amax(1).clamp_min(1.0)
            Ks.diagonal(dim1=-2, dim2=-1).add_(ridge[:, None])
            chol_s, info_s = torch.linalg.cholesky_ex(Ks)
            chol[stuck] = chol_s
            # still not positive definite: the program takes no step and, not improving, stops at the next
            # check (its other programs' steps do not depend on it)
            failed = torch.zeros_like(stuck)
            failed[stuck] = info_s > 0
            since_best = torch.where(failed, patience, since_best)
            chol[failed] = torch.eye(n, dtype=torch.float64, device=device)
        else:
            failed = stuck

        def direction(rc, rcl, rcu):
            rhs = -rd + _rmv(Ct, (rc - z * rp) / s) + fl * (rcl - zl * rpl) / sl - fu * (rcu - zu * rpu) / su
            dx = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
            ds, dsl, dsu = _mv(Ct, dx) + rp, fl * (dx + rpl), fu * (rpu - dx)
            return dx, ds, dsl, dsu, (rc - z * ds) / s, (rcl - zl * dsl) / sl, (rcu - zu * dsu) / su

        def steps(ds, dsl, dsu, dz, dzl, dzu, frac):
            a_p = torch.minimum(
                torch.minimum(_step_to_boundary(s, ds), _step_to_boundary(sl, dsl)), _step_to_boundary(su, dsu)
            )
            a_d = torch.minimum(
                torch.minimum(_step_to_boundary(z, dz), _step_to_boundary(zl, dzl)), _step_to_boundary(zu, dzu)
            )
            return (frac * a_p).clamp_max(1.0)[:, None], (frac * a_d).clamp_max(1.0)[:, None]

        # predictor (affine scaling), then Mehrotra's centring and second-order correction
        dx, ds, dsl, dsu, dz, dzl, dzu = direction(-z * s, -zl * sl, -zu * su)
        a_p, a_d = steps(ds, dsl, dsu, dz, dzl, dzu, 1.0)
        gap_aff = (
            ((z + a_d * dz) * (s + a_p * ds)).sum(1)
            + ((zl + a_d * dzl) * (sl + a_p * dsl)).sum(1)
            + ((zu + a_d * dzu) * (su + a_p * dsu)).sum(1)
        )
        sigma = ((gap_aff / gap) ** 3).clamp_max(1.0)[:, None]
        dx, ds, dsl, dsu, dz, dzl, dzu = direction(
            sigma * mu - z * s - ds * dz,
            fl * (sigma * mu - zl * sl - dsl * dzl),
            fu * (sigma * mu - zu * su - dsu * dzu),
        )
        a_p, a_d = steps(ds, dsl, dsu, dz, dzl, dzu, 0.995)
        if hess is not None:  # a curved objective couples x and z: one step length for both
            a_p = a_d = torch.minimum(a_p, a_d)
        a_p, a_d = a_p.masked_fill(failed[:, None], 0.0), a_d.masked_fill(failed[:, None], 0.0)
        x = x + a_p * dx
        s, sl, su = s + a_p * ds, sl + a_p * dsl, su + a_p * dsu
        z, zl, zu = z + a_d * dz, zl + a_d * dzl, zu + a_d * dzu
        # a new tensor, not an in-place update: F may keep the x it was given
        x_all = x_all.index_copy(0, idx, x)
    return ConvexSolutions(best_x, best_value, best_gap, best_res, iterations, best_merit <= 1)


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
    allowed), starting from ``x0`` (any point; one near the answer helps): one program, in numpy.

    :func:`minimize_convex_batch` with a batch of one on the CPU (the arguments and stopping rules are
    explained there); ``F(x [n])`` returns the value, the gradient ``[n]`` and the Hessian ``[n, n]`` (or
    ``None`` for a linear objective). Returns the best iterate as a :class:`ConvexSolution`.
    """
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 2:
        raise ValueError(f"parameter 'C' must be a matrix [m, n], got shape {C.shape}")
    n = C.shape[1]
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape != (n,):
        raise ValueError(f"parameter 'x0' must have {n} entries, got {x0.shape}")
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,))
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,))

    def batch_F(x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        value, grad, hess = F(x[0].numpy())
        value = torch.tensor([float(value)], dtype=torch.float64)
        return value, torch.as_tensor(grad)[None], None if hess is None else torch.as_tensor(hess)[None]

    # F is numpy code called every iteration: numpy's BLAS threads would spin between calls and take the
    # cores from torch's (see _numpy_blas_threads); F's arithmetic is small, one thread is plenty
    with _numpy_blas_threads(1):
        sol = minimize_convex_batch(
            batch_F,
            torch.from_numpy(C),
            np.asarray(c, dtype=np.float64)[None],
            lo,
            hi,
            x0[None],
            tol=tol,
            residual_tol=residual_tol,
            max_iter=max_iter,
            patience=patience,
        )
    return ConvexSolution(
        sol.x[0].numpy(),
        float(sol.value[0]),
        float(sol.gap[0]),
        float(sol.residual[0]),
        int(sol.iterations[0]),
        bool(sol.converged[0]),
    )


@dataclass
class ChebyshevBalls:
    """Result of :func:`chebyshev_ball_batch`: the largest ball in each polytope, on the polytopes' device."""

    centre: Tensor  # [B, d]
    radius: Tensor  # [B] the smallest distance from the centre to a facet or the box
    iterations: Tensor  # [B] interior-point iterations
    converged: Tensor  # [B] bool


def chebyshev_ball_batch(
    A,
    b,
    value_range: tuple[float, float],
    hint=None,
    tol: float = 1e-10,
    residual_tol: float = 1e-9,
) -> ChebyshevBalls:
    """Centre and radius of the largest ball in each ``{z : A_i z + b_i >= 0, lo <= z <= hi}`` (the inradius
    LP of eq. 5 of Zhang & Wu), with ``value_range = (lo, hi)``, for ``B`` polytopes of one shape at once.

    Args:
        A: ``[B, m, d]`` (a tensor's device is where the LPs run; arrays run on the CPU).
        b: ``[B, m]``.
        value_range: the box ``(lo, hi)``.
        hint: ``[B, d]`` points in or near the polytopes (where the interior-point method starts; by default
            the middle of the box).
        tol, residual_tol: see :func:`minimize_convex_batch`; the gap is in distance units, the radii being
            at most ``(hi - lo) / 2``.

    The LP ``max r`` s.t. ``A_k c + b_k >= r ||A_k||``, ``lo + r <= c_j <= hi - r`` over ``(c, r)`` is
    solved by :func:`minimize_convex_batch` with the box as ``2 d`` dense rows (they couple ``c`` to
    ``r``, so they cannot be bounds): the whole LP, with no row generation (compare
    :func:`nngeom.solvers.polytope.chebyshev_ball`, HiGHS, one polytope at a time). The radius is
    recomputed at the centre as the smallest distance to a facet or the box.
    Raises ``ValueError`` if a polytope misses the box.
    """
    device = A.device if isinstance(A, Tensor) else torch.device("cpu")
    A = _float64("A", A, device)
    if A.ndim != 3 or A.shape[0] < 1 or A.shape[2] < 1:
        raise ValueError(f"parameter 'A' must be [B, m, d] with B, d >= 1, got {tuple(A.shape)}")
    B, m, d = A.shape
    b = _float64("b", b, device)
    if b.shape != (B, m):
        raise ValueError(f"parameter 'b' must be [{B}, {m}] to match 'A', got {tuple(b.shape)}")
    if not (bool(A.isfinite().all()) and bool(b.isfinite().all())):
        raise ValueError("parameters 'A' and 'b' must be finite")
    lo, hi = check_value_range("value_range", value_range)
    middle = torch.full((B, d), (lo + hi) / 2, dtype=torch.float64, device=device)
    start = middle if hint is None else _float64("hint", hint, device)
    if start.shape != (B, d):
        raise ValueError(f"parameter 'hint' must be [{B}, {d}], got {tuple(start.shape)}")
    norms = A.norm(dim=2)
    zero = norms == 0
    if bool((zero & (b < 0)).any()):
        bad = torch.nonzero((zero & (b < 0)).any(1)).flatten().tolist()
        raise ValueError(f"parameter 'A' has a zero row with a negative offset in polytopes {bad}: they are empty")
    # unit rows make slacks distances; a zero row (with b >= 0) cuts nothing and becomes the always-true 0 >= -1
    An = torch.where(zero[..., None], 0.0, A / norms.clamp_min(1e-300)[..., None])
    bn = torch.where(zero, 1.0, b / norms.clamp_min(1e-300))
    eye = torch.eye(d, dtype=torch.float64, device=device).expand(B, d, d)
    minus_one = torch.full((B, m + 2 * d, 1), -1.0, dtype=torch.float64, device=device)
    C = torch.cat([torch.cat([An, eye, -eye], 1), minus_one], 2)
    box = torch.ones(B, d, dtype=torch.float64, device=device)
    c = torch.cat([bn, -lo * box, hi * box], 1)
    cost = torch.zeros(B, d + 1, dtype=torch.float64, device=device)
    cost[:, -1] = -1.0

    def F(y: Tensor) -> tuple[Tensor, Tensor, None]:
        return -y[:, -1], cost, None

    x0 = torch.cat([start, torch.zeros(B, 1, dtype=torch.float64, device=device)], 1)
    sol = minimize_convex_batch(F, C, c, -torch.inf, torch.inf, x0, tol=tol, residual_tol=residual_tol)
    centre, r = sol.x[:, :d], sol.x[:, -1]
    # the LP's r can only go below 0 by moving the centre out of the box: the polytope misses it
    missing = sol.converged & (r < -1e-8 * max(1.0, (hi - lo) / 2))
    if bool(missing.any()):
        bad = torch.nonzero(missing).flatten().tolist()
        raise ValueError(f"polytopes {bad} do not meet the box [{lo}, {hi}]^d")
    slack = torch.where(zero, torch.inf, (An @ centre.unsqueeze(-1)).squeeze(-1) + bn)
    radius = torch.minimum(slack.amin(1), torch.minimum((centre - lo).amin(1), (hi - centre).amin(1)))
    return ChebyshevBalls(centre, radius.clamp_min(0.0), sol.iterations, sol.converged)
