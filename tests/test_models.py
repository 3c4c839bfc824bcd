"""Architectures, regularisers and the experiment protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nngeom.adversarial_neighborhoods.studies import natural_vs_adversarial, persistence_by_attack
from nngeom.core import models
from nngeom.core.attacks import BIM, FGSM, random_other_targets
from nngeom.core.training import weight_layers, weight_penalty


@pytest.mark.parametrize("channels", [2, 8])
def test_bell_cnn_matches_table_3(channels):
    net = models.build("bell_cnn", channels=channels)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(c.kernel_size == (5, 5) and c.stride == (1, 1) for c in convs)
    fc = [m for m in net if isinstance(m, nn.Linear)]
    assert fc[0].in_features == channels * 6 * 6 and fc[0].out_features == 256 and fc[1].out_features == 10
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="channels"):
        models.build("bell_cnn", channels=0)


def test_weight_penalty_forms():
    net = models.mlp(4, [3], 2)
    w1, w2 = (layer.weight for layer in weight_layers(net))
    sq = weight_penalty(net, [0.5, 2.0], "squared_over_units")
    assert torch.allclose(sq, 0.5 * w1.pow(2).sum() / 3 + 2.0 * w2.pow(2).sum() / 2)
    nrm = weight_penalty(net, [0.1], "norm_over_size")
    assert torch.allclose(nrm, 0.1 * w1.norm() / 12 + 0.1 * w2.norm() / 6)
    with pytest.raises(ValueError, match="penalty_form"):
        weight_penalty(net, [0.1], "l1")
    with pytest.raises(ValueError, match="penalty"):
        weight_penalty(net, [0.1, 0.2, 0.3])


def test_imagenet_model_without_weights_offline_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("NNGEOM_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(models.WeightsUnavailable, match="vgg16-397923af.pth"):
        models.imagenet_model("vgg16")
    with pytest.raises(ValueError, match="arch"):
        models.imagenet_model("resnet50", pretrained=False)


def test_imagenet_model_normalises_pixel_inputs():
    net = models.imagenet_model("alexnet", pretrained=False)
    x = torch.rand(1, 3, 224, 224)
    expected = net.net(
        (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    )
    assert torch.allclose(net(x), expected)


def test_random_other_targets_never_the_label():
    y = torch.arange(10).repeat(50)
    t = random_other_targets(y, generator=torch.Generator().manual_seed(0))
    assert (t != y).all() and set(t.tolist()) == set(range(10))


def test_natural_vs_adversarial_on_a_half_space():
    # class 1 is x_0 >= 0 (a tie goes to class 0); points at x_0 = 0.9 are attacked untargeted
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        model.bias.zero_()
    wrapped = nn.Sequential(nn.Identity(), model)
    x = torch.tensor([[0.9, 0.5]] * 6)
    y = torch.ones(6, dtype=torch.long)
    attack = BIM(wrapped, eps=1.0, alpha=0.05, steps=40, early_stop=True)
    with pytest.warns(RuntimeWarning, match="did not bracket"):  # the adversarials lie on the boundary
        st = natural_vs_adversarial(wrapped, x, y, attack, n_samples=2000, generator=torch.Generator().manual_seed(0))
    assert st.success.all()
    # early stop leaves each adversarial at the first step across, x_0 = 0 up to rounding: persistence ~0;
    # a natural point at distance 0.9 has persistence 0.9 / Phi^-1(0.7)
    assert np.all(st.persistence_adversarial < 0.3 * st.persistence_natural.mean())
    assert math.isclose(float(np.median(st.persistence_natural)), 0.9 / 0.5244, rel_tol=0.1)
    assert st.summary()["attempts"] == 6


@pytest.mark.filterwarnings("ignore:persistence")  # adversarials at the boundary are not bracketed: reported as 0
def test_persistence_by_attack_pools_and_weights_like_table_2():
    # class 1 is x_0 >= 0; three points of class 1, each attacked twice towards class 0: BIM with a large
    # budget always succeeds, FGSM with a tiny one never does
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        model.bias.zero_()
    wrapped = nn.Sequential(nn.Identity(), model)
    x = torch.tensor([[0.3, 0.5], [0.6, 0.5], [0.9, 0.5]])
    targets = torch.zeros(6, dtype=torch.long)

    def attack(name, m):
        if name == "BIM":
            return BIM(m, eps=2.0, alpha=0.1, steps=40, targeted=True)
        return FGSM(m, eps=1e-4, targeted=True)

    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    table = persistence_by_attack(
        {"half-space": wrapped}, x, targets, attack, ["BIM", "FGSM"], gamma=0.7, n_samples=500, generator=gen
    )
    assert torch.equal(gen.get_state(), state)  # every pair starts from the entry state; the caller's is kept
    assert table.targets_per_image == 2 and [r["attack"] for r in table.rows] == ["BIM", "FGSM", "total"]
    bim, fgsm, total = table.rows
    assert bim["success rate"] == 1.0 and fgsm["success rate"] == 0.0 and total["success rate"] == 0.5
    assert math.isnan(fgsm["persistence (adversarial)"]) and math.isnan(fgsm["persistence (natural)"])
    p_nat = table.studies[("half-space", "BIM")].persistence_natural
    assert p_nat is table.studies[("half-space", "FGSM")].persistence_natural  # estimated once per network
    # every image succeeded twice, so the weighted natural column is the plain mean
    assert math.isclose(bim["persistence (natural)"], float(p_nat.mean()), rel_tol=1e-6)
    assert np.array_equal(table.source_persistence("half-space", "BIM"), np.repeat(p_nat, 2))
    assert len(table.source_persistence("half-space", "FGSM")) == 0
    assert [d.test.split(":")[0] for d in table.below_source(["BIM"])] == ["half-space BIM"]
    with pytest.raises(ValueError, match="targets"):
        persistence_by_attack({"h": wrapped}, x, targets[:5], attack, ["BIM"], gamma=0.7, n_samples=10, generator=gen)


def test_unit_box_input_keeps_the_wrapped_mode():
    import torch
    from torch import nn

    from nngeom.core.models import UnitBoxInput

    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).eval()
    wrapped = UnitBoxInput(net, (-1.0, 1.0))
    assert not wrapped.training and not net.training
    z = torch.rand(5, 3)
    assert torch.equal(wrapped(z), net(2 * z - 1))
    assert torch.equal(wrapped.to_unit(wrapped.from_unit(z)), z)


def test_strided_cnn_has_the_papers_hyperplane_count():
    import pytest
    import torch
    from torch import nn

    from nngeom.core.models import strided_cnn
    from nngeom.linear_regions.regions import region_constraints

    # Appendix E: 15 x 15 x 32 + 7 x 7 x 64 + 3 x 3 x 128 + 1,024 = 12,512 hyperplanes on CIFAR-10
    net = strided_cnn(in_channels=3, image_size=32).eval()
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    reg = region_constraints(net, torch.rand(1, 3, 32, 32) * 2 - 1)
    assert reg.layer_sizes == [7200, 3136, 1152, 1024]
    # on Fashion-MNIST: 13 x 13 x 32 + 6 x 6 x 64 + 2 x 2 x 128 + 1,024
    small = strided_cnn(in_channels=1, image_size=28, batch_norm=True, dropout=0.2)
    assert (
        sum(isinstance(m, nn.BatchNorm2d) for m in small) == 3
        and sum(isinstance(m, nn.BatchNorm1d) for m in small) == 1
    )
    assert sum(isinstance(m, nn.Dropout) for m in small) == 4
    assert region_constraints(small.eval(), torch.zeros(1, 1, 28, 28)).layer_sizes == [5408, 2304, 512, 1024]
    with pytest.raises(ValueError, match="'image_size'"):
        strided_cnn(image_size=6)
    with pytest.raises(ValueError, match="'dropout'"):
        strided_cnn(dropout=1.0)


def test_cifar_resnet20_has_he_et_al_s_shape_and_64_features():
    net = models.build("cifar_resnet", depth=20)
    blocks = [m for m in net if isinstance(m, models.BasicBlock)]
    assert len(blocks) == 9
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 19 and [c.out_channels for c in convs[1::6]] == [16, 32, 64]  # 19 convs + 1 linear = 20
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(0.27e6, rel=0.02)  # the paper's 0.27M
    assert isinstance(net[-1], nn.Linear) and net[-1].in_features == 64 and net[-1].out_features == 10
    x = torch.rand(2, 3, 32, 32)
    assert net(x).shape == (2, 10)
    features = net[:-1].eval()(x)
    assert features.shape == (2, 64) and torch.all(features >= 0)  # ReLU, then averaging
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 1 + 2 * 9  # every ReLU is a module
    grey = models.build("cifar_resnet", in_channels=1)
    assert grey(torch.rand(2, 1, 28, 28)).shape == (2, 10)  # the Fashion-MNIST stand-in's input
    with pytest.raises(ValueError, match="depth"):
        models.build("cifar_resnet", depth=21)


def test_crop_flip_shifts_and_flips_each_image_within_the_padding():
    from nngeom.core.training import crop_flip

    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1  # no zeros inside
    out = crop_flip(x, torch.Generator().manual_seed(3), pad=2)
    assert out.shape == x.shape
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        candidates = [padded[i, :, r : r + 6, c : c + 6] for r in range(5) for c in range(5)]
        candidates += [cand.flip(-1) for cand in candidates]
        assert any(torch.equal(out[i], cand) for cand in candidates)
    outs = [crop_flip(x, torch.Generator().manual_seed(s), pad=2) for s in range(6)]
    assert not all(torch.equal(outs[0], o) for o in outs[1:])  # the draws vary with the generator
    with pytest.raises(ValueError, match="augment"):
        from nngeom.core.training import train_classifier

        train_classifier(nn.Linear(4, 2), (torch.rand(8, 4), torch.zeros(8, dtype=torch.long)),
                         (torch.rand(4, 4), torch.zeros(4, dtype=torch.long)), epochs=1, batch_size=4, lr=0.1,
                         augment="crop_flip", progress=False)  # fmt: skip


def test_lr_milestones_divide_the_learning_rate():
    from nngeom.core.training import train_classifier

    def run(milestones):
        torch.manual_seed(0)
        net = nn.Linear(4, 2)
        g = torch.Generator().manual_seed(1)
        x, y = torch.randn(64, 4, generator=g), torch.randint(0, 2, (64,), generator=g)
        train_classifier(net, (x, y), (x, y), epochs=4, batch_size=16, lr=0.5, optimizer="sgd",
                         lr_milestones=milestones, progress=False)  # fmt: skip
        return torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    base, decayed, late = run(()), run((0.5,)), run((0.99,))
    assert not torch.allclose(base, decayed)
    # a milestone at the last step changes only that step's size: closer to no decay than one at half way
    assert (late - base).norm() < (decayed - base).norm()
    with pytest.raises(ValueError, match="lr_milestones"):
        run((1.5,))


def test_all_convolutional_is_the_cleverhans_tutorial_model():
    from nngeom.core.models import all_convolutional, build

    net = all_convolutional()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 128, 256, 256, 512, 10]
    assert sum(isinstance(m, nn.AvgPool2d) for m in net) == 3 and isinstance(net[-2], nn.LeakyReLU)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    small = build("all_convolutional", base_filters=8, in_channels=1, image_size=28)
    assert [c.out_channels for c in small.modules() if isinstance(c, nn.Conv2d)] == [8, 16, 16, 32, 32, 64, 10]
    assert small(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    # channels-last weights (oneDNN's fast CPU kernels), kept through a state dict round trip
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    again = build("all_convolutional", base_filters=8, in_channels=1, image_size=28)
    again.load_state_dict(small.state_dict())
    assert again[2].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(again(x), small(x))
    with pytest.raises(ValueError, match="'negative_slope'"):
        all_convolutional(negative_slope=1.5)
