"""Confidence intervals and tests for the numbers the pages report (error rates, attack success, transfer rates,
comparisons of two samples)."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from scipy.stats import norm
from torch import Tensor

__all__ = ["wilson_interval", "rate", "paired_difference", "smaller", "verdict", "ks_distance"]


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


def smaller(a, b) -> dict[str, float]:
    """Is sample ``a`` typically smaller than sample ``b``? Medians and the one-sided Mann-Whitney U test.

    Returns ``{"median_a", "median_b", "p", "p_min"}``; ``p`` is the probability, were the two drawn
    from one distribution, of a U statistic at least this far towards "a smaller" (NaN if either is
    empty). ``p_min`` is the smallest ``p`` these sample sizes allow (every ``a`` below every ``b``:
    ``1 / C(n_a + n_b, n_a)``); where it is not below the test level, the test cannot say "smaller"
    whatever the numbers, and a verdict should be left undecided rather than read as "no".
    """
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return {"median_a": float("nan"), "median_b": float("nan"), "p": float("nan"), "p_min": float("nan")}
    p = float(mannwhitneyu(a, b, alternative="less").pvalue)
    return {"median_a": float(np.median(a)), "median_b": float(np.median(b)), "p": p,
            "p_min": 1.0 / math.comb(len(a) + len(b), len(a))}


def verdict(*tests: dict, alpha: float = 0.05) -> Optional[bool]:
    """Results of :func:`smaller` that must all be significant, as a verdict: True if every ``p < alpha``,
    False if some test could reach ``alpha`` and did not, None (undecided) where a test's sample sizes
    cannot reach ``alpha`` at all and no other test already says no."""
    outcome = [None if not t["p_min"] < alpha else bool(t["p"] < alpha) for t in tests]
    return False if False in outcome else (None if None in outcome else True)


def ks_distance(a, b) -> float:
    """The Kolmogorov-Smirnov distance between two samples: the largest gap between their CDFs (NaN if
    either is empty)."""
    from scipy.stats import ks_2samp

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(ks_2samp(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)).statistic)
