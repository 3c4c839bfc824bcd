"""Library pieces of the intriguing-properties pages: layer splits, units vs directions, the sparse
autoencoder, the adversarial pool, and the zoo entries with training halves and trainers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nngeom.core import zoo
from nngeom.core.adversarial_training import AdversarialPool
from nngeom.core.models import mlp, split_after_hidden
from nngeom.core.training import pretrain_sparse_autoencoder, train_classifier
from nngeom.intriguing_properties.units import label_purity, layer_activations, random_directions, top_images


def test_split_after_hidden_composes_to_the_model():
    torch.manual_seed(0)
    model = mlp(12, [7, 5], 3, activation="sigmoid", dropout=0.5, input_dropout=0.2).eval()
    x = torch.rand(4, 3, 4)
    for layer, width in ((0, 12), (1, 7), (2, 5)):
        head, rest = split_after_hidden(model, layer)
        h = head(x)
        assert h.shape == (4, width)
        assert torch.allclose(rest(h), model(x))
    assert isinstance(split_after_hidden(model, 1)[0][-1], nn.Dropout)  # the layer's dropout stays below the cut
    with pytest.raises(ValueError, match="'layer' must be an int from 0 to 2"):
        split_after_hidden(model, 3)


@pytest.mark.parametrize("kwargs", [{"dropout": 1.0}, {"input_dropout": -0.1}, {"dropout": True}])
def test_mlp_rejects_bad_dropout(kwargs):
    with pytest.raises(ValueError, match="dropout"):
        mlp(4, [3], 2, **kwargs)


def test_top_images_and_label_purity():
    acts = torch.tensor([[0.0, 1.0], [3.0, 0.0], [2.0, 2.0], [1.0, 0.5]])
    units = torch.eye(2)
    assert top_images(acts, units, 2).tolist() == [[1, 2], [2, 0]]
    diagonal = torch.tensor([[1.0, 1.0]]) / 2**0.5
    assert top_images(acts, diagonal, 1).tolist() == [[2]]
    assert label_purity(torch.tensor([[3, 3, 3, 1], [0, 1, 2, 3]])).tolist() == [0.75, 0.25]
    with pytest.raises(ValueError, match="'k' must be at most"):
        top_images(acts, units, 5)


def test_random_directions_are_unit_vectors_and_seeded():
    v = random_directions(50, 8, generator=torch.Generator().manual_seed(0))
    assert v.shape == (8, 50) and torch.allclose(v.norm(dim=1), torch.ones(8))
    assert torch.equal(v, random_directions(50, 8, generator=torch.Generator().manual_seed(0)))


def test_layer_activations_are_the_hidden_outputs():
    torch.manual_seed(0)
    model = mlp(6, [4, 3], 2, activation="sigmoid")
    x = torch.rand(5, 6)
    expected = torch.sigmoid(model[3](torch.sigmoid(model[1](x))))
    assert torch.allclose(layer_activations(model, x, 2), expected)


def test_sparse_autoencoder_pushes_mean_activation_to_the_target():
    torch.manual_seed(0)
    x = torch.rand(512, 20)
    means = {}
    for weight in (0.0, 5.0):
        torch.manual_seed(1)
        enc = nn.Linear(20, 16)
        hist = pretrain_sparse_autoencoder(
            enc, x, epochs=15, batch_size=64, lr=1e-2, sparsity_target=0.05, sparsity_weight=weight, progress=False
        )
        assert hist[-1]["autoencoder_loss"] < hist[0]["autoencoder_loss"]
        with torch.no_grad():
            means[weight] = float(torch.sigmoid(enc(x)).mean())
    assert abs(means[5.0] - 0.05) < 0.03 < abs(means[0.0] - 0.05)


def _two_blob_data(n=400, dim=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = (0.5 + 0.2 * (2 * y.float() - 1).view(-1, 1) + 0.05 * torch.randn(n, dim, generator=g)).clamp(0, 1)
    return x, y


@pytest.mark.parametrize("layer", [0, 2])
def test_adversarial_pool_holds_successful_adversarials_with_true_labels(layer):
    torch.manual_seed(0)
    x, y = _two_blob_data()
    model = mlp(10, [8, 6], 2, activation="sigmoid")
    train_classifier(model, (x, y), (x, y), epochs=30, batch_size=50, lr=1e-2, progress=False)
    pool = AdversarialPool(
        model,
        x,
        y,
        layer=layer,
        size=30,
        refresh=20,
        refresh_every=5,
        batch_size=8,
        search_steps=4,
        max_iter=30,
        seed=0,
    )
    loss = pool(model, 0)  # step 0 refreshes
    assert torch.isfinite(loss) and loss.requires_grad
    width = {0: 10, 2: 6}[layer]
    assert pool.pool_x.shape[1] == width and 0 < len(pool.pool_x) <= 20
    _, rest = split_after_hidden(model, layer)
    with torch.no_grad():
        pred = rest(pool.pool_x).argmax(1)
    assert torch.all(pred != pool.pool_y)  # each example fools the model it was made on
    assert pool.pool_x.min() >= 0 and pool.pool_x.max() <= 1
    for step in range(1, 11):
        pool(model, step)  # refreshes at steps 5 and 10
    assert len(pool.pool_x) <= 30 and pool.attacked == 60
    stats = pool.stats()
    assert stats["pool"] == len(pool.pool_x) and 0 < stats["attack_success_rate"] <= 1


def test_adversarial_pool_needs_sigmoid_units_above_the_input():
    model = mlp(10, [8], 2, activation="relu")
    x, y = _two_blob_data()
    with pytest.raises(ValueError, match="sigmoid"):
        AdversarialPool(model, x, y, layer=1)
    AdversarialPool(model, x, y, layer=0)  # the input box is [0, 1] whatever the units


def test_training_halves_are_disjoint_and_cover_the_set():
    x, y = torch.arange(10).float().view(-1, 1), torch.arange(10)
    p1, p2 = zoo.training_part(x, y, "P1"), zoo.training_part(x, y, "P2")
    assert p1[1].tolist() == [0, 1, 2, 3, 4] and p2[1].tolist() == [5, 6, 7, 8, 9]
    assert zoo.training_part(x, y, None)[1] is y
    with pytest.raises(ValueError, match="'part'"):
        zoo.training_part(x, y, "P3")


def test_trainer_settings_are_part_of_the_key_and_merge():
    base = zoo.spec("mnist-fc100-100-10-advpool-l0")
    smaller = zoo.spec("mnist-fc100-100-10-advpool-l0", trainer_kwargs={"size": 100})
    assert smaller.trainer_kwargs["refresh"] == base.trainer_kwargs["refresh"] and smaller.trainer_kwargs["size"] == 100
    assert smaller.key() != base.key()
    # entries without a trainer keep the recipe (and cache key) they had before trainers existed
    assert "trainer" not in zoo.spec("mnist-fc10-4").recipe()


def test_part_and_autoencoder_models_train(tmp_model_cache):
    m = zoo.load("mnist-p2-fc100-100-10", device="cpu", progress=False, epochs=3, train_limit=2000)
    assert m.nngeom_meta["n_train"] == 2000 and m.nngeom_meta["test_accuracy"] > 0.3  # chance is 0.1
    ae = zoo.load(
        "mnist-ae400-10",
        device="cpu",
        progress=False,
        epochs=3,
        train_limit=2000,
        lr=1e-2,
        trainer_kwargs={"epochs": 3},
    )
    assert len(ae.nngeom_meta["autoencoder_history"]) == 3 and ae.nngeom_meta["test_accuracy"] > 0.3
    assert all(p.requires_grad for p in ae.parameters())  # the frozen encoder is released after training


def test_wilson_interval_known_values_and_edges():
    from nngeom.core.stats import paired_difference, rate, wilson_interval

    low, high = wilson_interval(5, 100)  # textbook value: (0.0215, 0.1118)
    assert abs(low - 0.0215) < 5e-4 and abs(high - 0.1118) < 5e-4
    assert wilson_interval(0, 50)[0] == 0.0 and 0 < wilson_interval(0, 50)[1] < 0.08
    assert wilson_interval(50, 50)[1] == 1.0
    r = rate(torch.tensor([True, False, False, False]))
    assert r["rate"] == 0.25 and r["n"] == 4 and r["low"] < 0.25 < r["high"]
    a = torch.zeros(1000, dtype=torch.bool)
    b = a.clone()
    b[:40] = True  # b errs on 40 items where a is right
    d = paired_difference(a, b)
    assert abs(d["difference"] + 0.04) < 1e-12 and d["high"] < 0
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(3, 2)


def test_matched_noise_has_the_perturbation_length_before_clipping():
    from nngeom.core.attacks import distortion
    from nngeom.intriguing_properties.transfer import matched_noise

    g = torch.Generator().manual_seed(0)
    x = torch.full((5, 1, 4, 4), 0.5)
    x_adv = x + 0.01 * torch.arange(1, 6).float().view(5, 1, 1, 1)  # distortions 0.01 ... 0.05
    noisy = matched_noise(x, x_adv, g)
    assert torch.allclose(distortion(x, noisy), distortion(x, x_adv), atol=1e-6)  # far from the box: no clipping
    assert not torch.allclose(noisy, x_adv)
    edge = torch.ones(3, 16)
    clipped = matched_noise(edge, edge - 0.2, g)
    assert clipped.max() <= 1 and float(distortion(edge, clipped).max()) <= 0.2 + 1e-6


def test_lbfgs_adversarials_and_transfer_matrix_contract():
    from nngeom.intriguing_properties.transfer import lbfgs_adversarials, transfer_matrix

    torch.manual_seed(0)
    x, y = _two_blob_data(n=200)
    a = mlp(10, [8], 2, activation="sigmoid")
    b = mlp(10, [], 2)
    for m in (a, b):
        train_classifier(m, (x, y), (x, y), epochs=30, batch_size=50, lr=1e-2, progress=False)
    g = torch.Generator().manual_seed(0)
    sets = {"a": lbfgs_adversarials("a", a, x, y, 12, g, search_steps=4, max_iter=30)}
    s = sets["a"]
    assert len(s.success) == 12 and torch.all(s.targets != s.y)
    assert torch.all(a(s.x).argmax(1) == s.y)  # only images the source gets right are attacked
    x_ok, y_ok = s.successful()
    assert torch.all(a(x_ok).argmax(1) != y_ok) and len(s.distortion) == len(y_ok)
    df = transfer_matrix(sets, {"a": a, "b": b}, rows={"clean": (s.x, s.y)})
    assert set(df["set"]) == {"a", "clean"} and set(df["model"]) == {"a", "b"}
    diag = df[(df["set"] == "a") & (df["model"] == "a")].iloc[0]
    assert diag["rate"] == 1.0 and diag["n"] == len(y_ok) and diag["low"] < 1.0
    assert df[(df["set"] == "clean") & (df["model"] == "a")].iloc[0]["rate"] == 0.0


def test_mlp_batch_norm_and_xavier_init():
    torch.manual_seed(0)
    m = mlp(6, [5, 4], 3, batch_norm=True, init="xavier_uniform")
    kinds = [type(x).__name__ for x in m]
    assert kinds == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    linears = [x for x in m if isinstance(x, nn.Linear)]
    assert all(float(x.bias.detach().abs().max()) == 0 for x in linears)
    bound = (6 / (6 + 5)) ** 0.5
    assert float(linears[0].weight.detach().abs().max()) <= bound
    with pytest.raises(ValueError, match="'init'"):
        mlp(6, [5], 3, init="he")


def test_early_stopping_restores_the_best_epoch_and_stops():
    torch.manual_seed(0)
    x, y = _two_blob_data(n=600)
    y_noisy = y.clone()
    y_noisy[-100:] = 1 - y_noisy[-100:]  # a held-out split the model can only get worse on
    model = mlp(10, [8], 2)
    r = train_classifier(
        model, (x, y_noisy), (x, y), epochs=40, batch_size=50, lr=1e-2, validation=100, patience=2, progress=False
    )
    vals = [h["val_accuracy"] for h in r.history]
    assert len(r.history) < 40  # stopped early
    best = max(vals)
    assert vals.index(best) == len(vals) - 3  # patience 2: two epochs without improvement after the best
    from nngeom.core.training import accuracy

    assert accuracy(model, x[-100:], y_noisy[-100:]) == best  # the best epoch's weights are restored
    with pytest.raises(ValueError, match="'patience' needs a held-out split"):
        train_classifier(model, (x, y), (x, y), epochs=1, batch_size=50, lr=1e-2, patience=2, progress=False)


def test_lrg_zoo_entry_trains_with_early_stopping_on_inputs_in_minus_one_one(tmp_model_cache):
    m = zoo.load(
        "mnist-lrg20-bn", device="cpu", progress=False, epochs=10, train_limit=2000, trainer_kwargs={"validation": 500}
    )
    meta = m.nngeom_meta
    assert meta["spec"]["value_range"] == [-1.0, 1.0] and meta["n_train"] == 2000
    assert all("val_accuracy" in h for h in meta["history"]) and meta["test_accuracy"] > 0.5
    assert any(isinstance(x, nn.BatchNorm1d) for x in m)


def test_sign_test_has_three_outcomes_and_needs_enough_items():
    import torch

    from nngeom.intriguing_properties.transfer import sign_test

    ones, zeros = torch.ones(40, dtype=torch.bool), torch.zeros(40, dtype=torch.bool)
    assert sign_test(ones, zeros).holds is True  # 40 of 40 discordant items the claimed way
    assert sign_test(zeros, ones).holds is False  # 40 of 40 the other way
    assert sign_test(ones[:4], zeros[:4]).holds is None  # 4 of 4 cannot reach 95 % (exact lower bound 0.40)
    assert sign_test(ones, ones).holds is None  # all ties: nothing to decide
    mixed = sign_test(torch.tensor([1.0, 0.5, 0.0, 1.0]), torch.tensor([0.0, 0.5, 1.0, 0.0]))
    assert mixed.effect == pytest.approx(2 / 3) and mixed.holds is None
    with pytest.raises(ValueError, match="one shape"):
        sign_test(ones, zeros[:3])


def test_example_checks_decide_each_claim_both_ways():
    from nngeom.core.attacks import distortion
    from nngeom.intriguing_properties.transfer import AdversarialSet, NoiseControl, example_checks

    x = torch.full((10, 4), 0.5)
    x_adv = x.clone()
    x_adv[:, 0] += 0.1  # every example moved by the same amount
    ok = torch.ones(10, dtype=torch.bool)
    s = AdversarialSet("net", torch.arange(10), x, torch.zeros(10, dtype=torch.long), torch.ones(10, dtype=torch.long),
                       x_adv, ok, 0.0)  # fmt: skip
    d = float(distortion(x[:1], x_adv[:1]))
    quiet = NoiseControl(x, s.y, x, torch.zeros(10, dtype=torch.bool))
    c = example_checks(s, quiet, reference_distortion=d, close_factor=2.0, min_success=0.5, barely=0.5)
    assert (c.success.holds, c.close.holds, c.quiet.holds, c.found.holds) == (True, True, True, True)
    assert c.row(d)["success"] == "10/10" and c.row(d)["noise error"] == "0/10"
    # the distortion sits above half the reference, every noisy image is misclassified, few attacks succeed
    loud = NoiseControl(x, s.y, x, torch.ones(10, dtype=torch.bool))
    c = example_checks(s, loud, reference_distortion=d, close_factor=0.5, min_success=0.5, barely=0.5)
    assert (c.close.holds, c.quiet.holds, c.found.holds) == (False, False, False)
    few = AdversarialSet("net", s.indices, x, s.y, s.targets, x_adv, torch.arange(10) < 1, 0.0)
    c = example_checks(few, quiet, reference_distortion=d, close_factor=2.0, min_success=0.9, barely=0.5)
    assert c.success.holds is False and c.close.holds is None  # one example: its mean has no interval
