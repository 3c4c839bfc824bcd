"""Attack contracts: box respected, inputs untouched, targets reached or reported, and L-BFGS quality."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nngeom.core import data
from nngeom.core.attacks import BIM, CW, FGSM, LBFGS, MIFGSM, PGD, RFGSM, distortion, make, succeeded
from nngeom.core.training import train_classifier


@pytest.fixture(scope="module")
def mnist_small():
    x, y = data.tensors("mnist", "train", limit=3000)
    xt, yt = data.tensors("mnist", "test", limit=1000)
    return (x, y), (xt, yt)


def _trained(arch: nn.Module, mnist_small) -> nn.Module:
    torch.manual_seed(0)
    train_classifier(arch, *mnist_small, epochs=3, batch_size=64, lr=1e-3, progress=False)
    return arch.eval()


@pytest.fixture(scope="module")
def linear_model(mnist_small):
    return _trained(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), mnist_small)


@pytest.fixture(scope="module")
def mlp_model(mnist_small):
    return _trained(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)), mnist_small)


def _batch(mnist_small, n=12):
    xt, yt = mnist_small[1]
    return xt[:n].clone(), yt[:n].clone()


def test_distortion_is_rms_difference():
    x = torch.zeros(2, 1, 2, 2)
    xa = x.clone()
    xa[0, 0, 0, 0] = 0.4
    xa[1] += 0.1
    assert torch.allclose(distortion(x, xa), torch.tensor([0.4 / 2, 0.1]))


def test_lbfgs_reaches_targets_inside_the_box(mlp_model, mnist_small):
    x, y = _batch(mnist_small)
    target = (y + 3) % 10
    x_before = x.clone()
    attack = LBFGS(mlp_model, search_steps=6, max_iter=60)
    x_adv = attack(x, target)
    assert torch.equal(x, x_before)  # input untouched
    assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
    ok = succeeded(mlp_model, x_adv, target, targeted=True)
    # every example reported as a success is classified as its target, and the report matches the model
    assert torch.equal(ok, attack.last_success)
    assert ok.float().mean() >= 0.9
    assert torch.all(torch.isfinite(attack.last_c[ok])) and torch.all(torch.isnan(attack.last_c[~ok]))
    assert distortion(x, x_adv)[ok].max() < 0.3


def test_lbfgs_reports_failure_when_no_c_reaches_the_target(mlp_model, mnist_small):
    x, y = _batch(mnist_small, 4)
    target = (y + 1) % 10
    # with the weight on ||r|| never below 1e3 the minimiser stays next to x: no target can be reached
    attack = LBFGS(mlp_model, c_range=(1e3, 1e4), search_steps=2, max_iter=30)
    x_adv = attack(x, target)
    assert not attack.last_success.any()
    assert not succeeded(mlp_model, x_adv, target, targeted=True).any()
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_lbfgs_is_close_to_the_exact_minimum_on_a_linear_model(linear_model, mnist_small):
    # For a linear classifier the smallest box-constrained perturbation reaching class l is a convex QP.
    cp = pytest.importorskip("cvxpy")
    x, y = _batch(mnist_small, 6)
    target = (y + 5) % 10
    attack = LBFGS(linear_model, search_steps=12, max_iter=200)
    x_adv = attack(x, target)
    ok = attack.last_success
    assert ok.all()
    ratios = []
    W = linear_model[1].weight.detach().double().numpy()
    b = linear_model[1].bias.detach().double().numpy()
    for i in range(len(x)):
        xi = x[i].reshape(-1).double().numpy()
        l = int(target[i])
        r = cp.Variable(784)
        z = xi + r
        cons = [z >= 0, z <= 1] + [(W[l] - W[j]) @ z + (b[l] - b[j]) >= 0 for j in range(10) if j != l]
        cp.Problem(cp.Minimize(cp.sum_squares(r)), cons).solve()
        exact = math.sqrt(cp.sum_squares(r).value) / 28.0
        ours = float(distortion(x[i : i + 1], x_adv[i : i + 1]))
        assert ours >= exact * (1 - 1e-3)  # nothing beats the optimum
        ratios.append(ours / exact)
    # Szegedy et al.'s objective uses the cross-entropy, whose minimisers cross the decision boundary
    # along the softmax-weighted direction, not at its nearest point: with exact solves (checked with
    # 1,000 iterations and one image per run) the method itself ends 2-7 % above the QP optimum on this
    # model. An unconverged solve or a broken c search gives far more.
    ratios = torch.tensor(ratios)
    assert ratios.max() <= 1.08 and ratios.median() <= 1.05, ratios


@pytest.mark.parametrize(
    "cls, kw",
    [
        (FGSM, dict(eps=0.3)),
        (BIM, dict(eps=0.3, alpha=0.02, steps=30)),
        (PGD, dict(eps=0.3, alpha=0.02, steps=30, seed=0)),
        (MIFGSM, dict(eps=0.3, alpha=0.02, steps=30)),
        (RFGSM, dict(eps=0.3, alpha=0.05, steps=20, seed=0)),
        (CW, dict(c=20.0, steps=200, lr=0.05)),
    ],
)
def test_torchattacks_wrappers_contract(cls, kw, mlp_model, mnist_small):
    x, y = _batch(mnist_small)
    keep = succeeded(mlp_model, x, y, targeted=True)  # attack correctly classified images only
    x, y = x[keep], y[keep]
    x_before = x.clone()
    for targeted, labels in ((False, y), (True, (y + 1) % 10)):
        x_adv = cls(mlp_model, targeted=targeted, batch_size=5, **kw)(x, labels)
        assert torch.equal(x, x_before)
        assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
        if "eps" in kw:
            assert (x_adv - x).abs().max() <= kw["eps"] + 1e-6
        rate = succeeded(mlp_model, x_adv, labels, targeted).float().mean()
        if cls is not FGSM:  # one step is not expected to reach a given target
            assert rate >= 0.5, (cls.__name__, targeted, float(rate))


def test_seeded_random_attacks_repeat(mlp_model, mnist_small):
    x, y = _batch(mnist_small, 6)
    a = PGD(mlp_model, eps=0.2, seed=3)(x, y)
    b = PGD(mlp_model, eps=0.2, seed=3)(x, y)
    c = PGD(mlp_model, eps=0.2, seed=4)(x, y)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_arguments_are_named(mlp_model, mnist_small):
    x, y = _batch(mnist_small, 2)
    with pytest.raises(ValueError, match="eps"):
        BIM(mlp_model, eps=-0.1)
    with pytest.raises(ValueError, match="targeted"):
        LBFGS(mlp_model, targeted=False)
    with pytest.raises(ValueError, match="c_range"):
        LBFGS(mlp_model, c_range=(1.0, 0.1))
    with pytest.raises(ValueError, match="box"):
        FGSM(mlp_model)(x * 2 + 1, y)
    with pytest.raises(ValueError, match="labels"):
        FGSM(mlp_model)(x, y[:1])
    with pytest.raises(ValueError, match="name"):
        make("onepixel", mlp_model)
    assert isinstance(make("R+FGSM", mlp_model), RFGSM) and isinstance(make("igsm", mlp_model), BIM)


def test_transfer_matrix_counts_only_the_successful_adversarials():
    # an adversarial set by hand: half of the attacks failed (their image is still classified as the true
    # class on the source); a transfer row must hold the successful ones only
    from nngeom.core.stats import wilson_interval
    from nngeom.intriguing_properties.transfer import AdversarialSet, transfer_matrix

    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3, 4))
        model.bias.zero_()
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    success = torch.tensor([True, False] * 4)
    shown = torch.where(success, (y + 1) % 3, y)  # what the source model says of each x_adv
    x_adv = nn.functional.one_hot(shown, 4).float()
    s = AdversarialSet("src", torch.arange(8), torch.zeros(8, 4), y, (y + 1) % 3, x_adv, success, 0.0)
    df = transfer_matrix({"src": s}, {"m": model}, rows={"clean": (nn.functional.one_hot(y, 4).float(), y)})
    adv = df[df["set"] == "src"].iloc[0]
    assert adv["n"] == 4 and adv["rate"] == 1.0
    assert (adv["low"], adv["high"]) == pytest.approx(wilson_interval(4, 4))
    clean = df[df["set"] == "clean"].iloc[0]
    assert clean["n"] == 8 and clean["rate"] == 0.0


def test_paired_transfer_pairs_every_source_with_every_other_model():
    from nngeom.intriguing_properties.transfer import AdversarialSet, paired_transfer

    eye = nn.Linear(4, 3)
    with torch.no_grad():
        eye.weight.copy_(torch.eye(3, 4))
        eye.bias.zero_()
    y = torch.tensor([0, 1, 2, 0])
    x = nn.functional.one_hot(y, 4).float()  # every model of the pair gets the originals right
    x_adv = nn.functional.one_hot((y + 1) % 3, 4).float()  # and the adversarials wrong
    ok = torch.tensor([True, True, False, True])
    made = {name: AdversarialSet(name, torch.arange(4), x, y, (y + 1) % 3, x_adv, ok, 0.0) for name in ("a", "b")}
    paired = paired_transfer(made, {"a": eye, "b": eye})
    pairs, adv_share, orig_share = paired.pairs, paired.adversarial_share, paired.original_share
    assert [(p.source, p.asked, p.n) for p in pairs] == [("a", "b", 3), ("b", "a", 3)]
    assert adv_share.tolist() == [1.0] * 6 and orig_share.tolist() == [0.0] * 6
    assert pairs[0].above_clean().holds is None  # 3 examples cannot make a sign test significant
    empty = AdversarialSet("c", torch.arange(4), x, y, y, x, torch.zeros(4, dtype=torch.bool), 0.0)
    pairs = paired_transfer({"a": made["a"], "c": empty}, {"a": eye, "c": eye}).pairs
    assert pairs[1].n == 0 and pairs[1].above_clean().holds is None


def test_batched_deepfool_matches_torchattacks(mlp_model, mnist_small):
    import torchattacks

    from nngeom.core.attacks import DeepFool

    x, y = _batch(mnist_small, 12)
    ours = DeepFool(mlp_model, steps=30, overshoot=0.02, batch_size=5)
    x_ours = ours(x, y)
    mlp_model.eval()
    x_theirs = torchattacks.DeepFool(mlp_model, steps=30, overshoot=0.02)(x, y)
    assert torch.allclose(x_ours, x_theirs, atol=1e-4), float((x_ours - x_theirs).abs().max())
    fooled = succeeded(mlp_model, x_ours, y, targeted=False)
    right = succeeded(mlp_model, x, y, targeted=True)
    assert fooled[right].any()

    def margin(images):  # the label's logit minus the best other one
        with torch.no_grad():
            z = mlp_model(images)
        other = z.clone()
        other[torch.arange(len(y)), y] = -float("inf")
        return z[torch.arange(len(y)), y] - other.max(1).values

    # every correctly classified image moved to (or past) the boundary; with overshoot 0.02 some stop on it
    assert torch.all(margin(x_ours)[right] < 0.05 * margin(x)[right])
    assert torch.all(ours.last_steps[~right] == 0) and torch.all(ours.last_steps[fooled & right] >= 1)
    with pytest.raises(ValueError, match="targeted"):
        DeepFool(mlp_model, targeted=True)
    with pytest.raises(ValueError, match="overshoot"):
        DeepFool(mlp_model, overshoot=-1)


def test_deepfool_never_returns_nan_where_gradients_vanish():
    # every ReLU off on the box: all logits have the same (zero) gradient, so no linear step exists (0/0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3)).eval()
    with torch.no_grad():
        net[1].weight.zero_()
        net[1].bias.fill_(-1.0)
    x = torch.rand(5, 1, 2, 2)
    df = make("deepfool", net, steps=10)
    out = df(x, net(x).argmax(1))
    assert not out.isnan().any() and torch.equal(out, x)  # stuck images stay where they are
