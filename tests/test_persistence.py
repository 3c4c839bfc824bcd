"""The persistence API against Proposition 4.3's closed form, and its batching and validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from nngeom.adversarial_neighborhoods.persistence import (
    _first_layer_sampler,
    class_frequencies,
    first_sigma_below,
    orthant_classifier,
    orthant_monte_carlo,
    orthant_persistence,
    orthant_stability,
    persistence,
    persistence_along_path,
    stability,
)
from nngeom.core.device import predict
from nngeom.core.validation import ParameterError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class CountingModel(nn.Module):
    """Wraps a model and counts forward passes, to check that points are batched, not looped over."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


def test_closed_form_matches_thesis_value():
    # Figure 8: about 1.91 for one sheet at distance 1, gamma = 0.7.
    assert orthant_persistence(1.0, 1, 0.7) == pytest.approx(1.9069394, abs=1e-6)
    # persistence scales linearly with the distance
    assert orthant_persistence(2.5, 3, 0.7) == pytest.approx(2.5 * orthant_persistence(1.0, 3, 0.7), rel=1e-12)
    # consistency of the two closed forms: stability at the persistence equals gamma
    for k in (1, 2, 5, 13):
        s = orthant_persistence(1.0, k, 0.8)
        assert orthant_stability(1.0, k, s) == pytest.approx(0.8, abs=1e-9)


def test_figure8_closed_form_readings():
    # Proposition 4.3 at d = 1, gamma = 0.7 (Figure 8): strictly decreasing in k, above the distance for one
    # sheet (about 1.91), below it from k = 3 on (k = 2 gives 1.0196, just above)
    values = [orthant_persistence(1.0, k, 0.7) for k in range(1, 21)]
    assert all(b < a for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(1.91, abs=0.005)
    assert values[1] == pytest.approx(1.0196, abs=1e-4) and values[1] > 1.0
    assert values[2] < 1.0
    # the closed form has no n in it; the exact orthant classifier in two dimensions gives the same stability
    for n in (3, 50, 784):
        model = orthant_classifier(n, 2)
        x = torch.zeros(1, n)
        x[:, :2] = 1.0
        est = stability(model, x, values[1], n_samples=20000, generator=gen(n))
        assert abs(est.item() - 0.7) < 4.5 * math.sqrt(0.21 / 20000)


def test_matched_gaussian_norms_spread_sqrt_n_over_2_times_the_balls():
    # Figure 19: with sigma = r / sqrt(n) the Gaussian norm has sd ~ sigma / sqrt(2), the ball's ~ r / n
    from nngeom.core.sampling import sample_norms

    n, r, m = 784, 7.0, 4000
    ball = sample_norms("ball", m, n, r, generator=gen(0)).double()
    gauss = sample_norms("gaussian", m, n, r / math.sqrt(n), generator=gen(1)).double()
    ratio = float(gauss.std() / ball.std())
    assert ratio == pytest.approx(math.sqrt(n / 2), rel=0.1)
    assert float(gauss.mean()) == pytest.approx(r, rel=0.01)
    # the ball's norm law: P[|y| <= t] = (t / r)^n, so its mean is r n / (n + 1)
    assert float(ball.mean()) == pytest.approx(r * n / (n + 1), rel=1e-4)


@pytest.mark.parametrize(
    "fractions,level,expected",
    [
        ([1.0, 0.9, 0.6, 0.4, 0.2], 0.5, 0.4),  # first below 0.5 is the fourth sigma
        ([1.0, 0.9, 0.5, 0.4, 0.2], 0.5, 0.4),  # equal to the level is not below it
        ([0.3, 0.9, 0.8, 0.7, 0.6], 0.5, 0.1),  # already below at the first sigma
        ([1.0, 0.9, 0.8, 0.7, 0.6], 0.5, math.inf),  # never below
        ([1.0, 0.4, 0.8, 0.3, 0.2], 0.5, 0.2),  # the first crossing counts, not a later one
        ([1.0, 0.9, 0.8, 0.7, 0.6], 0.75, 0.4),  # another level
    ],
)
def test_first_sigma_below_hand_cases(fractions, level, expected):
    sigmas = [0.1, 0.2, 0.3, 0.4, 0.5]
    got = first_sigma_below(sigmas, torch.tensor(fractions), level=level)
    assert got == pytest.approx(expected) if math.isfinite(expected) else got == math.inf


def test_first_sigma_below_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        first_sigma_below([0.1, 0.2], torch.tensor([1.0, 0.5, 0.2]))


def test_closed_form_infinite_when_gamma_below_limit():
    # stability tends to 2^-k as sigma grows: a level at or below it is never crossed
    assert orthant_persistence(1.0, 2, 0.25) == math.inf
    assert math.isfinite(orthant_persistence(1.0, 2, 0.26))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"d": -1.0, "k": 1, "gamma": 0.7}, "d"),
        ({"d": 1.0, "k": 0, "gamma": 0.7}, "k"),
        ({"d": 1.0, "k": 1, "gamma": 1.0}, "gamma"),
    ],
)
def test_closed_form_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        orthant_persistence(**kwargs)


def test_orthant_classifier_is_exact():
    n, k = 6, 3
    model = orthant_classifier(n, k)
    x = torch.randn(5000, n, generator=gen(1))
    inside = (x[:, :k] >= 0).all(dim=1)
    assert torch.equal(predict(model, x) == 1, inside)
    # the closed orthant: a point on a sheet belongs to class 1
    on_sheet = torch.tensor([[0.0, 1.0, 2.0, -5.0, 0.0, 0.0]])
    assert predict(model, on_sheet).item() == 1
    with pytest.raises(ValueError, match="k must satisfy"):
        orthant_classifier(2, 3)


@pytest.mark.parametrize("k,sigma", [(1, 0.5), (2, 1.0), (4, 2.0)])
def test_stability_matches_closed_form(k, sigma):
    n_samples = 40000
    model = orthant_classifier(10, k)
    x = torch.zeros(3, 10)
    x[:, :k] = 1.0
    est = stability(model, x, sigma, n_samples=n_samples, generator=gen(k))
    p = orthant_stability(1.0, k, sigma)
    se = math.sqrt(p * (1 - p) / n_samples)
    assert torch.all((est - p).abs() < 4.5 * se), (est, p, se)


def test_stability_per_point_sigma_and_batching():
    model = orthant_classifier(3, 1)
    x = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    sig = torch.tensor([0.1, 100.0])
    est = stability(model, x, sig, n_samples=4000, batch_size=333, generator=gen(2))
    assert est[0].item() == 1.0  # 10 standard deviations inside
    assert abs(est[1].item() - 0.5) < 0.05  # a huge Gaussian sees both sides equally


def test_persistence_agrees_with_closed_form_across_k_d_n_gamma():
    rows = orthant_monte_carlo(
        [1, 2, 5], [5, 100], [0.5, 2.0], [0.6, 0.8], n_points=12, n_samples=1500, generator=gen(3), progress=False
    )
    assert len(rows) == 3 * 2 * 2 * 2
    z_crit = norm.ppf(1 - 0.01 / (2 * len(rows)))
    worst = max(abs(r["z"]) for r in rows)
    assert worst < z_crit, rows


def test_persistence_is_batched_over_points():
    n_points, max_steps = 64, 25
    model = CountingModel(orthant_classifier(4, 2))
    x = torch.zeros(n_points, 4)
    x[:, :2] = torch.linspace(0.5, 3.0, n_points).unsqueeze(1)
    out = persistence(model, x, n_samples=500, max_steps=max_steps, generator=gen(4), batch_size=10**7)
    expected = torch.tensor([orthant_persistence(float(d), 2, 0.7) for d in x[:, 0]])
    assert torch.allclose(out, expected, rtol=0.15)
    # one prediction, two initial stabilities, a few range steps and the bisection: every pass covers all
    # active points at once, so the count does not grow with the number of points
    assert model.calls <= 1 + 2 + 2 * 10 + max_steps, model.calls


def test_persistence_is_reproducible_with_a_seed():
    model = orthant_classifier(3, 2)
    x = torch.zeros(10, 3)
    x[:, :2] = 1.0
    a = persistence(model, x, n_samples=300, generator=gen(5))
    b = persistence(model, x, n_samples=300, generator=gen(5))
    assert torch.equal(a, b)


def test_persistence_of_a_constant_classifier_is_infinite():
    class Constant(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 2)

    with pytest.warns(RuntimeWarning, match="inf"):
        out = persistence(Constant(), torch.zeros(3, 2), n_samples=50, max_range_steps=5, generator=gen(6))
    assert torch.all(torch.isinf(out))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"gamma": 1.5}, "gamma"),
        ({"n_samples": 0}, "n_samples"),
        ({"precision": -1.0}, "precision"),
        ({"max_steps": 2.5}, "max_steps"),
    ],
)
def test_persistence_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        persistence(orthant_classifier(2, 1), torch.zeros(1, 2), **kwargs)


def test_stability_rejects_bad_sigma():
    with pytest.raises(ValueError, match="sigma"):
        stability(orthant_classifier(2, 1), torch.zeros(2, 2), torch.tensor([1.0, -1.0]))


def test_widened_dithered_bracket_removes_the_end_wall_bias():
    # k=2, d=0.5, gamma=0.7: the persistence 0.5098 lies within Monte-Carlo noise of RANGEFINDER's
    # starting lower end 0.5, which Algorithm 1 as written cannot cross, so its estimate is pushed up.
    model = orthant_classifier(3, 2)
    x = torch.zeros(400, 3)
    x[:, :2] = 0.5
    closed = orthant_persistence(0.5, 2, 0.7)

    def z(**kw):
        est = persistence(model, x, n_samples=1000, generator=torch.Generator().manual_seed(1), **kw).double()
        return (est.mean().item() - closed) / (est.std().item() / 20)

    assert z(bracket_margin=1.0, dither=False) > 5.0
    assert abs(z()) < 3.5


@pytest.mark.parametrize("margin", [0.5, float("inf"), "2"])
def test_bad_bracket_margin_is_named(margin):
    with pytest.raises(ValueError, match="bracket_margin"):
        persistence(orthant_classifier(2, 1), torch.ones(1, 2), bracket_margin=margin)


def test_class_frequencies_match_the_half_space_formula():
    # class 1 is the half-space x_1 >= 0; from distance d the fraction in class 1 is Phi(d / sigma)
    model = orthant_classifier(4, 1)
    x = torch.tensor([0.5, 0.0, 0.0, 0.0])
    sigmas = [0.0, 0.25, 0.5, 1.0, 2.0]
    freq = class_frequencies(model, x, sigmas, n_samples=40000, generator=torch.Generator().manual_seed(0))
    assert freq.shape == (5, 2) and torch.allclose(freq.sum(1), torch.ones(5))
    expected = torch.tensor([1.0] + [norm.cdf(0.5 / s) for s in sigmas[1:]], dtype=freq.dtype)
    assert torch.allclose(freq[:, 1], expected, atol=4 * math.sqrt(0.25 / 40000))


def test_persistence_along_path_on_a_half_space():
    # a linear classifier's persistence at signed distance s from its boundary is |s| / Phi^-1(gamma)
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
        model.bias.zero_()
    start, end = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[-1.0, 0.0, 0.0]])
    with pytest.warns(RuntimeWarning, match="did not bracket 1 point"):  # the midpoint is on the boundary
        t, pers, cls = persistence_along_path(
            model, start, end, n_points=5, n_samples=4000, generator=torch.Generator().manual_seed(0)
        )
    distance = (1 - 2 * t).abs()
    closed = distance / norm.ppf(0.7)
    assert cls.tolist() == [1, 1, 0, 0, 0]  # at the midpoint the logits tie and argmax takes class 0
    assert pers[2] == 0.0
    keep = distance > 0
    assert torch.allclose(pers[keep], closed[keep].to(pers.dtype), rtol=0.06)


def _check_sampler_law(model: nn.Module, linear: nn.Linear, x: torch.Tensor) -> None:
    # W z with z ~ N(0, I_n) has covariance W W^T; the sampler draws u @ factor_t with u ~ N(0, I_m)
    pre, factor_t, rest = _first_layer_sampler(model, x)
    w = linear.weight.detach()
    assert torch.allclose(pre, linear(x.flatten(1)))
    u = torch.randn(400_000, w.shape[0], generator=gen(1))
    cov = torch.cov((u @ factor_t).T)
    assert torch.allclose(cov, w @ w.T, atol=0.02 * float((w @ w.T).abs().max()))
    assert torch.allclose(rest(pre), model(x))


def test_first_layer_sampler_draws_the_law_of_w_z():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3))
    _check_sampler_law(model, model[1], torch.rand(4, 3, 4))


def test_first_layer_sampler_handles_a_rank_deficient_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 3))
    with torch.no_grad():
        model[0].weight[2] = 2 * model[0].weight[0] - model[0].weight[1]
    _check_sampler_law(model, model[0], torch.rand(4, 6))


def test_first_layer_sampler_only_for_models_starting_with_a_narrowing_linear_layer():
    wide = nn.Sequential(nn.Flatten(), nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    assert _first_layer_sampler(wide, torch.rand(2, 3)) is None
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    assert _first_layer_sampler(conv, torch.rand(2, 1, 4, 4)) is None
    assert _first_layer_sampler(orthant_classifier(4, 2), torch.rand(2, 4)) is None


@pytest.mark.parametrize("sample_first_layer", [True, False])
def test_stability_of_a_linear_classifier_matches_the_half_space_formula(sample_first_layer):
    # for two classes, P[l_1(x + sigma z) > l_0(x + sigma z)] = Phi(((w_1 - w_0) . x + b_1 - b_0) / (sigma |w_1 - w_0|))
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
    x = torch.rand(6, 1, 28, 28)
    w = model[1].weight.detach()
    b = model[1].bias.detach()
    margin = (x.flatten(1) @ (w[1] - w[0]) + b[1] - b[0]).double()
    sigma = 0.5 * margin.abs() / float((w[1] - w[0]).norm())  # a stability of Phi(2) ~ 0.977 on either side
    sigma[::2] *= 3  # and Phi(2/3) ~ 0.75 for half of the points
    n = 40000
    got = stability(
        model,
        x,
        sigma.float(),
        n_samples=n,
        generator=gen(2),
        classes=torch.ones(6, dtype=torch.long),
        sample_first_layer=sample_first_layer,
    )
    expected = torch.tensor(norm.cdf((margin / (sigma * float((w[1] - w[0]).norm()))).numpy()))
    assert torch.allclose(got.double(), expected, atol=4 * math.sqrt(0.25 / n))


def test_first_layer_sampling_resolves_a_5_percent_noise_scale():
    # the half-space formula again, sampled after the first layer with enough samples that a noise scale
    # off by a few per cent (a stability off by about 0.01 here) is far outside the Monte-Carlo error
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
    x = torch.rand(4, 1, 28, 28)
    w, b = model[1].weight.detach().double(), model[1].bias.detach().double()
    dw = w[1] - w[0]
    margin = x.flatten(1).double() @ dw + b[1] - b[0]
    sigma = margin.abs() / float(dw.norm())  # distance to the boundary: a stability of Phi(1) ~ 0.84
    n = 400_000
    got = stability(
        model, x, sigma.float(), n_samples=n, generator=gen(7), classes=(margin > 0).long(), sample_first_layer=True
    ).double()
    expected = torch.tensor(norm.cdf((margin.abs() / (sigma * float(dw.norm()))).numpy()))
    se = torch.sqrt(expected * (1 - expected) / n)
    assert torch.all((got - expected).abs() < 4.5 * se), (got, expected, se)


def test_majority_falls_first_three_ways_by_hand():
    from nngeom.adversarial_neighborhoods.studies import majority_falls_first

    sig = np.array([0.1, 0.2, 0.3])
    adv = np.array([0.9, 0.2, 0.1])  # significantly below 1/2 from sigma 0.2 (Wilson upper 0.29 at n = 100)
    assert majority_falls_first(sig, np.array([0.9, 0.9, 0.9]), adv, 100, True, "x").holds is True
    assert majority_falls_first(sig, np.array([0.9, 0.1, 0.1]), adv, 100, True, "x").holds is False
    # natural share 1/2 at sigma 0.2: neither significantly above nor below it
    undecided = majority_falls_first(sig, np.array([0.9, 0.5, 0.5]), np.array([0.9, 0.2, 0.2]), 100, True, "x")
    assert undecided.holds is None and undecided.effect == pytest.approx(0.2)
    # the adversarial class keeps a significant majority up to the last sigma
    assert (
        majority_falls_first(sig, np.array([0.9, 0.9, 0.9]), np.array([0.9, 0.9, 0.9]), 100, True, "x").holds is False
    )
    assert majority_falls_first(sig, np.array([0.9, 0.9, 0.9]), adv, 100, False, "x").holds is None
