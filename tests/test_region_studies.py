"""The protocol of Zhang & Wu's section 3.2 on a small batch-norm net."""

import numpy as np
import pytest
import torch
from torch import nn

from nngeom.linear_regions.studies import class_means, inradii, region_sample


def test_region_sample_keeps_eval_mode_and_finds_boundary_regions():
    torch.manual_seed(4)  # a seed whose net predicts all three classes in the box
    net = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    net[1].running_mean.uniform_(-0.2, 0.2)
    net[-1].weight.data *= 4
    net.eval()
    x = torch.rand(4000, 6) * 2 - 1
    y = net(x).argmax(1)
    assert len(set(y.tolist())) == 3
    means = class_means(x, y, 3)
    s = region_sample(net, x[:4], means, (-1.0, 1.0), pgd={"eps": 0.5, "alpha": 0.05, "steps": 20})
    assert len(s.source["decision"]) > 0 and len(s.source["adversarial"]) > 0
    assert not net.training  # the attack's wrapper must not switch batch norm to training mode
    for c in ("decision", "adversarial"):
        src = s.source[c]
        assert len(s.points[c]) == len(src) == len(s.alpha[c])
        if len(src):
            # the inner point is still in the test point's class
            assert torch.equal(net(s.points[c]).argmax(1), net(x[:4][src]).argmax(1))
            assert np.all((s.alpha[c] > 0) & (s.alpha[c] <= 1))
    r = inradii(net, torch.cat([s.points[c] for c in s.points]), (-1.0, 1.0), progress=False).radius
    assert np.all(r > 0) and len(r) == sum(len(p) for p in s.points.values())


def test_inradii_equal_highs_and_fall_back_to_it_where_the_interior_point_method_fails(monkeypatch):
    import nngeom.solvers.interior_point as ipm
    from nngeom.linear_regions.regions import region_constraints
    from nngeom.linear_regions.studies import inradii
    from nngeom.solvers.polytope import chebyshev_ball

    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    x = torch.rand(5, 6) * 2 - 1
    reg = region_constraints(net, x)
    highs = np.array([chebyshev_ball(reg.W[i].numpy(), reg.b[i].numpy(), (-1.0, 1.0)).radius for i in range(5)])
    got = inradii(net, x, (-1.0, 1.0), batch_size=2, progress=False)
    np.testing.assert_allclose(got.radius, highs, rtol=1e-7, atol=1e-10)
    assert not got.exact_fallback.any() and (got.iterations > 0).all()

    # an LP the interior-point method does not converge on is solved by HiGHS, and flagged
    solve = ipm.chebyshev_ball_batch

    def unconverged_second(A, b, value_range, hint=None):
        balls = solve(A, b, value_range, hint=hint)
        if len(balls.radius) > 1:
            balls.radius[1], balls.converged[1] = -1.0, False
        return balls

    monkeypatch.setattr(ipm, "chebyshev_ball_batch", unconverged_second)
    got = inradii(net, x, (-1.0, 1.0), batch_size=2, progress=False)
    assert got.exact_fallback.tolist() == [False, True, False, True, False]
    np.testing.assert_allclose(got.radius, highs, rtol=1e-7, atol=1e-10)
    with pytest.raises(ValueError, match="batch_size"):
        inradii(net, x, (-1.0, 1.0), batch_size=0)


def test_surrounding_regions_walks_null_space_directions():
    from nngeom.linear_regions.regions import activation_pattern
    from nngeom.linear_regions.studies import logit_gradients, null_space_directions, surrounding_regions

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(8, 20), nn.ReLU(), nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 3)).eval()
    x = torch.rand(3, 8) * 2 - 1
    jac = logit_gradients(net, x)
    # the logits' Jacobian by autograd, one class at a time
    for c in range(3):
        xg = x.clone().requires_grad_(True)
        net(xg)[:, c].sum().backward()
        assert torch.allclose(jac[:, c], xg.grad, atol=1e-6)
    e = null_space_directions(jac[0], 50, torch.Generator().manual_seed(0))
    assert torch.allclose(e.norm(dim=1), torch.ones(50, dtype=torch.float64))
    assert (jac[0].double() @ e.T).abs().max() < 1e-12  # orthogonal to every logit gradient
    eps = 0.5
    out = surrounding_regions(
        net, x, n_directions=20, epsilon=eps, generator=torch.Generator().manual_seed(0), progress=False
    )
    assert len(out.counts) == 3 and all(len(p) == 20 for p in out.pieces)
    # brute force: the unique activation patterns on a fine sampling of the same segments
    gen = torch.Generator().manual_seed(0)
    for i in range(3):
        e = null_space_directions(logit_gradients(net.double(), x[i : i + 1].double())[0], 20, gen)
        beta = torch.linspace(0, eps, 4001, dtype=torch.float64)
        pts = (x[i].double()[None, None] + beta[None, :, None] * e[:, None, :]).reshape(-1, 8)
        patterns = torch.unique(activation_pattern(net.double(), pts), dim=0)
        assert out.counts[i] == len(patterns)
        assert len(out.cosines[i]) == out.counts[i] - 1 and np.all(np.abs(out.cosines[i]) <= 1 + 1e-12)
        net.float()


def test_decision_targets_from_a_pool_are_images_of_another_class():
    from nngeom.linear_regions.studies import region_sample

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()
    pool_x = torch.rand(60, 4) * 2 - 1
    pool_y = torch.arange(60) % 3  # labels of the pool (as a training set's), not the net's predictions
    x = pool_x[:5]
    s = region_sample(net, x, means=None, value_range=(-1.0, 1.0), pgd={"steps": 3}, target_pool=(pool_x, pool_y))
    # a target the net assigns to the test point's class is dropped and counted; every kept segment
    # holds a boundary strictly inside it
    assert len(s.points["decision"]) + s.counts["decision_target_same_class"] == 5
    assert np.all((s.alpha["decision"] > 0) & (s.alpha["decision"] < 1))


def test_decision_targets_are_means_of_other_classes():
    """Each decision segment heads for the mean image of a class other than the test point's predicted one,
    and its boundary point is the last point of the predicted class along it (checked by fine sampling)."""
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    net[1].running_mean.uniform_(-0.2, 0.2)
    net[-1].weight.data *= 4
    net.eval()
    x = torch.rand(4000, 6) * 2 - 1
    with torch.no_grad():
        y = net(x).argmax(1)
    means = class_means(x, y, 3)
    for c in range(3):  # the mean image of each class, summed by hand
        members = [x[i] for i in range(len(x)) if int(y[i]) == c]
        assert torch.allclose(means[c], sum(members) / len(members), atol=1e-6)
    pts = x[:16]
    s = region_sample(net, pts, means, (-1.0, 1.0), pgd={"steps": 3}, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        pred = net(pts).argmax(1)
    assert len(s.source["decision"]) >= 3
    assert len(s.source["decision"]) + s.counts["decision_target_same_class"] == len(pts)
    steps = torch.linspace(0, 1, 20_001, dtype=torch.float64)
    for k, i in enumerate(s.source["decision"]):
        x0, inner = pts[i].double(), s.points["decision"][k].double()
        # the class whose mean the segment heads for: the inner point lies on the segment x0 -> mean
        on_segment = []
        for c in range(3):
            d = means[c].double() - x0
            t = float((inner - x0) @ d / (d @ d))
            if float((inner - x0 - t * d).norm()) < 1e-5 * float(d.norm()) and 0 <= t <= 1:
                on_segment.append((c, t))
        assert len(on_segment) == 1, on_segment
        ((c, t),) = on_segment
        assert c != int(pred[i])
        with torch.no_grad():
            along = net.double()(x0 + steps[:, None] * (means[c].double() - x0)).argmax(1)
        net.float()
        with torch.no_grad():
            assert int(net(means[c : c + 1]).argmax()) != int(pred[i])  # a kept target lies in another class
        last = float(steps[(along == pred[i]).nonzero().max()])
        assert abs(s.alpha["decision"][k] - last) <= 1 / 20_000 + 1e-9 and t <= s.alpha["decision"][k]


def _hand_net() -> nn.Sequential:
    """Units u1 = relu(x1), u2 = relu(x2), u3 = relu(x3 - 0.1); logits z0 = u1 + u3, z1 = u2 + 2 u3."""
    net = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(3))
        net[0].bias.copy_(torch.tensor([0.0, 0.0, -0.1]))
        net[2].weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 2.0]]))
        net[2].bias.zero_()
    return net.eval()


def test_decision_cosines_by_hand():
    from nngeom.linear_regions.studies import decision_cosines

    g0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    g = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    np.testing.assert_allclose(decision_cosines(g0, g).numpy(), [1.0, 0.0, -1.0, 1 / np.sqrt(2), 0.0], atol=1e-15)
    import pytest

    with pytest.raises(ValueError, match="g0"):
        decision_cosines(g, g0)


def test_decision_direction_and_surrounding_cosine_by_hand():
    """At x* = (2, 1, 0) the logit gradients are e1 and e2, so the null space is the x3 axis. Going up
    x3, u3 switches on at 0.1: in that region the gradients are (1, 0, 1) and (0, 1, 2), class 0 still
    leads, and the decision direction turns from (1, -1, 0) to (1, -1, -1): rho = 2 / sqrt(6). Going
    down, no unit changes."""
    from nngeom.linear_regions.studies import _decision_direction, surrounding_regions

    net = _hand_net()
    x0 = torch.tensor([[2.0, 1.0, 0.0]])
    np.testing.assert_allclose(_decision_direction(_hand_net().double(), x0.double()).numpy(), [[1.0, -1.0, 0.0]])
    np.testing.assert_allclose(
        _decision_direction(net, torch.tensor([[2.0, 1.0, 0.15]])).numpy(), [[1.0, -1.0, -1.0]], atol=1e-6
    )
    # where class 1 leads (x2 large), the direction is grad z1 - grad z0
    np.testing.assert_allclose(
        _decision_direction(net, torch.tensor([[0.5, 3.0, 0.0]])).numpy(), [[-1.0, 1.0, 0.0]], atol=1e-6
    )
    found = surrounding_regions(
        _hand_net(), x0, n_directions=20, epsilon=0.2, generator=torch.Generator().manual_seed(0), progress=False
    )
    assert found.counts.tolist() == [2]
    np.testing.assert_allclose(found.cosines[0], [2 / np.sqrt(6)], rtol=1e-12)
    # segments too short to reach x3 = 0.1 meet no other region
    short = surrounding_regions(
        _hand_net(), x0, n_directions=20, epsilon=0.05, generator=torch.Generator().manual_seed(0), progress=False
    )
    assert short.counts.tolist() == [1] and len(short.cosines[0]) == 0


def test_point_medians_abs_deviations_and_bootstrap():
    from nngeom.linear_regions.studies import abs_deviations, bootstrap_interval, point_medians

    np.testing.assert_allclose(
        point_medians([np.array([0.9, 0.7, 1.0]), np.array([]), np.array([0.5, 0.6])]), [0.9, 0.55]
    )
    np.testing.assert_allclose(abs_deviations([1.0, 2.0, 4.0]), [1.0, 0.0, 2.0])
    est, low, high = bootstrap_interval(
        lambda a, b: np.mean(a) - np.mean(b), [np.full(5, 3.0), np.full(7, 1.0)], n_boot=50
    )
    assert (est, low, high) == (2.0, 2.0, 2.0)  # constant samples: every resample gives the same difference
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 400), rng.normal(0.0, 1.0, 400)
    est, low, high = bootstrap_interval(
        lambda a_, b_: np.mean(a_) - np.mean(b_), [a, b], n_boot=500, generator=np.random.default_rng(1)
    )
    assert low < est < high and low > 0.7 and high < 1.3
    assert all(np.isnan(bootstrap_interval(np.median, [np.zeros(0)])))
    import pytest

    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_interval(np.median, [a], n_boot=0)


def test_wall_census_accounts_for_every_wall_and_agrees_with_the_exact_count():
    from nngeom.linear_regions.studies import wall_census
    from nngeom.solvers.polytope import redundant_rows

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 2)).eval()
    x = torch.rand(3, 3) * 2 - 1
    census = wall_census(net, x, (-1.0, 1.0), sample_rows=4, generator=np.random.default_rng(0))
    from nngeom.linear_regions.regions import region_constraints

    reg = region_constraints(net, x)
    for i, c in enumerate(census):
        assert c.walls == 24 and c.open >= 0 and c.sampled == min(4, c.open)
        # the sampled LP verdicts are the exact ones for those rows
        exact = redundant_rows(
            reg.W[i].numpy(), reg.b[i].numpy(), (-1.0, 1.0), interior=x[i].double().numpy()
        ).redundant
        assert c.sampled_redundant <= int(exact.sum())
    assert wall_census(net, x, (-1.0, 1.0), 0, np.random.default_rng(0))[0].sampled == 0
