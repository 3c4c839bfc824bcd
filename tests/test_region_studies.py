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
