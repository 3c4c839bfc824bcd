"""The model helpers every module uses: model_device, eval_mode, predict."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nngeom.core.device import eval_mode, model_device, predict


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3))


def test_eval_mode_switches_and_restores_also_on_error():
    net = _net().train()
    with eval_mode(net):
        assert not net.training and not net[1].training
    assert net.training and net[1].training
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError("inside")
    assert net.training
    net.eval()
    with eval_mode(net):
        pass
    assert not net.training


def test_predict_is_the_eval_mode_argmax_in_any_batch_size_and_restores_the_mode():
    net = _net().train()
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), eval_mode(net):
        want = net(x).argmax(1)
    for batch_size in (None, 1, 7, 50, 1000):
        assert torch.equal(predict(net, x, batch_size), want)
    assert net.training  # dropout was off for the prediction, and the mode is back
    with pytest.raises(ValueError, match="'batch_size' must be an int >= 1"):
        predict(net, x, 0)
    assert predict(net, x[:0]).shape == (0,)  # no points, no classes
    with pytest.raises(ValueError, match="'x' must be a batch"):
        predict(net, torch.tensor(1.0))


def test_model_device():
    assert model_device(_net()) == torch.device("cpu")
    assert model_device(nn.ReLU(), fallback="cpu") == torch.device("cpu")
    bn = nn.BatchNorm1d(3, affine=False)  # buffers only
    assert model_device(bn) == torch.device("cpu")
