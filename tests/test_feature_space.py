"""Feature-space flip points and the batched projection QP behind them, against cvxpy and hand cases."""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
import torch
from torch import nn

from nngeom.feature_space.flips import (
    features,
    flip_points,
    in_any_ball,
    lipschitz_constant,
    samples_in_balls,
    split_last_linear,
)
from nngeom.solvers.qp import project_onto_polyhedra


def _cvxpy_projection(x, A, c, n_eq, nonnegative):
    y = cp.Variable(len(x))
    cons = [A[:n_eq] @ y + c[:n_eq] == 0, A[n_eq:] @ y + c[n_eq:] >= 0] + ([y >= 0] if nonnegative else [])
    prob = cp.Problem(cp.Minimize(cp.sum_squares(y - x)), cons)
    prob.solve(solver=cp.CLARABEL)
    return (math.sqrt(max(prob.value, 0.0)), y.value) if prob.status == "optimal" else (math.inf, None)


@pytest.mark.parametrize("nonnegative", [True, False])
def test_projections_match_cvxpy_and_meet_their_certificate(nonnegative):
    rng = np.random.default_rng(1)
    G, m, f, N = 5, 4, 6, 120
    A = torch.tensor(rng.standard_normal((G, m, f)))
    c = torch.tensor(rng.standard_normal((G, m)))
    x = torch.tensor(rng.standard_normal((N, f)))
    group = torch.tensor(rng.integers(0, G, N))
    p = project_onto_polyhedra(x, A, c, group, nonnegative=nonnegative)
    empty = 0
    for n in range(N):
        g = int(group[n])
        d, _ = _cvxpy_projection(x[n].numpy(), A[g].numpy(), c[g].numpy(), 1, nonnegative)
        if math.isinf(d):
            empty += 1
            assert not p.feasible[n] and math.isinf(float(p.distance[n]))
            continue
        assert p.feasible[n] and float(p.distance[n]) == pytest.approx(d, abs=1e-6)
        # the returned point is feasible and satisfies stationarity y - x = A^T lam (+ bound multipliers)
        y, lam = p.points[n], p.multipliers[n]
        r = A[g] @ y + c[g]
        assert abs(float(r[0])) < 1e-8 and float(r[1:].min()) > -1e-8 and float(lam[1:].min()) >= -1e-9
        grad = y - x[n] - A[g].T @ lam
        if nonnegative:
            assert float(y.min()) >= 0 and torch.all(grad[y > 1e-9].abs() < 1e-7) and torch.all(grad >= -1e-7)
        else:
            assert float(grad.abs().max()) < 1e-7
    if nonnegative:
        assert empty > 0  # the instance has empty polyhedra: their verdict is tested too
    with pytest.raises(ValueError, match="'group'"):
        project_onto_polyhedra(x, A, c, group + G)


def test_flip_points_hand_case_and_unreachable_boundary():
    # class 0: z = 0; class 1: z = y_1 - y_0; class 2: z = -1 - y_0 - y_1 never reaches 0 on y >= 0
    W = torch.tensor([[0.0, 0.0], [-1.0, 1.0], [-1.0, -1.0]])
    b = torch.tensor([0.0, 0.0, -1.0])
    fp = flip_points(W, b, torch.tensor([[2.0, 0.0]]))
    assert int(fp.predicted[0]) == 0
    assert float(fp.distance[0, 1]) == pytest.approx(math.sqrt(2), abs=1e-9)  # to (1, 1)
    assert torch.allclose(fp.points[0, 1], torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-9)
    assert math.isinf(float(fp.distance[0, 0])) and math.isinf(float(fp.distance[0, 2]))
    assert int(fp.nearest_class[0]) == 1 and float(fp.min_distance[0]) == pytest.approx(math.sqrt(2))
    # without the bounds, class 2's boundary is reachable (y_0 + y_1 = -1)
    free = flip_points(W, b, torch.tensor([[2.0, 0.0]]), nonnegative=False)
    assert math.isfinite(float(free.distance[0, 2]))


def test_flip_points_match_cvxpy_on_a_random_layer():
    torch.manual_seed(0)
    layer = nn.Linear(12, 5)
    x = torch.rand(30, 12) * 2
    fp = flip_points(layer.weight, layer.bias, x)
    W, b = layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()
    for n in range(len(x)):
        i = int(fp.predicted[n])
        assert i == int((x[n].double().numpy() @ W.T + b).argmax())
        for j in range(5):
            if j == i:
                continue
            rows = [j] + [k for k in range(5) if k not in (i, j)]
            d, _ = _cvxpy_projection(x[n].double().numpy(), W[i] - W[rows], b[i] - b[rows], 1, True)
            assert float(fp.distance[n, j]) == pytest.approx(d, abs=1e-6)
    # every flip point lies on its boundary and keeps i among the largest logits
    ok = torch.isfinite(fp.distance)
    z = torch.einsum("bcf,kf->bck", fp.points, layer.weight.double()) + layer.bias.double()
    i = fp.predicted[:, None].expand(-1, 5)
    j = torch.arange(5).expand(len(x), -1)
    zi, zj = z.gather(2, i[..., None])[..., 0], z.gather(2, j[..., None])[..., 0]
    assert torch.all((zi - zj)[ok].abs() < 1e-8) and torch.all((zi - z.amax(2))[ok] > -1e-8)


def test_lipschitz_constant_and_ball_counts():
    w = torch.tensor([[3.0, 0.0], [0.0, 4.0], [0.0, 0.0]])
    assert lipschitz_constant(w) == pytest.approx(4.0)
    # the logits move by at most sigma_max times the feature step
    g = torch.Generator().manual_seed(0)
    a, d = torch.randn(100, 2, generator=g), torch.randn(100, 2, generator=g)
    assert torch.all((a @ w.T - (a + d) @ w.T).norm(dim=1) <= 4.0 * d.norm(dim=1) + 1e-6)
    centres = torch.randn(50, 3, generator=g)
    radii = torch.rand(50, generator=g)
    points = torch.randn(400, 3, generator=g)
    brute = torch.tensor([int(((points - c).norm(dim=1) < r).sum()) for c, r in zip(centres, radii)])
    assert torch.equal(samples_in_balls(centres, radii, points, block=7), brute)
    inside = torch.tensor([bool(((c - centres).norm(dim=1) < radii).any()) for c in points])
    assert torch.equal(in_any_ball(centres, radii, points, block=11), inside)
    with pytest.raises(ValueError, match="'radii'"):
        samples_in_balls(centres, radii[:3], points)


def test_features_are_the_input_of_the_last_linear_layer():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)).train()
    x = torch.rand(9, 2, 3)
    phi = features(net, x, batch_size=4)
    body, last = split_last_linear(net)
    assert last is net[3] and net.training  # the mode is restored
    assert torch.allclose(phi @ last.weight.T + last.bias, net.eval()(x), atol=1e-6)
    assert torch.all(phi >= 0) and phi.shape == (9, 4)
    with pytest.raises(ValueError, match="nn.Sequential ending in nn.Linear"):
        split_last_linear(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
