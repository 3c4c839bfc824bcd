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


@pytest.mark.parametrize("method", ["daqp", "newton"])
@pytest.mark.parametrize("nonnegative", [True, False])
def test_projections_match_cvxpy_and_meet_their_certificate(nonnegative, method):
    rng = np.random.default_rng(1)
    G, m, f, N = 5, 4, 6, 120
    A = torch.tensor(rng.standard_normal((G, m, f)))
    c = torch.tensor(rng.standard_normal((G, m)))
    x = torch.tensor(rng.standard_normal((N, f)))
    group = torch.tensor(rng.integers(0, G, N))
    p = project_onto_polyhedra(x, A, c, group, nonnegative=nonnegative, method=method)
    assert p.by_one_row < N  # the second stage is exercised (the flip-point test checks the first)
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
    with pytest.raises(ValueError, match="'method'"):
        project_onto_polyhedra(x, A, c, group, method="simplex")


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


@pytest.mark.parametrize("method", ["daqp", "newton"])
def test_flip_points_match_cvxpy_on_a_random_layer(method):
    torch.manual_seed(0)
    layer = nn.Linear(12, 5)
    x = torch.rand(30, 12) * 2
    fp = flip_points(layer.weight, layer.bias, x, method=method)
    assert 0 < fp.by_one_row < len(x) * 4  # both stages answer some of these QPs
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


def test_hull_projection_matches_cvxpy_and_certifies_every_query():
    from nngeom.solvers.hull import hull_projection

    rng = np.random.default_rng(0)
    P = torch.tensor(rng.standard_normal((150, 4)))
    X = torch.tensor(rng.standard_normal((15, 4)) * 2)
    X[:3] = 0.3 * P[:3] + 0.7 * P[3:6]  # inside the hull: distance 0
    h = hull_projection(P, X, start=5, grow=3)  # a small first working set: the rounds must grow it
    assert h.certified.all() and h.rounds > 1 and torch.all(h.gap <= 1e-7)
    for q in range(len(X)):
        a = cp.Variable(len(P))
        prob = cp.Problem(cp.Minimize(cp.sum_squares(P.numpy().T @ a - X[q].numpy())), [a >= 0, cp.sum(a) == 1])
        prob.solve(solver=cp.CLARABEL)
        assert float(h.distance[q]) == pytest.approx(math.sqrt(max(prob.value, 0.0)), abs=1e-6)
        idx, w = h.support_index[q], h.support_weight[q]
        assert abs(w.sum() - 1) < 1e-12 and np.all(w > 0) and np.all(np.diff(w) <= 0)
        assert torch.allclose(torch.from_numpy(w) @ P[idx], h.projection[q], atol=1e-12)
    assert torch.all(h.distance[:3] < 1e-9)
    # Wolfe's condition, checked here independently: no point lies on the query's side of the plane
    out = h.distance > 1e-6  # queries outside the hull (a few random ones fall inside)
    assert 5 <= int(out.sum()) < len(X) - 3
    diff = h.projection[out] - X[out]
    reach = (P @ diff.T - (h.projection[out] * diff).sum(1)) / diff.norm(dim=1)
    assert float(reach.min()) > -1e-7
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert torch.allclose(hull_projection(square, torch.tensor([[2.0, 0.5]])).projection,
                          torch.tensor([[1.0, 0.5]], dtype=torch.float64), atol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match="'start'"):
        hull_projection(P, X, start=0)


def test_two_point_projection_keeps_both_distances_exactly():
    from nngeom.feature_space.geometry import ambiguity, two_point_projection

    g = torch.Generator().manual_seed(0)
    a, b, pts = torch.randn(64, generator=g), torch.randn(64, generator=g), torch.randn(30, 64, generator=g)
    uv = two_point_projection(pts, a, b).double()
    A2, B2 = torch.zeros(2, dtype=torch.float64), torch.tensor([float((b - a).norm()), 0.0], dtype=torch.float64)
    assert torch.allclose((uv - A2).norm(dim=1), (pts - a).norm(dim=1).double(), atol=1e-5)
    assert torch.allclose((uv - B2).norm(dim=1), (pts - b).norm(dim=1).double(), atol=1e-5)
    assert torch.allclose(two_point_projection(torch.stack([a, b]), a, b), torch.stack([A2, B2]), atol=1e-5)
    assert torch.all(uv[:, 1] >= 0)
    assert torch.equal(
        ambiguity(torch.tensor([2.0, 0.5]), torch.tensor([0.5, 2.0])), torch.tensor([1.5, -1.5]).double()
    )
    with pytest.raises(ValueError, match="different"):
        two_point_projection(pts, a, a)


def test_images_for_features_reach_the_target_and_stay_near_the_reference():
    from nngeom.feature_space.inverse import images_for_features

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.ReLU(), nn.Linear(6, 3)).eval()
    g = torch.Generator().manual_seed(0)
    refs, others = torch.rand(5, 1, 4, 4, generator=g), torch.rand(5, 1, 4, 4, generator=g)
    with torch.no_grad():
        targets = net[:-1](others)
    out = images_for_features(net, targets, refs, steps=300, lr=0.02)
    scale = targets.norm(dim=1)
    assert torch.all(out.residual <= 1e-2 * scale)  # N_phi(x) = t, to 1 % of |t|
    assert torch.all(out.images >= 0) and torch.all(out.images <= 1)
    # `others` themselves satisfy the constraint: the solution is no farther from the reference
    assert torch.all(out.distance <= (others - refs).flatten(1).norm(dim=1) + 1e-2)
    # the ball's perimeter and its inside, around each reference's own features
    with torch.no_grad():
        own = net[:-1](refs)
    far = images_for_features(net, own, others, mode="perimeter", radius=0.5, steps=300, lr=0.02)
    assert torch.all((far.feature_distance - 0.5).abs() <= 1e-2)
    inside = images_for_features(net, own, refs, mode="inside", radius=0.5, steps=50)
    # x_r is already inside: the answer is x_r itself, up to the last stage's Adam step (lr / 10 = 1e-3)
    assert torch.all(inside.distance < 1e-3) and torch.all(inside.residual == 0)
    assert inside.kept_class.all()
    with pytest.raises(ValueError, match="'radius'"):
        images_for_features(net, own, refs, mode="perimeter")
    with pytest.raises(ValueError, match="'penalties'"):
        images_for_features(net, own, refs, penalties=(10.0, 1.0), smoothing=(1.0, None))
    with pytest.raises(ValueError, match="'smoothing'"):
        images_for_features(net, own, refs, penalties=(1.0, 10.0), smoothing=(1.0, 2.0))
    # without the smoothed stages some targets stay out of reach: a unit off at the reference passes no
    # gradient (the reason the stages exist)
    exact = images_for_features(net, targets, refs, penalties=(1.0, 100.0, 1e4), smoothing=(None, None, None),
                                steps=300, lr=0.02)  # fmt: skip
    assert bool((exact.residual > 1e-2 * scale).any())
    # the augmented-Lagrangian rounds after a short continuation: never a larger residual than without
    # them (an image keeps the rounds' answer only where it lowered the residual), and here a lower one for
    # the images the penalty left far from their targets (22 % and 4 % of |t| -> under 10 % and 1 %)
    short = images_for_features(net, targets, refs, steps=20, multiplier_rounds=0)
    rounds = images_for_features(net, targets, refs, steps=20)
    assert torch.all(rounds.residual <= short.residual)
    assert bool((rounds.residual < 0.5 * short.residual).sum() >= 2)
    with pytest.raises(ValueError, match="'multiplier_rounds'"):
        images_for_features(net, targets, refs, multiplier_rounds=-1)
    with pytest.raises(ValueError, match="'multiplier_weight'"):
        images_for_features(net, targets, refs, multiplier_weight=0.0)


def test_boundary_and_hull_and_support_labels_on_a_hand_case():
    from nngeom.feature_space.studies import boundary_and_hull, support_label_agreement

    # two classes split by y_0 = y_1; the training set is the unit square's corners
    W = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    b = torch.zeros(2)
    train = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])  # corner (0,0) sits on the boundary; its label is a choice
    queries = torch.tensor([[2.0, 0.0], [0.5, 0.5 - 1e-3]], dtype=torch.float64)
    s = boundary_and_hull(W, b, train, queries)
    # (2, 0): boundary at distance sqrt(2), hull at distance 1 (its nearest point is (1, 0))
    assert float(s.boundary_distance[0]) == pytest.approx(math.sqrt(2)) and float(s.hull_distance[0]) == pytest.approx(
        1.0
    )
    # a query inside the hull, next to the boundary: hull distance 0, the boundary 1e-3 / sqrt(2) away
    assert float(s.hull_distance[1]) < 1e-9 and float(s.boundary_distance[1]) == pytest.approx(1e-3 / math.sqrt(2))
    assert s.hull_closer().tolist() == [True, True]
    assert torch.allclose(s.ambiguity, s.boundary_distance - s.hull_distance)
    by_count, by_weight = support_label_agreement(s.hull, labels, torch.tensor([0, 0]))
    assert s.hull.support_index[0].tolist() == [1] and 0 < by_count <= 1 and 0 < by_weight <= 1
    with pytest.raises(ValueError, match="query_labels"):
        support_label_agreement(s.hull, labels, torch.tensor([0]))


def test_path_bend_own_label_share_and_the_morph_end():
    from nngeom.feature_space.geometry import path_bend
    from nngeom.feature_space.studies import end_image_in_ball, own_label_share
    from nngeom.solvers.hull import hull_projection

    # a straight path bends 1; out along one side of a right angle and back along the other: sqrt(2)
    assert path_bend(torch.tensor([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]])) == pytest.approx(1.0)
    assert path_bend(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])) == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match="coincide"):
        path_bend(torch.tensor([[1.0, 1.0], [2.0, 0.0], [1.0, 1.0]]))
    # projection of (2, 0.5) onto the unit square's hull is supported by the right edge's two corners
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    h = hull_projection(square, torch.tensor([[2.0, 0.5], [2.0, 0.0]]))
    share = own_label_share(h, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1]))
    assert share.tolist() == [0.5, 0.0]  # supports {(1,0): 0, (1,1): 1} and {(1,0): 0}
    # the morph's end: inside the ball nearest its perimeter, among the given class; else the nearest one
    feats = torch.tensor([[0.1, 0.0], [0.9, 0.0], [0.95, 0.0], [3.0, 0.0]])
    pred = torch.tensor([0, 0, 1, 0])
    assert end_image_in_ball(feats, pred, torch.zeros(2), 0, 1.0) == 1  # (0.95) is another class
    assert end_image_in_ball(feats, pred, torch.zeros(2), 1, 0.5) == 2  # none of class 1 inside: the nearest
    with pytest.raises(ValueError, match="class 7"):
        end_image_in_ball(feats, pred, torch.zeros(2), 7, 1.0)


def test_adversarial_distances_place_deepfool_at_a_boundary():
    from nngeom.core.attacks import DeepFool
    from nngeom.feature_space.studies import adversarial_distances

    torch.manual_seed(4)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(12, 1, 4, 4, generator=g)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(4)  # logits that change within the pixel box, so DeepFool can cross (11 of 12 here)
        y = net(x).argmax(1)
        train = net[:-1](torch.rand(200, 1, 4, 4, generator=g))
    adv = adversarial_distances(net, DeepFool(net, steps=50, overshoot=0.02), x, y, train)
    assert int(adv.success.sum()) >= 8 and adv.images.shape == x.shape and not adv.images.isnan().any()
    d = adv.distances.boundary_distance
    assert len(d) == int(adv.success.sum())
    # DeepFool stops just past the boundary: in feature space it sits next to one, far nearer than x does
    with torch.no_grad():
        natural = flip_points(net[-1].weight, net[-1].bias, net[:-1](x[adv.success])).min_distance
    assert torch.all(d < natural)


def test_feature_space_page_runs_on_cifar10_when_it_is_present(monkeypatch, tmp_path, tmp_model_cache):
    from test_data import _fake_cifar

    from nngeom.book.pages.feature_space import open_feature_space_page

    monkeypatch.setenv("NNGEOM_DATA", str(tmp_path / "root"))
    _fake_cifar(monkeypatch, tmp_path / "root")
    fs = open_feature_space_page("notebooks/feature_space/01_boundaries", "smoke", "", seed=0, device="cpu")
    assert fs.dataset == "cifar10" and not fs.stand_in and fs.data == "CIFAR-10"
    assert fs.x_train.shape == (20, 3, 32, 32) and fs.f_train.shape == (20, 64) and fs.f_test.shape == (4, 64)
    assert fs.model.nngeom_meta["name"] == "cifar10-resnet20" and fs.label("x") == "x"
    assert fs.item("FSH-F2")["status"] == "reproduced"  # on the paper's data set, nothing smaller counted
    assert torch.equal(fs.classify(fs.f_test), fs.predict(fs.x_test))
    # features and the test set's hull are kept beside the model and read back by the next page
    from nngeom.solvers.hull import hull_projection

    hull = fs.test_hull()
    assert torch.equal(hull.distance, hull_projection(fs.f_train, fs.f_test).distance)
    kept = sorted(p.name for p in fs.cache.iterdir())
    assert kept == ["cifar10-hull-20-4.pt", "cifar10-test-4.pt", "cifar10-train-20.pt"]
    again = open_feature_space_page("notebooks/feature_space/02_hulls", "smoke", "", seed=0, device="cpu")
    assert torch.equal(again.f_train, fs.f_train) and torch.equal(again.test_hull().distance, hull.distance)
    # the stand-in is chosen when asked for (or when CIFAR-10 is absent), and says so
    with pytest.raises(ValueError, match="'dataset'"):
        open_feature_space_page("k", "smoke", "", seed=0, device="cpu", dataset="cifar100")
