"""x^t (eq. 6) and the class-region LP (section 3.4) against cvxpy, scipy's HiGHS and brute-force sampling;
Proposition 1 on the answers; the interior-point method on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog
from torch import nn

from nngeom.linear_regions.class_regions import (
    RegionProgram,
    class_margin,
    class_regions,
    most_likely_point,
    nearest_most_likely_point,
)
from nngeom.linear_regions.regions import activation_pattern, region_constraints
from nngeom.solvers.interior_point import minimize_convex

cp = pytest.importorskip("cvxpy")


def _region(seed: int, m: int = 60, d: int = 8, M: int = 4):
    """A random polytope in [-1, 1]^d around a point x0 (inside, with some coordinates on the box), and
    random logits."""
    g = np.random.default_rng(seed)
    x0 = g.uniform(-0.8, 0.8, size=d)
    x0[: d // 4] = -1.0  # on the box, as background pixels are
    A = g.normal(size=(m, d)) * g.uniform(0.2, 3.0, size=(m, 1))
    b = -A @ x0 + np.abs(g.normal(size=m)) * np.linalg.norm(A, axis=1) * 0.4
    L, l = g.normal(size=(M, d)) * 2, g.normal(size=M)
    return A, b, L, l, x0


def _cvxpy_x_t(A, b, L, l, t):
    x = cp.Variable(A.shape[1])
    z = L @ x + l
    others = [j for j in range(len(l)) if j != t]
    prob = cp.Problem(
        cp.Maximize(z[t] - cp.log_sum_exp(cp.hstack([z[j] for j in others]))), [A @ x + b >= 0, x >= -1, x <= 1]
    )
    prob.solve(solver=cp.CLARABEL)
    return x.value, prob.value


@pytest.mark.parametrize("seed", range(5))
def test_x_t_matches_cvxpy_exponential_cone(seed):
    A, b, L, l, x0 = _region(seed)
    prog = RegionProgram(A, b, L, l, (-1.0, 1.0), x0)
    for t in range(len(l)):
        info = most_likely_point(prog, t)
        x = info.x
        ref_x, ref_val = _cvxpy_x_t(A, b, L, l, t)
        assert info.converged
        assert info.psi == pytest.approx(ref_val, abs=1e-6)
        assert np.abs(x - ref_x).max() < 1e-4
        # the maximiser of psi_t also maximises the softmax probability of t (the paper's eq. 6 objective)
        xv = cp.Variable(A.shape[1])
        cp.Problem(
            cp.Maximize((L @ xv + l)[t] - cp.log_sum_exp(L @ xv + l)), [A @ xv + b >= 0, xv >= -1, xv <= 1]
        ).solve(solver=cp.CLARABEL)
        assert np.abs(x - xv.value).max() < 1e-4
        # Proposition 1: on the boundary, although the gradient is far from 0
        dist, _, _ = prog.face_distance(x)
        assert dist < 1e-6 and info.gradient_norm > 1e-3


@pytest.mark.parametrize("seed", range(5))
def test_class_margin_equals_highs(seed):
    A, b, L, l, x0 = _region(seed + 10)
    prog = RegionProgram(A, b, L, l, (-1.0, 1.0), x0)
    signs = set()
    for t in range(len(l)):
        info = class_margin(prog, t)
        s, x = info.margin, info.x
        others = [j for j in range(len(l)) if j != t]
        G, g = L[t] - L[others], l[t] - l[others]
        d = A.shape[1]
        res = linprog(
            np.r_[np.zeros(d), -1.0],
            A_ub=np.vstack([np.c_[-G, np.ones(len(g))], np.c_[-A, np.zeros(len(b))]]),
            b_ub=np.r_[g, b],
            bounds=[(-1, 1)] * d + [(None, None)],
            method="highs",
        )
        assert info.converged
        assert s == pytest.approx(res.x[-1], abs=1e-7)
        assert np.all(A @ x + b >= -1e-6) and np.abs(x).max() <= 1 + 1e-9
        signs.add(s > 0)
    assert signs == {True, False}  # both answers occur in these cases


def tiny_net() -> nn.Sequential:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 4)).double().eval()
    with torch.no_grad():  # sharper than the default initialisation: three classes share the square
        net[0].weight.mul_(4)
        net[4].weight.mul_(4)
        net[4].bias.zero_()
    return net


def test_class_regions_against_sampling_on_a_2d_net():
    """On a 2-D net, every linear region is sampled densely: the classes that win somewhere in it are the
    exact count, the best sampled softmax probability of each class is at most that of x^t, and x^t is
    classified as t wherever the paper's test says so."""
    net = tiny_net()
    grid = torch.stack(
        torch.meshgrid(
            torch.linspace(-1, 1, 700, dtype=torch.float64),
            torch.linspace(-1, 1, 700, dtype=torch.float64),
            indexing="ij",
        ),
        -1,
    ).reshape(-1, 2)
    with torch.no_grad():
        logits = net(grid)
    # starts: random points, and points next to a decision boundary (their regions are likely to hold one)
    cls = logits.argmax(1).reshape(700, 700)
    edge = (cls[1:, :-1] != cls[:-1, :-1]) | (cls[:-1, 1:] != cls[:-1, :-1])
    on_edge = grid.reshape(700, 700, 2)[:-1, :-1][edge]
    g = torch.Generator().manual_seed(0)
    starts = torch.cat(
        [
            torch.rand(6, 2, generator=g, dtype=torch.float64) * 2 - 1,
            on_edge[torch.randperm(len(on_edge), generator=g)[:6]],
        ]
    )
    reg = region_constraints(net, starts)
    n_exact, n_paper = [], []
    for i in range(len(starts)):
        slack = grid @ reg.W[i].T + reg.b[i]
        pts = (slack >= 0).all(1)
        assert pts.sum() > 0
        res = class_regions(
            reg.W[i].numpy(),
            reg.b[i].numpy(),
            reg.logit_W[i].numpy(),
            reg.logit_b[i].numpy(),
            (-1.0, 1.0),
            starts[i].numpy(),
        )
        winners = set(logits[pts].argmax(1).tolist())
        assert set(np.flatnonzero(res.margin > 0).tolist()) >= winners  # sampling cannot find more than exist
        # a class with a clear margin is seen by the dense grid
        assert winners >= set(np.flatnonzero(res.margin > 0.05).tolist())
        logp = torch.log_softmax(logits[pts], 1)
        for t in range(4):
            # log p_t = -softplus(-psi_t): the largest log-probability in the region, from the optimum of eq. (6)
            best = -float(np.logaddexp(0.0, -res.psi[t]))
            assert float(logp[:, t].max()) <= best + 1e-9
            with torch.no_grad():  # x^t (nearest to x*, on the maximisers' set lowered by 1e-6 logits) gets it
                at_x_t = float(torch.log_softmax(net(torch.from_numpy(res.x_t[t])[None]), 1)[0, t])
            assert at_x_t >= best - 2e-6
        assert res.info["converged"]
        assert res.distortion == pytest.approx(np.linalg.norm(res.x_t - starts[i].numpy(), axis=1).max())
        n_exact.append(res.n_exact)
        n_paper.append(res.n_paper)
    assert max(n_exact) >= 2  # some region holds a decision boundary
    assert all(p <= e for p, e in zip(n_paper, n_exact))


def test_x_t_on_a_784_dimensional_region_matches_cvxpy():
    """Few hyperplanes in 784 dimensions: the maximisers of eq. (6) form a large face, so cvxpy and the
    interior-point method return different points with the same logits; the nearest one to x* is the
    same QP solved either way."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 20), nn.ReLU(), nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 10)).double().eval()
    x0 = torch.rand(1, 784, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    x0[0, :300] = -1.0
    reg = region_constraints(net, x0)
    A, b, L, l = reg.W[0].numpy(), reg.b[0].numpy(), reg.logit_W[0].numpy(), reg.logit_b[0].numpy()
    prog = RegionProgram(A, b, L, l, (-1.0, 1.0), x0[0].numpy())
    for t in (0, 7):
        info = most_likely_point(prog, t)
        x = info.x
        ref_x, ref_val = _cvxpy_x_t(A, b, L, l, t)
        assert info.psi == pytest.approx(ref_val, abs=1e-5)
        others = [j for j in range(10) if j != t]
        D, g = L[t] - L[others], l[t] - l[others]
        assert np.abs((D @ x + g) - (D @ ref_x + g)).max() < 1e-4  # the same logit differences
        n_info = nearest_most_likely_point(prog, t, x, prog.x0)
        near = n_info.x
        v = cp.Variable(784)
        cp.Problem(
            cp.Minimize(cp.sum_squares(v - prog.x0)), [A @ v + b >= 0, v >= -1, v <= 1, D @ v + g >= D @ x + g - 1e-6]
        ).solve(solver=cp.CLARABEL)
        assert n_info.converged
        # the QP is degenerate (a thin slab on a face), so both solvers agree to about 1e-4, not 1e-8
        assert np.abs(near - v.value).max() < 1e-3
        assert n_info.distance == pytest.approx(np.linalg.norm(v.value - prog.x0), rel=1e-6)
        assert n_info.distance <= np.linalg.norm(ref_x - prog.x0) + 1e-6
        assert np.linalg.norm(x - ref_x) > 0.1  # the face is large: the two solvers' points differ


def test_errors_name_the_parameter():
    A_, b_, L, l, x0 = _region(0)
    with pytest.raises(ValueError, match="lo < hi"):
        minimize_convex(lambda x: (0.0, np.zeros(8), None), A_, b_, np.ones(8), np.ones(8), np.zeros(8))
    with pytest.raises(ValueError, match="'t'"):
        most_likely_point(RegionProgram(A_, b_, L, l, (-1.0, 1.0), x0), 4)
    with pytest.raises(ValueError, match="'L'"):
        RegionProgram(A_, b_, L[:, :3], l, (-1.0, 1.0), x0)
    with pytest.raises(ValueError, match="does not lie in the region"):
        RegionProgram(A_, b_ - 100.0, L, l, (-1.0, 1.0), x0)


def test_interior_point_solves_a_qp_like_scipy():
    """A strictly convex quadratic over a polytope: the minimiser is unique; compare with cvxpy."""
    A, b, _, _, x0 = _region(3, m=40, d=6)
    target = np.full(6, 2.0)  # outside the box: the answer lies on the boundary

    def F(x):
        r = x - target
        return float(r @ r), 2 * r, 2 * np.eye(6)

    info = minimize_convex(
        F, A / np.linalg.norm(A, axis=1, keepdims=True), b / np.linalg.norm(A, axis=1), -1.0, 1.0, x0
    )
    x = info.x
    v = cp.Variable(6)
    cp.Problem(cp.Minimize(cp.sum_squares(v - target)), [A @ v + b >= 0, v >= -1, v <= 1]).solve(solver=cp.CLARABEL)
    assert info.converged
    assert np.abs(x - v.value).max() < 1e-6


def test_class_margin_agrees_with_brute_force_sampling():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 4)).double()
    grid = torch.rand(400_000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    pats = activation_pattern(model, grid)
    with torch.no_grad():
        cls = model(grid).argmax(1)
    starts = grid[:6]
    reg = region_constraints(model, starts)
    checked, outcomes = 0, set()
    for i in range(len(starts)):
        inside = (pats == reg.pattern[i]).all(1)
        assert inside.sum() > 100  # the region is big enough for sampling to see it
        for t in range(4):
            prog = RegionProgram(
                reg.W[i].numpy(),
                reg.b[i].numpy(),
                reg.logit_W[i].numpy(),
                reg.logit_b[i].numpy(),
                (-1.0, 1.0),
                starts[i].numpy(),
            )
            lp = class_margin(prog, t)
            s, z = lp.margin, lp.x
            seen = bool((cls[inside] == t).any())
            if abs(s) > 1e-3:  # a margin this clear cannot hide from 400,000 samples in 2-D
                assert (s > 0) == seen, (i, t, s, seen)
                checked += 1
                outcomes.add(seen)
            assert torch.all(reg.slack(torch.tensor(z).view(1, -1).expand(len(reg), -1))[i] >= -1e-8)
    assert checked >= 16 and outcomes == {True, False}  # both answers occur among the cases checked


def test_interior_point_with_binding_upper_bounds_matches_cvxpy_and_highs():
    """Per-coordinate bounds with an upper bound active at the optimum (the QP above meets only rows and
    lower bounds): a QP against cvxpy, an LP (no Hessian) against scipy's HiGHS."""
    A, b, _, _, x0 = _region(7, m=40, d=6)
    n = np.linalg.norm(A, axis=1)
    lo = np.minimum([-1.0, -1.0, -0.9, -1.0, -1.0, -0.9], x0)
    hi = np.maximum([1.0, 0.6, 1.0, 0.9, 1.0, 1.0], x0 + 0.05)  # x0 strictly below every upper bound
    target = x0 + np.array([0.0, 2.0, -2.0, 2.0, 0.0, 2.0])

    def F(x):
        r = x - target
        return float(r @ r), 2 * r, 2 * np.eye(6)

    info = minimize_convex(F, A / n[:, None], b / n, lo, hi, x0)
    x = info.x
    v = cp.Variable(6)
    cp.Problem(cp.Minimize(cp.sum_squares(v - target)), [A @ v + b >= 0, v >= lo, v <= hi]).solve(solver=cp.CLARABEL)
    assert info.converged and np.abs(x - v.value).max() < 1e-6
    assert (np.abs(v.value - hi) < 1e-7).any()  # an upper bound binds
    cost = np.array([-1.0, -2.0, 0.5, -0.3, -1.0, 0.2])
    info = minimize_convex(lambda x: (float(cost @ x), cost, None), A / n[:, None], b / n, lo, hi, x0)
    x = info.x
    res = linprog(cost, A_ub=-A, b_ub=b, bounds=list(zip(lo, hi)), method="highs")
    assert res.status == 0 and (np.abs(res.x - hi) < 1e-9).any()
    assert info.converged and abs(float(cost @ x) - res.fun) < 1e-7 and np.abs(x - res.x).max() < 1e-6
