"""The protocol of Zhang & Wu's section 3.2 on a small batch-norm net."""

import numpy as np
import torch
from torch import nn

from nngeom.region_studies import class_means, inradii, region_sample


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
    r, info = inradii(net, torch.cat([s.points[c] for c in s.points]), (-1.0, 1.0), progress=False)
    assert np.all(r > 0) and len(info) == len(r)


def test_surrounding_regions_walks_null_space_directions():
    from nngeom.region_studies import logit_gradients, null_space_directions, surrounding_regions
    from nngeom.regions import activation_pattern

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
    out = surrounding_regions(net, x, n_directions=20, epsilon=eps, seed=0, progress=False)
    assert len(out.counts) == 3 and all(len(p) == 20 for p in out.pieces)
    # brute force: the unique activation patterns on a fine sampling of the same segments
    gen = torch.Generator().manual_seed(0)
    for i in range(3):
        e = null_space_directions(logit_gradients(net.double(), x[i:i + 1].double())[0], 20, gen)
        beta = torch.linspace(0, eps, 4001, dtype=torch.float64)
        pts = (x[i].double()[None, None] + beta[None, :, None] * e[:, None, :]).reshape(-1, 8)
        patterns = torch.unique(activation_pattern(net.double(), pts), dim=0)
        assert out.counts[i] == len(patterns)
        assert len(out.cosines[i]) == out.counts[i] - 1 and np.all(np.abs(out.cosines[i]) <= 1 + 1e-12)
        net.float()


def test_decision_targets_from_a_pool_are_images_of_another_class():
    from nngeom.region_studies import region_sample

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()
    pool_x = torch.rand(60, 4) * 2 - 1
    pool_y = torch.arange(60) % 3  # labels of the pool (as a training set's), not the net's predictions
    x = pool_x[:5]
    s = region_sample(net, x, means=None, value_range=(-1.0, 1.0), pgd={"steps": 3}, seed=0,
                      target_pool=(pool_x, pool_y))
    # a target the net assigns to the test point's class is dropped and counted; every kept segment
    # holds a boundary strictly inside it
    assert len(s.points["decision"]) + s.counts["decision_target_same_class"] == 5
    assert np.all((s.alpha["decision"] > 0) & (s.alpha["decision"] < 1))
