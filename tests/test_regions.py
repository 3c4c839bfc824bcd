"""Linear regions: constraints from composed affine maps against the paper's per-unit gradients, the
region's defining property (same activation pattern inside, a flip across a facet), and the inradius LP
against cvxpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nngeom.linear_regions.regions import activation_pattern, inradius, region_constraints


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            m.weight.data.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
            m.bias.data.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


def fc_net(bn: bool = False, dropout: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Flatten()]
    width = 12
    for h in (9, 8, 7):
        layers.append(nn.Linear(width, h))
        if bn:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(0.2))
        width = h
    layers.append(nn.Linear(width, 4))
    return _randomise_batchnorm(nn.Sequential(*layers))


def cnn_net() -> nn.Sequential:
    torch.manual_seed(0)
    return _randomise_batchnorm(
        nn.Sequential(
            nn.Conv2d(2, 3, 3, stride=2),
            nn.BatchNorm2d(3),
            nn.ReLU(),
            nn.Conv2d(3, 4, 3, stride=2),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Flatten(),
            nn.Linear(4, 5),
            nn.ReLU(),
            nn.Linear(5, 3),
        )
    )


NETS = {
    "fc": (fc_net, (12,)),
    "fc-bn": (lambda: fc_net(bn=True), (12,)),
    "fc-dropout": (lambda: fc_net(dropout=True), (12,)),
    "cnn": (cnn_net, (2, 7, 7)),
}


def per_unit_gradients(model: nn.Module, x: torch.Tensor):
    """The paper's eq. (2)-(3): one autograd call per hidden unit, for one input."""
    pre: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, inp, _o: pre.append(inp[0].flatten(1)))
        for m in model.modules()
        if isinstance(m, nn.ReLU)
    ]
    xd = x.double().clone().requires_grad_(True)
    model.double()(xd)
    for h in hooks:
        h.remove()
    h_all = torch.cat(pre, 1)[0]
    rows, offs = [], []
    for i in range(len(h_all)):
        (g,) = torch.autograd.grad(h_all[i], xd, retain_graph=True)
        g = g.flatten()
        s = 1.0 if h_all[i] > 0 else -1.0
        rows.append(s * g)
        offs.append(s * (h_all[i].detach() - g @ xd.detach().flatten()))
    model.float()
    return torch.stack(rows), torch.stack(offs)


@pytest.mark.parametrize("name", sorted(NETS))
def test_constraints_match_per_unit_gradients_and_logits(name):
    build, shape = NETS[name]
    model = build()
    x = torch.rand(3, *shape) * 2 - 1
    reg = region_constraints(model, x)
    assert reg.W.shape[:2] == reg.b.shape and reg.W.shape[2] == int(np.prod(shape))
    for i in range(len(x)):
        w_ref, b_ref = per_unit_gradients(model, x[i : i + 1])
        assert torch.allclose(reg.W[i], w_ref, atol=1e-10) and torch.allclose(reg.b[i], b_ref, atol=1e-10)
    flat = x.flatten(1).double()
    assert torch.all(reg.slack(flat) >= 0)  # each input lies in its own region
    logits = torch.einsum("nmd,nd->nm", reg.logit_W, flat) + reg.logit_b
    assert torch.allclose(logits, model.double()(x.double()), atol=1e-10)
    model.float()
    assert torch.equal(reg.pattern, activation_pattern(model, x))


@pytest.mark.parametrize("name", sorted(NETS))
def test_inside_the_polytope_same_pattern_across_a_facet_a_flip(name):
    build, shape = NETS[name]
    model = build()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, *shape, generator=g) * 2 - 1
    reg = region_constraints(model, x)
    w, b = reg.W[0], reg.b[0]
    z = x.flatten(1).double()[0]
    # points inside: shrink random moves until every constraint is still met with margin
    for _ in range(20):
        step = torch.randn(len(z), generator=g, dtype=torch.float64)
        t = 1.0
        while torch.any(w @ (z + t * step) + b <= 1e-9):
            t /= 2
        inside = (z + t * step).float().view(1, *shape)
        assert torch.equal(activation_pattern(model, inside), reg.pattern)
    # just across the nearest facet: that unit flips (and nothing else need stay the same)
    norms = w.norm(dim=1)
    live = norms > 1e-12
    dist = torch.where(live, (w @ z + b) / norms, torch.full_like(norms, float("inf")))
    k = int(dist.argmin())
    outside = z - (dist[k] + 1e-6) * w[k] / norms[k]
    flipped = activation_pattern(model, outside.float().view(1, *shape))[0]
    assert flipped[k] != reg.pattern[0, k]


def test_inradius_matches_cvxpy_and_box():
    cp = pytest.importorskip("cvxpy")
    g = np.random.default_rng(0)
    for _trial in range(5):
        d, h = 4, 9
        w = g.normal(size=(h, d))
        centre = g.uniform(-0.5, 0.5, size=d)
        b = -w @ centre + g.uniform(0.05, 0.6, size=h)  # the centre is strictly inside
        ball = inradius(torch.tensor(w), torch.tensor(b), (-1.0, 1.0))
        c_ours, r_ours = ball.centre, ball.radius
        c, r = cp.Variable(d), cp.Variable()
        cons = [w @ c - r * np.linalg.norm(w, axis=1) + b >= 0, c + r <= 1, c - r >= -1, r >= 0]
        cp.Problem(cp.Maximize(r), cons).solve()
        assert abs(r_ours - r.value) < 1e-6
        assert np.all(w @ c_ours + b >= r_ours * np.linalg.norm(w, axis=1) - 1e-8)
        assert np.all(c_ours + r_ours <= 1 + 1e-8) and np.all(c_ours - r_ours >= -1 - 1e-8)
    # the box alone: the ball of radius 1 at the origin of [-1, 1]^3
    r_box = inradius(torch.zeros(2, 3), torch.ones(2), (-1.0, 1.0)).radius
    assert abs(r_box - 1.0) < 1e-9


def test_unsupported_layers_and_bad_input_are_named():
    with pytest.raises(ValueError, match="MaxPool2d"):
        region_constraints(nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 2)), torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="no ReLU"):
        region_constraints(nn.Sequential(nn.Linear(3, 2)), torch.rand(2, 3))


@pytest.mark.parametrize("bn", [False, True])
def test_walk_lines_matches_fine_sampling_on_a_2d_toy(bn):
    from nngeom.linear_regions.regions import walk_lines

    torch.manual_seed(3)
    layers: list[nn.Module] = []
    width = 2
    for h in (10, 10, 10):
        layers += [nn.Linear(width, h)] + ([nn.BatchNorm1d(h)] if bn else []) + [nn.ReLU()]
        width = h
    model = _randomise_batchnorm(nn.Sequential(*layers, nn.Linear(width, 2)))
    x = torch.tensor([[0.1, -0.2], [0.5, 0.3]])
    e = torch.tensor([[1.0, 0.4], [-0.3, 1.0]])
    e = e / e.norm(dim=1, keepdim=True)
    length = 3.0
    walks = walk_lines(model, x, e, length)
    model.double()  # the grid is checked in float64, the precision the walk works in
    for i, starts in enumerate(walks):
        assert starts[0] == 0 and torch.all(starts[1:] > starts[:-1]) and starts[-1] <= length
        ends = torch.cat([starts[1:], torch.tensor([length], dtype=torch.float64)])
        mids = (starts + ends) / 2
        mid_patterns = activation_pattern(model, x[i].double() + mids.view(-1, 1) * e[i].double())
        # consecutive regions differ (a boundary was crossed) ...
        assert all(not torch.equal(mid_patterns[j], mid_patterns[j + 1]) for j in range(len(mids) - 1))
        # ... and every point of a fine grid has the pattern of the region the walk puts it in
        beta = torch.linspace(0, length, 200_001, dtype=torch.float64)
        region = torch.searchsorted(starts, beta, right=True) - 1
        near = (beta.view(-1, 1) - starts.view(1, -1)).abs().min(1).values < 1e-9
        grid_patterns = activation_pattern(model, x[i].double() + beta.view(-1, 1) * e[i].double())
        same = (grid_patterns == mid_patterns[region]).all(1)
        assert torch.all(same | near)
        assert len(starts) > 3  # the segment does cross several regions


def test_walk_lines_rejects_bad_arguments():
    from nngeom.linear_regions.regions import walk_lines

    model = fc_net()
    with pytest.raises(ValueError, match="length"):
        walk_lines(model, torch.rand(1, 12), torch.rand(1, 12), 0)
    with pytest.raises(ValueError, match="same shape|one shape"):
        walk_lines(model, torch.rand(1, 12), torch.rand(2, 12), 1.0)


def test_walk_lines_finds_a_region_thinner_than_any_grid():
    from nngeom.linear_regions.regions import walk_lines

    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
        model[0].bias.copy_(torch.tensor([0.0, -1e-6]))  # two parallel boundaries 1e-6 apart
    (starts,) = walk_lines(model, torch.tensor([[-1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), 2.0)
    assert len(starts) == 3
    assert abs(float(starts[1]) - 1.0) < 1e-12 and abs(float(starts[2] - starts[1]) - 1e-6) < 1e-12


def test_last_point_of_class_matches_a_fine_sampling():
    from nngeom.linear_regions.regions import last_point_of_class

    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 4)).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 2, generator=g)
    targets = x + 10 * torch.randn(32, 2, generator=g)
    labels = model(x).argmax(1)
    alpha, inner = last_point_of_class(model, x, targets, labels)
    steps = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    returns = 0
    for i in range(len(x)):
        pts = x[i].double() + steps[:, None] * (targets[i] - x[i]).double()
        with torch.no_grad():
            pred = model.double()(pts).argmax(1)
        model.float()
        same = (pred == labels[i]).nonzero().squeeze(1)
        assert abs(float(alpha[i]) - float(steps[same[-1]])) <= 1.0 / 200_000 + 1e-12
        # the segment leaves the label's class and comes back: the first crossing is not the answer
        returns += int((pred[: same[-1]] != labels[i]).any())
        # the inner point is in the label's class, in the region whose closure holds the boundary point
        assert int(model(inner[i : i + 1]).argmax()) == int(labels[i])
        reg = region_constraints(model, inner[i : i + 1])
        at = x[i].double() + alpha[i] * (targets[i] - x[i]).double()
        assert float(reg.slack(at[None]).min()) > -1e-9
    assert returns > 0
    with pytest.raises(ValueError, match="not classified as its label"):
        last_point_of_class(model, x[:1], targets[:1], (labels[:1] + 1) % 4)


def test_hyperplane_angles_and_layer_coherence_by_hand():
    from nngeom.linear_regions.regions import hyperplane_angles, layer_coherence

    W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    ang = hyperplane_angles(W)
    assert ang[0, 1] == pytest.approx(90.0) and ang[0, 2] == pytest.approx(45.0) and ang[1, 0] == pytest.approx(90.0)
    assert torch.isnan(ang[3]).all()  # a constant unit has no direction
    coh = layer_coherence(W[None, :3], [2, 1])[0]
    # layer 1 holds the orthogonal pair, layer 2 one unit (no pair), across: |cos 45| twice
    assert coh[0, 0] == pytest.approx(0.0, abs=1e-12) and torch.isnan(coh[1, 1])
    assert coh[0, 1] == pytest.approx(np.sqrt(0.5)) and coh[1, 0] == pytest.approx(np.sqrt(0.5))
    # on a real region: the block means agree with a direct computation from the angle matrix
    net = fc_net(bn=True)
    x = torch.rand(2, 12) * 2 - 1
    reg = region_constraints(net, x)
    c = layer_coherence(reg.W, reg.layer_sizes)
    cos = torch.cos(torch.deg2rad(hyperplane_angles(reg.W[1]))).abs()
    a, b = reg.layer_sizes[0], reg.layer_sizes[0] + reg.layer_sizes[1]
    assert c[1, 0, 1] == pytest.approx(float(cos[:a, a:b].nanmean()), abs=1e-9)
    with pytest.raises(ValueError, match="layer_sizes"):
        layer_coherence(reg.W, [1, 2])


def test_block_coherence_averages_the_full_matrix():
    from nngeom.linear_regions.regions import block_coherence, hyperplane_angles

    g = torch.Generator().manual_seed(0)
    W = torch.randn(37, 5, generator=g, dtype=torch.float64)
    W[4] = 0.0  # a unit constant on the region: skipped
    full = torch.cos(torch.deg2rad(hyperplane_angles(W))).abs()
    full.fill_diagonal_(float("nan"))
    edges = np.unique(np.linspace(0, 37, 6).astype(int))
    got = block_coherence(W, blocks=5)
    for a in range(5):
        for b in range(5):
            want = full[edges[a] : edges[a + 1], edges[b] : edges[b + 1]].nanmean()
            assert float(got[a, b]) == pytest.approx(float(want), abs=1e-10)
    one = block_coherence(W, blocks=37)  # one unit per block: the matrix itself, NaN on the diagonal and row 4
    nan = torch.eye(37, dtype=torch.bool) | (torch.arange(37) == 4)[None] | (torch.arange(37) == 4)[:, None]
    assert torch.equal(one.isnan(), nan)
    assert torch.allclose(one[~nan], full[~nan])
    with pytest.raises(ValueError, match="'blocks'"):
        block_coherence(W, blocks=0)
