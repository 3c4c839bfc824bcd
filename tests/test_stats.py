"""The statistics that decide verdicts: hand-computed cases, and the sample sizes of every profile.

The default and paper profiles compare samples of 100 to 1,800 values (ANX-F10: 1,800 adversarial vs 1,800
natural persistences; LRG: 1,000 test points per net) and rates over up to 10,000 test images; smoke never
reaches those sizes, so each helper is run here at them (a Mann-Whitney helper once computed its smallest
possible p as 1 / C(n_a + n_b, n_a), which overflowed a float at about 500 values per sample and stopped the
default build; it is gone: ``compare_samples`` is undecided wherever the sizes cannot reach the level).
"""

import math

import numpy as np
import pytest
import torch

from nngeom.core import stats


@pytest.mark.parametrize("n", [10, 100, 500, 1000, 1800, 10_000])
def test_compare_samples_at_every_profiles_sample_size(n):
    g = np.random.default_rng(n)
    a, b = g.normal(0, 1, n), g.normal(0.5, 1, n)
    d = stats.compare_samples(a, b)
    assert 0 <= d.p <= 1 and math.isfinite(d.effect)
    if n >= 100:
        assert d.holds is True and stats.compare_samples(b, a).holds is False


def test_compare_samples_hand_case():
    a, b = [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]
    d = stats.compare_samples(a, b, "less")
    # every a below every b: the exact one-sided p is 1 / C(10, 5) = 1 / 252
    assert d.holds is True and d.p == pytest.approx(1 / 252)
    assert d.effect == -5.0  # median of the 25 differences a_i - b_j, which run -9 .. -1
    assert stats.compare_samples(a, b, "greater").holds is False
    assert stats.compare_samples(b, a, "less").holds is False
    # two against two can never reach 5 %: undecided, not "does not hold"
    assert stats.compare_samples([1, 2], [3, 4]).holds is None
    assert stats.compare_samples([], [1, 2]).holds is None
    with pytest.raises(ValueError, match="claim"):
        stats.compare_samples(a, b, "smaller")


@pytest.mark.parametrize("n", [100, 1000, 1800])
def test_compare_samples_three_ways_at_large_sizes(n):
    g = np.random.default_rng(1)
    a, b = g.normal(0, 1, n), g.normal(0.5, 1, n)
    assert stats.compare_samples(a, b).holds is True
    assert stats.compare_samples(b, a).holds is False
    # one sample against itself reshuffled: no shift, so a margin makes "a below b" fail
    same = stats.compare_samples(a, g.permutation(a), margin=0.5)
    assert same.holds is False and -0.5 < same.low <= same.effect <= same.high < 0.5
    assert stats.compare_samples(a, g.permutation(a)).holds is None  # without a margin: undecided
    # the Hodges-Lehmann interval contains the true shift
    d = stats.compare_samples(a, b)
    assert d.low < -0.5 + 0.25 and d.high > -0.5 - 0.25


def test_wilson_interval_hand_cases_and_large_n():
    assert stats.wilson_interval(0, 10) == (0.0, pytest.approx(1.959964**2 / (10 + 1.959964**2), rel=1e-6))
    low, high = stats.wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = stats.wilson_interval(500_000, 1_000_000)
    assert high - low == pytest.approx(2 * 1.959964 * 0.0005, rel=1e-3)
    assert stats.wilson_interval(10_000, 10_000)[1] == 1.0
    assert all(math.isnan(x) for x in stats.wilson_interval(0, 0))
    with pytest.raises(ValueError):
        stats.wilson_interval(3, 2)


def test_paired_difference_hand_case_and_large_n():
    d = stats.paired_difference(torch.tensor([1, 1, 0, 0]), torch.tensor([0, 0, 0, 0]))
    se = math.sqrt(1 / 3) / 2  # sample sd of (1, 1, 0, 0) is sqrt(1/3)
    assert d["difference"] == 0.5 and d["high"] - 0.5 == pytest.approx(1.959964 * se, rel=1e-5)
    g = torch.Generator().manual_seed(0)
    a = torch.rand(100_000, generator=g) < 0.03
    b = torch.rand(100_000, generator=g) < 0.03
    big = stats.paired_difference(a, b)
    assert big["low"] < 0 < big["high"] and big["high"] - big["low"] < 0.005
    narrow = stats.paired_difference(a, b, confidence=0.90)
    assert narrow["high"] - narrow["low"] < big["high"] - big["low"]


def test_interval_and_equivalence_decisions():
    assert stats.interval_below(-1, -2, -0.5, 0, "t").holds is True
    assert stats.interval_below(1, 0, 2, 0, "t").holds is False
    assert stats.interval_below(0, -1, 1, 0, "t").holds is None
    assert stats.interval_above(1, 0.5, 2, 0, "t").holds is True
    assert stats.interval_above(0, -1, 1, 0, "t").holds is None
    assert stats.equivalent(0.01, -0.05, 0.07, 0.1, "t").holds is True
    assert stats.equivalent(0.5, 0.2, 0.8, 0.1, "t").holds is False
    assert stats.equivalent(0.05, -0.05, 0.15, 0.1, "t").holds is None  # too wide to tell
    with pytest.raises(ValueError, match="margin"):
        stats.equivalent(0, -1, 1, 0, "t")


def test_rates_against_a_threshold():
    assert stats.rate_at_least(95, 100, 0.8).holds is True
    assert stats.rate_at_least(50, 100, 0.8).holds is False
    assert stats.rate_at_least(4, 5, 0.8).holds is None  # 5 cases cannot tell 80 % from 50 %
    assert stats.rate_below(1, 1000, 0.01).holds is True
    assert stats.rate_below(3, 10, 0.01).holds is False
    assert stats.rate_at_least(0, 0, 0.5).holds is None


def test_combining_decisions():
    t, f, u = (stats.exact(True, "t"), stats.exact(False, "f"), stats.Decision(None, "u"))
    assert stats.all_of([t, t]).holds is True and stats.all_of([t, u]).holds is None
    assert stats.all_of([u, f]).holds is False and stats.all_of([]).holds is None
    assert stats.any_of([f, t]).holds is True and stats.any_of([f, u]).holds is None
    assert stats.any_of([f, f]).holds is False
    five = [t, t, t, u, f]
    assert stats.fraction_of(five, 0.6).holds is True  # 3 of 5 hold already
    assert stats.fraction_of(five, 0.8).holds is None  # 4 needed: the undecided one could make it
    assert stats.fraction_of(five, 1.0).holds is False
    with pytest.raises(TypeError):
        stats.exact(1, "t")
    assert "p = " in stats.compare_samples([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).summary()


def test_ks_distance_at_large_sizes():
    g = np.random.default_rng(2)
    a, b = g.normal(0, 1, 100_000), g.normal(1, 1, 100_000)
    assert stats.ks_distance(a, b) == pytest.approx(0.3829, abs=0.01)  # 2 Phi(1/2) - 1
    assert math.isnan(stats.ks_distance([], b))


def test_non_inferiority():
    assert stats.non_inferior(-0.001, -0.004, 0.002, 0.004, "t").holds is True  # within the margin
    assert stats.non_inferior(0.003, 0.001, 0.005, 0.004, "t").holds is False  # significantly worse
    assert stats.non_inferior(0.002, -0.001, 0.006, 0.004, "t").holds is None
    with pytest.raises(ValueError, match="margin"):
        stats.non_inferior(0, -1, 1, -0.1, "t")


def test_run_difference_hand_case():
    # recipe a: runs err on 1/4 and 2/4 items; recipe b: on 0/4 and 1/4 -> difference 0.375 - 0.125
    a = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0]], dtype=torch.bool)
    b = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    d = stats.run_difference(a, b)
    assert d["difference"] == pytest.approx(0.25)
    assert d["sd_a"] == pytest.approx(math.sqrt(0.03125)) and d["sd_b"] == pytest.approx(math.sqrt(0.03125))
    # between-run parts 0.03125 / 2 each; per-item differences (0.5, 0.5, 0, 0): variance 1/12, over 4 items
    var = 0.015625 + 0.015625 + 1 / 48
    df = var**2 / (0.015625**2 + 0.015625**2 + (1 / 48) ** 2 / 3)
    assert d["df"] == pytest.approx(df) and d["df"] == pytest.approx(30 / 7)
    from scipy.stats import t

    half = t.ppf(0.975, df) * math.sqrt(var)
    assert (d["low"], d["high"]) == (pytest.approx(0.25 - half), pytest.approx(0.25 + half))


def test_run_difference_one_run_is_undecided_and_many_runs_decide():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 10_000, generator=g) < 0.05
    b = torch.rand(3, 10_000, generator=g) < 0.03
    d = stats.run_difference(a, b)
    assert d["low"] == -math.inf and d["high"] == math.inf and math.isnan(d["sd_a"])
    dec = stats.interval_below(d["difference"], d["low"], d["high"], 0.0, test="t")
    assert dec.holds is None
    # five runs per recipe, error rates 3 % vs 5 % on 10,000 items: the gap is far beyond the noise
    a = torch.rand(5, 10_000, generator=g) < 0.03
    b = torch.rand(5, 10_000, generator=g) < 0.05
    d = stats.run_difference(a, b)
    assert d["high"] < 0 and d["low"] > -0.04
    assert stats.interval_below(d["difference"], d["low"], d["high"], 0.0, test="t").holds is True
    assert stats.interval_below(-d["difference"], -d["high"], -d["low"], 0.0, test="t").holds is False
    # identical runs: the difference is exact
    same = torch.zeros(2, 5, dtype=torch.bool)
    d = stats.run_difference(same, same)
    assert (d["low"], d["high"]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="runs, n"):
        stats.run_difference(torch.zeros(2, 5), torch.zeros(2, 6))


def test_trend_along_three_ways_by_hand():
    falling = torch.tensor([[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]])
    t = stats.trend_along(falling, "falls", 0.1)
    assert t.ends.holds is True and [d.holds for d in t.segments] == [True, True] and t.counts() == (2, 0, 0)
    assert t.tolerance == pytest.approx(0.1)
    # a segment rising by 0.5, beyond 10 % of the total fall of 1: that segment fails
    bumpy = torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.5, 0.5], [0.0, 0.0]])
    t = stats.trend_along(bumpy, "falls", 0.1)
    assert [d.holds for d in t.segments] == [True, False, True] and t.worst.effect == pytest.approx(0.5)
    # noisy per-item changes: a small rise whose interval spans the tolerance is undecided
    noisy = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.2, 0.0, 0.2]])
    t = stats.trend_along(noisy, "falls", 0.1)
    assert t.segments[1].holds is None
    assert stats.trend_along(falling.flip(0), "rises", 0.1).ends.holds is True
    with pytest.raises(ValueError, match="'direction'"):
        stats.trend_along(falling, "up", 0.1)


def test_run_mean_difference_matches_welchs_t_test():
    from scipy.stats import ttest_ind

    from nngeom.core.stats import run_mean_difference

    a, b = [74.1, 75.0, 74.6], [73.0, 73.9, 72.5, 73.4]
    d = run_mean_difference(a, b)
    assert d["difference"] == pytest.approx(sum(a) / 3 - sum(b) / 4)
    # the interval excludes 0 exactly when Welch's two-sided test rejects at 5 %
    p = ttest_ind(a, b, equal_var=False).pvalue
    assert (d["low"] > 0) == (p < 0.05) and d["low"] > 0
    # its half-width is the test's: the t statistic over the interval's half-width in units of the se
    assert (d["high"] - d["low"]) / 2 == pytest.approx(
        float(__import__("scipy").stats.t.ppf(0.975, d["df"]))
        * d["difference"]
        / ttest_ind(a, b, equal_var=False).statistic
    )
    one = run_mean_difference([1.0], b)
    assert one["low"] == -math.inf and one["high"] == math.inf
    same = run_mean_difference([2.0, 2.0], [1.0, 1.0])
    assert same["low"] == same["high"] == 1.0
    with pytest.raises(ValueError, match="at least one value"):
        run_mean_difference([], b)
