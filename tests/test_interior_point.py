"""The batched torch interior-point method (nngeom.solvers.interior_point) against scipy's HiGHS, closed forms
and itself one program at a time; its Chebyshev balls against the row-generation LP of nngeom.solvers.polytope;
CUDA against the CPU where a GPU is present."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from nngeom.solvers.interior_point import chebyshev_ball_batch, minimize_convex, minimize_convex_batch
from nngeom.solvers.polytope import chebyshev_ball


def _programs(seed: int, B: int = 6, m: int = 40, d: int = 6):
    """``B`` random polytopes ``{A x + b >= 0}`` of one shape (unit rows), each around a point ``x0`` strictly
    inside ``[-1, 1]^d``, and random linear costs."""
    g = np.random.default_rng(seed)
    x0 = g.uniform(-0.7, 0.7, size=(B, d))
    A = g.normal(size=(B, m, d))
    A /= np.linalg.norm(A, axis=2, keepdims=True)
    b = -np.einsum("bmd,bd->bm", A, x0) + np.abs(g.normal(size=(B, m))) * 0.4
    return A, b, x0, g.normal(size=(B, d))


def _linear(cost: torch.Tensor):
    return lambda x: ((cost * x).sum(1), cost, None)


def _highs(cost, A, b, lo, hi):
    res = linprog(cost, A_ub=-A, b_ub=b, bounds=list(zip(lo, hi)), method="highs")
    assert res.status == 0
    return res


def test_lp_optima_equal_highs_with_per_program_and_infinite_bounds():
    A, b, x0, cost = _programs(0)
    B, _, d = A.shape
    lo = np.full((B, d), -1.0)
    hi = np.full((B, d), 1.0)
    lo[::2, 0] = -0.3  # bounds that differ between programs
    hi[:, 1] = np.inf  # an unbounded side: the cost must hold it, or the rows
    cost[:, 1] = -np.abs(cost[:, 1])
    sol = minimize_convex_batch(_linear(torch.tensor(cost)), torch.tensor(A), torch.tensor(b), lo, hi, x0)
    assert sol.converged.all() and sol.x.dtype == torch.float64
    for i in range(B):
        res = _highs(
            cost[i],
            A[i],
            b[i],
            [None if not np.isfinite(v) else v for v in lo[i]],
            [None if not np.isfinite(v) else v for v in hi[i]],
        )
        assert float(sol.value[i]) == pytest.approx(res.fun, rel=1e-7, abs=1e-9)
        assert float(cost[i] @ sol.x[i].numpy()) == pytest.approx(res.fun, rel=1e-7, abs=1e-9)
        assert (A[i] @ sol.x[i].numpy() + b[i]).min() >= -1e-7
        assert float(sol.gap[i]) <= 1e-9 * (1 + abs(res.fun))


def test_batch_equals_one_program_at_a_time():
    """Programs that need different numbers of iterations: each stops on its own, and its answer is the one
    it gets alone (through the numpy wrapper)."""
    A, b, x0, cost = _programs(1, B=8)
    x0[3] = 5.0  # far outside polytope and box: more iterations than the others
    sol = minimize_convex_batch(_linear(torch.tensor(cost)), torch.tensor(A), torch.tensor(b), -1.0, 1.0, x0)
    assert len(set(sol.iterations.tolist())) > 1
    for i in range(len(A)):
        one = minimize_convex(lambda x, i=i: (float(cost[i] @ x), cost[i], None), A[i], b[i], -1.0, 1.0, x0[i])
        assert one.iterations == int(sol.iterations[i]) and one.converged == bool(sol.converged[i])
        assert np.abs(one.x - sol.x[i].numpy()).max() < 1e-12
        assert one.value == pytest.approx(float(sol.value[i]), rel=1e-12, abs=1e-14)


def test_infeasible_start_reaches_the_lp_optimum():
    A, b, x0, cost = _programs(2, B=3)
    outside = np.full_like(x0, 4.0)
    assert (A[0] @ outside[0] + b[0]).min() < 0  # outside the polytope too, not only the box
    sol = minimize_convex_batch(_linear(torch.tensor(cost)), torch.tensor(A), torch.tensor(b), -1.0, 1.0, outside)
    assert sol.converged.all()
    for i in range(3):
        res = _highs(cost[i], A[i], b[i], [-1.0] * 6, [1.0] * 6)
        assert float(sol.value[i]) == pytest.approx(res.fun, rel=1e-7, abs=1e-9)
        assert np.abs(sol.x[i].numpy() - res.x).max() < 1e-6  # random costs: the vertex is unique


def test_shared_constraints_broadcast_like_one_copy_per_program():
    A, b, x0, cost = _programs(3, B=5)
    F = _linear(torch.tensor(cost))
    shared = minimize_convex_batch(F, torch.tensor(A[0]), torch.tensor(b[0]), -1.0, 1.0, np.repeat(x0[:1], 5, 0))
    copies = minimize_convex_batch(
        F, torch.tensor(A[:1]).expand(5, -1, -1), torch.tensor(b[:1]).expand(5, -1), -1.0, 1.0, np.repeat(x0[:1], 5, 0)
    )
    assert shared.converged.all()
    assert torch.allclose(shared.x, copies.x, rtol=0, atol=1e-10)
    assert torch.equal(shared.iterations, copies.iterations)


def test_strictly_convex_quadratic_against_closed_forms():
    """``min ||x - t_i||^2``: over the box alone (a far-away row) the answer is ``clip(t_i)``; over one unit
    half-space ``a x + c >= 0`` with no bounds it is ``t_i + max(0, -(a t_i + c)) a``."""
    g = np.random.default_rng(4)
    B, d = 7, 5
    t = torch.tensor(g.normal(scale=2.0, size=(B, d)))
    F = lambda x: (((x - t) ** 2).sum(1), 2 * (x - t), 2 * torch.eye(d, dtype=torch.float64).expand(B, d, d))  # noqa: E731
    far = torch.ones(1, d, dtype=torch.float64) / d**0.5
    box = minimize_convex_batch(F, far, torch.tensor([100.0]), -1.0, 1.0, torch.zeros(B, d))
    assert box.converged.all()
    assert torch.allclose(box.x, t.clamp(-1.0, 1.0), rtol=0, atol=1e-7)
    a = torch.tensor(g.normal(size=d))
    a /= a.norm()
    half = minimize_convex_batch(F, a[None], torch.tensor([0.5]), -torch.inf, torch.inf, torch.zeros(B, d))
    expected = t + (-(t @ a + 0.5)).clamp_min(0.0)[:, None] * a
    assert half.converged.all() and (t @ a + 0.5 < 0).any()  # some targets lie outside the half-space
    assert torch.allclose(half.x, expected, rtol=0, atol=1e-7)
    assert torch.allclose(half.value, ((expected - t) ** 2).sum(1), rtol=1e-7, atol=1e-9)


def test_a_coordinate_nothing_holds_takes_the_ridge_and_the_others_are_untouched():
    """A free coordinate with no cost and no row: the Newton matrix is singular there, the ridge makes it
    solvable, and the coordinate stays where it started; a second program in the batch does not need it and
    gets its own answer."""
    A, b, x0, cost = _programs(5, B=2, d=4)
    b[0] += A[0, :, 3] * x0[0, 3]  # x0 stays inside once coordinate 3 leaves the rows
    A[0, :, 3] = 0.0  # program 0: coordinate 3 in no row
    cost[0, 3] = 0.0
    lo = np.full((2, 4), -1.0)
    hi = np.full((2, 4), 1.0)
    lo[0, 3], hi[0, 3] = -np.inf, np.inf
    sol = minimize_convex_batch(_linear(torch.tensor(cost)), torch.tensor(A), torch.tensor(b), lo, hi, x0)
    assert sol.converged.all()
    assert float(sol.x[0, 3]) == pytest.approx(x0[0, 3], abs=1e-9)
    alone = minimize_convex(lambda x: (float(cost[1] @ x), cost[1], None), A[1], b[1], lo[1], hi[1], x0[1])
    assert np.abs(alone.x - sol.x[1].numpy()).max() < 1e-9


def test_max_iter_stops_unconverged():
    A, b, x0, cost = _programs(6, B=2)
    sol = minimize_convex_batch(
        _linear(torch.tensor(cost)), torch.tensor(A), torch.tensor(b), -1.0, 1.0, x0, max_iter=3
    )
    assert not sol.converged.any() and sol.iterations.tolist() == [3, 3]


@pytest.mark.parametrize("seed", range(4))
def test_chebyshev_balls_equal_the_row_generation_lp(seed):
    g = np.random.default_rng(10 + seed)
    B, m, d = 5, 60, 5
    inside = g.uniform(-0.6, 0.6, size=(B, d))
    A = g.normal(size=(B, m, d)) * g.uniform(0.1, 3.0, size=(B, m, 1))  # rows of unequal norms
    b = -np.einsum("bmd,bd->bm", A, inside) + np.abs(g.normal(size=(B, m))) * np.linalg.norm(A, axis=2) * 0.3
    A[0, 0], b[0, 0] = 0.0, 0.5  # a zero row with a positive offset cuts nothing
    balls = chebyshev_ball_batch(torch.tensor(A), torch.tensor(b), (-1.0, 1.0), hint=inside)
    assert balls.converged.all()
    for i in range(B):
        ref = chebyshev_ball(A[i], b[i], (-1.0, 1.0), hint=inside[i])
        assert float(balls.radius[i]) == pytest.approx(ref.radius, rel=1e-7)
        c = balls.centre[i].numpy()
        n = np.linalg.norm(A[i], axis=1)
        rows = (A[i] @ c + b[i])[n > 0] / n[n > 0]
        assert min(rows.min(), (c + 1).min(), (1 - c).min()) == pytest.approx(float(balls.radius[i]), abs=1e-12)


def test_errors_name_the_parameter():
    A, b, x0, cost = _programs(7, B=2)
    F = _linear(torch.tensor(cost))
    C, c = torch.tensor(A), torch.tensor(b)
    with pytest.raises(ValueError, match="'C'"):
        minimize_convex_batch(F, C[:, :, :4], c, -1.0, 1.0, x0)
    with pytest.raises(ValueError, match="'C'"):
        minimize_convex_batch(F, torch.cat([C, C]), torch.cat([c, c]), -1.0, 1.0, x0)
    with pytest.raises(ValueError, match="'c'"):
        minimize_convex_batch(F, C, c[:, :5], -1.0, 1.0, x0)
    with pytest.raises(ValueError, match="'x0'"):
        minimize_convex_batch(F, C, c, -1.0, 1.0, x0[0])
    with pytest.raises(ValueError, match="'lo'"):
        minimize_convex_batch(F, C, c, np.zeros(3), 1.0, x0)
    with pytest.raises(ValueError, match="'lo' and 'hi'.*lo < hi"):
        minimize_convex_batch(F, C, c, 1.0, np.r_[2.0, 2.0, 2.0, 1.0, 2.0, 2.0], x0)
    with pytest.raises(ValueError, match="'C'.*finite"):
        minimize_convex_batch(F, C * np.nan, c, -1.0, 1.0, x0)
    with pytest.raises(ValueError, match="'x0' is on meta"):  # one device for every input
        minimize_convex_batch(F, C, c, -1.0, 1.0, torch.zeros(2, 6, device="meta"))
    with pytest.raises(ValueError, match="'F' must return"):
        minimize_convex_batch(lambda x: (x.sum(1), x.sum(1), None), C, c, -1.0, 1.0, x0)
    with pytest.raises(ValueError, match="'tol'"):
        minimize_convex_batch(F, C, c, -1.0, 1.0, x0, tol=0.0)
    with pytest.raises(ValueError, match="'patience'"):
        minimize_convex_batch(F, C, c, -1.0, 1.0, x0, patience=0)
    with pytest.raises(ValueError, match="'x0'"):
        minimize_convex(lambda x: (0.0, np.zeros(6), None), A[0], b[0], -1.0, 1.0, x0[0, :3])
    with pytest.raises(ValueError, match="'b'"):
        chebyshev_ball_batch(C, c[:1], (-1.0, 1.0))
    with pytest.raises(ValueError, match="'hint'"):
        chebyshev_ball_batch(C, c, (-1.0, 1.0), hint=x0[:1])
    with pytest.raises(ValueError, match="'value_range'"):
        chebyshev_ball_batch(C, c, (1.0, -1.0))
    empty = A.copy()
    empty[1, 0] = 0.0
    with pytest.raises(ValueError, match=r"'A' has a zero row with a negative offset in polytopes \[1\]"):
        chebyshev_ball_batch(empty, np.where(np.arange(40) == 0, -1.0, b), (-1.0, 1.0))
    with pytest.raises(ValueError, match=r"polytopes \[0\] do not meet the box"):
        chebyshev_ball_batch(C, torch.stack([c[0] - 10.0, c[1]]), (-1.0, 1.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_results():
    A, b, x0, cost = _programs(8, B=16, m=200, d=30)
    F_cpu, F_gpu = _linear(torch.tensor(cost)), _linear(torch.tensor(cost, device="cuda"))
    cpu = minimize_convex_batch(F_cpu, torch.tensor(A), torch.tensor(b), -1.0, 1.0, x0)
    gpu = minimize_convex_batch(F_gpu, torch.tensor(A, device="cuda"), torch.tensor(b, device="cuda"), -1.0, 1.0, x0)
    assert gpu.x.device.type == "cuda" and cpu.converged.all() and gpu.converged.all()
    assert torch.allclose(gpu.value.cpu(), cpu.value, rtol=1e-9, atol=1e-10)
    assert torch.allclose(gpu.x.cpu(), cpu.x, rtol=0, atol=1e-6)
    ball_cpu = chebyshev_ball_batch(torch.tensor(A), torch.tensor(b), (-1.0, 1.0))
    ball_gpu = chebyshev_ball_batch(torch.tensor(A, device="cuda"), torch.tensor(b, device="cuda"), (-1.0, 1.0))
    assert ball_gpu.radius.device.type == "cuda"
    assert torch.allclose(ball_gpu.radius.cpu(), ball_cpu.radius, rtol=1e-8, atol=1e-12)
