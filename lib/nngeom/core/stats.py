"""Confidence intervals and tests for the numbers the pages report (error rates, attack success, transfer rates,
comparisons of two samples), and the three-valued decisions that turn them into verdicts.

A :class:`Decision` is what a page hands to :meth:`nngeom.book.report.Metrics.claim`: ``holds`` is True (the
claim holds in our numbers), False (our numbers contradict it) or None (undecided: the sample cannot tell),
with the test that decided it, the effect size and its interval. Every decision function here can come out
each of the three ways; "no difference" claims use an equivalence test with a stated margin
(:func:`equivalent`, TOST), never a failed significance test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import norm
from scipy.stats import t as student_t
from torch import Tensor

__all__ = [
    "wilson_interval",
    "wilson_bounds",
    "rate",
    "paired_difference",
    "welch_difference",
    "mean_interval",
    "Trend",
    "trend_along",
    "run_difference",
    "run_mean_difference",
    "ks_distance",
    "Decision",
    "exact",
    "compare_samples",
    "interval_below",
    "interval_above",
    "equivalent",
    "non_inferior",
    "rate_at_least",
    "rate_below",
    "all_of",
    "any_of",
    "fraction_of",
]


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"parameter 'confidence' must lie in (0, 1), got {confidence!r}")
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n``; ``(nan, nan)`` when ``n == 0``.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or n successes,
    which matters for error rates near 0 % and attack success rates near 100 %.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return math.nan, math.nan
    z = _z(confidence)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at k = 0 or k = n one end is exactly 0 or 1; rounding would leave a 1e-17 there
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def wilson_bounds(shares, n: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson bounds of every share in ``shares`` (each a share of ``n`` samples): ``(low, high)`` arrays."""
    b = np.array([wilson_interval(int(round(float(f) * n)), n, confidence) for f in np.asarray(shares).reshape(-1)])
    return b[:, 0], b[:, 1]


def rate(events: Tensor, confidence: float = 0.95) -> dict[str, float]:
    """``{'rate', 'low', 'high', 'n'}`` for a boolean tensor of outcomes (Wilson interval)."""
    events = events.reshape(-1).bool()
    k, n = int(events.sum()), int(events.numel())
    low, high = wilson_interval(k, n, confidence)
    return {"rate": k / n if n else math.nan, "low": low, "high": high, "n": n}


def paired_difference(a: Tensor, b: Tensor, confidence: float = 0.95) -> dict[str, float]:
    """Difference of two rates measured on the same items, ``mean(a) - mean(b)``, with its interval.

    ``a`` and ``b`` are boolean outcomes per item (e.g. "model A errs on test image i"). The interval
    uses the variance of the per-item differences, so items on which both agree do not add noise
    (the normal approximation behind McNemar's test).
    """
    a, b = a.reshape(-1).double(), b.reshape(-1).double()
    if a.shape != b.shape or a.numel() == 0:
        raise ValueError(f"a and b must be non-empty and of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    d = a - b
    n = d.numel()
    mean = float(d.mean())
    se = float(d.std(unbiased=True)) / math.sqrt(n) if n > 1 else math.inf
    half = _z(confidence) * se
    return {"difference": mean, "low": mean - half, "high": mean + half, "n": n}


def mean_interval(values, confidence: float = 0.95) -> dict[str, float]:
    """The mean of ``values`` with its normal-approximation interval (``z * sd / sqrt(n)``): ``mean``,
    ``low``, ``high``, ``n``. NaN for no values; the interval is NaN for a single value."""
    v = torch.as_tensor(values).double().reshape(-1)
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    half = _z(confidence) * float(v.std(unbiased=True)) / n**0.5 if n > 1 else math.nan
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def welch_difference(a: Tensor, b: Tensor, confidence: float = 0.95) -> dict[str, float]:
    """Difference of the means of two independent samples, ``mean(a) - mean(b)``, with the interval of the
    normal approximation under unequal variances (Welch's standard error, normal quantile: for samples of
    a hundred values or more, as the units and random directions of a layer).

    Returns ``difference``, ``low``, ``high``, ``n_a`` and ``n_b``.
    """
    a, b = torch.as_tensor(a).double().reshape(-1), torch.as_tensor(b).double().reshape(-1)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a and b need at least 2 values each, got {len(a)} and {len(b)}")
    diff = float(a.mean() - b.mean())
    se = math.sqrt(float(a.var(unbiased=True)) / len(a) + float(b.var(unbiased=True)) / len(b))
    half = _z(confidence) * se
    return {"difference": diff, "low": diff - half, "high": diff + half, "n_a": len(a), "n_b": len(b)}


def run_difference(a: Tensor, b: Tensor, confidence: float = 0.95) -> dict[str, float]:
    """Difference of two training recipes' error rates, ``mean(a) - mean(b)``, over several training runs each.

    ``a`` is ``(runs_a, n)`` and ``b`` is ``(runs_b, n)``: boolean outcomes per training run and test item
    (all runs evaluated on the same ``n`` items). A recipe comparison has two sources of noise: the
    training run (seed, and the CPU's arithmetic, which moves a trained model from machine to machine) and
    the finite test set. The standard error adds the between-run variance of each recipe's rates (over
    its runs) to the paired test-set variance of the run-averaged per-item differences, as in
    :func:`paired_difference`; the interval uses Student's t with Welch-Satterthwaite degrees of freedom,
    so two or three runs give a wide interval. With a single run of either recipe the training noise is
    not measured at all and the interval is unbounded (every verdict read from it is undecided).

    Returns ``difference``, ``low``, ``high``, ``runs_a``, ``runs_b``, ``n``, ``df`` and the per-run rates'
    standard deviations ``sd_a`` and ``sd_b`` (NaN for one run).

    Example:
        >>> d = run_difference(errors_pool, errors_decay)   # (3, 10000) each
        >>> interval_below(d["difference"], d["low"], d["high"], 0.0, test="...")
    """
    if not 0 < confidence < 1:
        raise ValueError(f"parameter 'confidence' must be in (0, 1), got {confidence!r}")
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1] or a.shape[1] == 0 or 0 in (a.shape[0], b.shape[0]):
        raise ValueError(
            f"a and b must be (runs, n) with n > 0 and one n for both, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a, b = a.double(), b.double()
    runs_a, runs_b, n = a.shape[0], b.shape[0], a.shape[1]
    rates_a, rates_b = a.mean(dim=1), b.mean(dim=1)
    diff = float(rates_a.mean() - rates_b.mean())
    out = {
        "difference": diff,
        "runs_a": runs_a,
        "runs_b": runs_b,
        "n": n,
        "sd_a": float(rates_a.std(unbiased=True)) if runs_a > 1 else math.nan,
        "sd_b": float(rates_b.std(unbiased=True)) if runs_b > 1 else math.nan,
    }
    if runs_a < 2 or runs_b < 2:
        return {**out, "low": -math.inf, "high": math.inf, "df": 0.0}
    per_item = a.mean(dim=0) - b.mean(dim=0)
    parts = [
        (out["sd_a"] ** 2 / runs_a, runs_a - 1),
        (out["sd_b"] ** 2 / runs_b, runs_b - 1),
        (float(per_item.var(unbiased=True)) / n if n > 1 else 0.0, max(n - 1, 1)),
    ]
    var = sum(v for v, _ in parts)
    if var == 0.0:  # every run of both recipes makes the same errors: the difference is exact
        return {**out, "low": diff, "high": diff, "df": math.inf}
    df = var**2 / sum(v**2 / k for v, k in parts)
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * math.sqrt(var)
    return {**out, "low": diff - half, "high": diff + half, "df": df}


def run_mean_difference(a, b, confidence: float = 0.95) -> dict[str, float]:
    """Difference of the means of two small samples of per-run values (one number per training run: an
    accuracy, a mean confidence), ``mean(a) - mean(b)``, with Welch's interval: Student's t with
    Welch-Satterthwaite degrees of freedom, so three runs a side give a wide interval. With fewer than two
    values on a side the spread is not measured and the interval is unbounded.

    Returns ``difference``, ``low``, ``high``, ``df``, ``n_a`` and ``n_b``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"parameter 'confidence' must be in (0, 1), got {confidence!r}")
    # float64 from the start: a list of Python floats would otherwise pass through float32
    a = torch.as_tensor(a, dtype=torch.float64).reshape(-1)
    b = torch.as_tensor(b, dtype=torch.float64).reshape(-1)
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"a and b need at least one value each, got {len(a)} and {len(b)}")
    diff = float(a.mean() - b.mean())
    out = {"difference": diff, "n_a": len(a), "n_b": len(b)}
    if len(a) < 2 or len(b) < 2:
        return {**out, "low": -math.inf, "high": math.inf, "df": 0.0}
    va, vb = float(a.var(unbiased=True)) / len(a), float(b.var(unbiased=True)) / len(b)
    if va + vb == 0.0:  # every run gave the same value: the difference is exact
        return {**out, "low": diff, "high": diff, "df": math.inf}
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * math.sqrt(va + vb)
    return {**out, "low": diff - half, "high": diff + half, "df": df}


def ks_distance(a, b) -> float:
    """The Kolmogorov-Smirnov distance between two samples: the largest gap between their CDFs (NaN if
    either is empty)."""
    from scipy.stats import ks_2samp

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(ks_2samp(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)).statistic)


# --- three-valued decisions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A claim decided from the numbers: ``holds`` is True, False, or None (undecided).

    ``test`` names the test and its level, ``effect`` the estimate it was read from (with ``low``,
    ``high`` its interval where there is one, NaN otherwise), ``p`` the p-value where the test has one,
    and ``criterion`` the rule that turns them into the verdict, in words.
    """

    holds: bool | None
    test: str
    effect: float = math.nan
    low: float = math.nan
    high: float = math.nan
    p: float = math.nan
    criterion: str = ""

    @property
    def outcome(self) -> str:
        return {True: "holds", False: "does not hold", None: "undecided"}[self.holds]

    def summary(self) -> str:
        """``effect [low, high], p = ..; test`` in one line, for a page's evidence column."""
        parts = []
        if math.isfinite(self.effect):
            parts.append(f"effect {self.effect:.4g}")
        if math.isfinite(self.low) or math.isfinite(self.high):
            parts.append(f"interval [{self.low:.4g}, {self.high:.4g}]")
        if math.isfinite(self.p):
            parts.append(f"p = {self.p:.3g}")
        parts.append(self.test)
        return "; ".join(parts)


def exact(holds: bool, test: str, effect: float = math.nan, criterion: str = "") -> Decision:
    """A deterministic check (a computed error against a tolerance, a count against a bound): no sampling
    error to weigh, so it either holds or it does not."""
    if not isinstance(holds, (bool, np.bool_)):
        raise TypeError(f"holds must be a bool computed from the numbers, got {type(holds).__name__}")
    return Decision(bool(holds), test, effect=float(effect), criterion=criterion)


def _hodges_lehmann(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Median of the pairwise differences ``a_i - b_j`` and its distribution-free interval (from the
    normal approximation to the Mann-Whitney statistic)."""
    d = np.sort((a[:, None] - b[None, :]).ravel())
    m, n = len(a), len(b)
    z = _z(confidence)
    k = int(math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12)))
    if k < 0:
        return float(np.median(d)), -math.inf, math.inf
    return float(np.median(d)), float(d[k]), float(d[len(d) - 1 - k])


def compare_samples(a, b, claim: str = "less", alpha: float = 0.05, margin: float | None = None) -> Decision:
    """Does sample ``a`` tend to lie below (``claim="less"``) or above (``"greater"``) sample ``b``?

    One-sided Mann-Whitney U tests both ways at level ``alpha``: the claim holds if the test in its
    direction is significant, does not hold if the test in the opposite direction is, and is undecided
    otherwise (in particular where the sample sizes cannot reach ``alpha`` at all). With ``margin`` a
    sample that shows no shift — the Hodges-Lehmann shift's interval inside ``(-margin, margin)`` — also
    counts against the claim. The effect is the Hodges-Lehmann shift ``a - b`` with its interval.
    """
    from scipy.stats import mannwhitneyu

    if claim not in ("less", "greater"):
        raise ValueError(f"parameter 'claim' must be 'less' or 'greater', got {claim!r}")
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    test = f"one-sided Mann-Whitney U both ways, alpha {alpha:g} (n = {len(a)} vs {len(b)})"
    if len(a) == 0 or len(b) == 0:
        return Decision(None, test, criterion="an empty sample decides nothing")
    other = "greater" if claim == "less" else "less"
    p_claim = float(mannwhitneyu(a, b, alternative=claim).pvalue)
    p_other = float(mannwhitneyu(a, b, alternative=other).pvalue)
    shift, low, high = (
        _hodges_lehmann(a, b, 1 - 2 * alpha)
        if len(a) * len(b) <= 4_000_000
        else (float(np.median(a) - np.median(b)), math.nan, math.nan)
    )
    word = "below" if claim == "less" else "above"
    criterion = f"holds if a lies significantly {word} b, does not hold if significantly on the other side"
    if p_claim < alpha:
        holds: bool | None = True
    elif p_other < alpha:
        holds = False
    elif margin is not None and -margin < low and high < margin:
        holds = False
    else:
        holds = None
    if margin is not None:
        criterion += f" or if the shift's {100 * (1 - 2 * alpha):g} % interval lies inside +-{margin:g}"
    return Decision(holds, test, effect=shift, low=low, high=high, p=p_claim, criterion=criterion)


def interval_below(estimate: float, low: float, high: float, threshold: float, test: str) -> Decision:
    """Claim "the quantity is below ``threshold``" read from an interval: holds if the whole interval is
    below it, does not hold if the whole interval is at or above it, undecided if it straddles."""
    holds = True if high < threshold else (False if low >= threshold else None)
    return Decision(
        holds,
        test,
        effect=float(estimate),
        low=float(low),
        high=float(high),
        criterion=f"holds if the interval lies below {threshold:g}, fails if it lies at or above it",
    )


def interval_above(estimate: float, low: float, high: float, threshold: float, test: str) -> Decision:
    """Claim "the quantity is above ``threshold``": the mirror of :func:`interval_below`."""
    holds = True if low > threshold else (False if high <= threshold else None)
    return Decision(
        holds,
        test,
        effect=float(estimate),
        low=float(low),
        high=float(high),
        criterion=f"holds if the interval lies above {threshold:g}, fails if it lies at or below it",
    )


def equivalent(estimate: float, low: float, high: float, margin: float, test: str) -> Decision:
    """Claim "no difference (within ``margin``)", by two one-sided tests (TOST).

    ``low, high`` must be a ``1 - 2 alpha`` interval (a 90 % interval for TOST at 5 %). Holds if the
    interval lies inside ``(-margin, margin)``, does not hold if it lies wholly outside it (the
    difference is larger than the margin), undecided otherwise — in particular when the sample is
    too small to rule out either.
    """
    if not margin > 0:
        raise ValueError(f"parameter 'margin' must be > 0, got {margin!r}")
    if -margin < low and high < margin:
        holds: bool | None = True
    elif low >= margin or high <= -margin:
        holds = False
    else:
        holds = None
    return Decision(
        holds,
        f"equivalence (TOST), margin +-{margin:g}; {test}",
        effect=float(estimate),
        low=float(low),
        high=float(high),
        criterion=f"holds if the interval lies inside +-{margin:g}, fails if it lies outside",
    )


def non_inferior(estimate: float, low: float, high: float, margin: float, test: str) -> Decision:
    """Claim "A is at least as good as B" for a difference ``A - B`` where lower is better (an error
    rate), read from its interval with a non-inferiority ``margin``.

    Fails if the interval lies wholly above 0 (A is significantly worse); holds if its upper end is
    below ``margin`` (A is not worse by as much as the margin); undecided otherwise. Use it where the
    paper's own gap is too small for the sample to resolve, so that a faithful reproduction passes.
    """
    if not margin > 0:
        raise ValueError(f"parameter 'margin' must be > 0, got {margin!r}")
    holds = False if low > 0 else (True if high < margin else None)
    return Decision(
        holds,
        f"non-inferiority, margin {margin:g}; {test}",
        effect=float(estimate),
        low=float(low),
        high=float(high),
        criterion=f"holds if the interval's upper end is below {margin:g}, fails if "
        "the whole interval lies above 0, undecided otherwise",
    )


def rate_at_least(k: int, n: int, threshold: float, confidence: float = 0.95) -> Decision:
    """Claim "the rate ``k / n`` is at least ``threshold``": Wilson interval wholly at or above (holds),
    wholly below (does not hold), or straddling (undecided)."""
    low, high = wilson_interval(k, n, confidence)
    test = f"Wilson {100 * confidence:g} % interval of {k}/{n}"
    holds = None if n == 0 else (True if low >= threshold else (False if high < threshold else None))
    return Decision(
        holds,
        test,
        effect=k / n if n else math.nan,
        low=low,
        high=high,
        criterion=f"holds if the interval lies at or above {threshold:g}, fails if below",
    )


def rate_below(k: int, n: int, threshold: float, confidence: float = 0.95) -> Decision:
    """Claim "the rate ``k / n`` is below ``threshold``": the mirror of :func:`rate_at_least`."""
    low, high = wilson_interval(k, n, confidence)
    test = f"Wilson {100 * confidence:g} % interval of {k}/{n}"
    holds = None if n == 0 else (True if high < threshold else (False if low >= threshold else None))
    return Decision(
        holds,
        test,
        effect=k / n if n else math.nan,
        low=low,
        high=high,
        criterion=f"holds if the interval lies below {threshold:g}, fails if at or above",
    )


def fraction_of(decisions: Sequence[Decision], at_least: float, name: str = "cases") -> Decision:
    """Claim "it holds in at least a share ``at_least`` of the cases": holds if enough cases hold even
    were every undecided one to fail, fails if too few could hold even were every undecided one to
    hold, undecided in between."""
    n = len(decisions)
    yes = sum(d.holds is True for d in decisions)
    maybe = sum(d.holds is None for d in decisions)
    need = math.ceil(at_least * n - 1e-12)
    holds = True if yes >= need else (False if yes + maybe < need else None)
    return Decision(
        holds,
        f"{yes} of {n} {name} hold, {maybe} undecided; need {need}",
        effect=yes / n if n else math.nan,
        criterion=f"holds if at least {100 * at_least:g} % of the {name} hold",
    )


def all_of(decisions: Iterable[Decision], name: str = "cases") -> Decision:
    """All must hold: False if any fails, None if any is undecided (and none fails), else True."""
    ds = list(decisions)
    outcome = [d.holds for d in ds]
    holds = False if False in outcome else (None if None in outcome or not ds else True)
    return Decision(
        holds,
        f"all {len(ds)} {name}: " + "; ".join(d.outcome for d in ds),
        criterion=f"holds if every one of the {name} holds",
    )


def any_of(decisions: Iterable[Decision], name: str = "cases") -> Decision:
    """At least one must hold: True if any holds, None if any is undecided (and none holds), else False."""
    ds = list(decisions)
    outcome = [d.holds for d in ds]
    holds = True if True in outcome else (None if None in outcome or not ds else False)
    return Decision(
        holds,
        f"any of {len(ds)} {name}: " + "; ".join(d.outcome for d in ds),
        criterion=f"holds if at least one of the {name} holds",
    )


@dataclass
class Trend:
    """The decisions of :func:`trend_along` for one curve: end to end, and one per segment."""

    direction: str  # "falls" or "rises"
    ends: Decision
    segments: list[Decision]
    tolerance: float  # the change against the trend that a segment may show (in the values' units)

    def counts(self) -> tuple[int, int, int]:
        """How many segments hold, are undecided and fail."""
        return tuple(sum(d.holds is v for d in self.segments) for v in (True, None, False))  # type: ignore[return-value]

    @property
    def worst(self) -> Decision:
        """The segment that goes furthest against the trend (by the interval's far end)."""
        if self.direction == "falls":
            return max(self.segments, key=lambda d: d.high)
        return min(self.segments, key=lambda d: d.low)


def trend_along(values: Tensor, direction: str, tolerance_share: float, confidence: float = 0.95) -> Trend:
    """Does a per-item quantity fall (or rise) along a path, end to end and on every segment?

    ``values`` is ``[T, n]``: the quantity (a loss, a 0/1 correctness) of each of ``n`` items at each of ``T``
    points of the path. End to end, the paired interval of ``values[-1] - values[0]`` must lie below 0
    (``direction="falls"``) or above 0 (``"rises"``). On each of the ``T - 1`` segments, the paired interval
    of the change, Bonferroni-corrected over the segments, must lie below ``tolerance`` (falls) or above
    ``-tolerance`` (rises), where ``tolerance = tolerance_share * |end-to-end change|``: a segment may go
    against the trend by less than that share of the total, and fails if it goes against it significantly
    by at least that much.
    """
    if direction not in ("falls", "rises"):
        raise ValueError(f"parameter 'direction' must be 'falls' or 'rises', got {direction!r}")
    if values.dim() != 2 or values.shape[0] < 2:
        raise ValueError(f"parameter 'values' must be [T, n] with T >= 2, got shape {tuple(values.shape)}")
    if not tolerance_share >= 0:
        raise ValueError(f"parameter 'tolerance_share' must be >= 0, got {tolerance_share!r}")
    decide = interval_below if direction == "falls" else interval_above
    total = paired_difference(values[-1], values[0], confidence)
    ends = decide(total["difference"], total["low"], total["high"], 0.0, f"end minus start, paired {confidence:.0%}")
    tol = tolerance_share * abs(total["difference"])
    joint = 1 - (1 - confidence) / (values.shape[0] - 1)
    segments = []
    for i in range(values.shape[0] - 1):
        d = paired_difference(values[i + 1], values[i], confidence=joint)
        threshold = tol if direction == "falls" else -tol  # a change against the trend of at least tol fails
        segments.append(decide(d["difference"], d["low"], d["high"], threshold, f"segment {i}"))
    return Trend(direction, ends, segments, tol)
