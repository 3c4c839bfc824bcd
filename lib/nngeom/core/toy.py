"""Synthetic two-dimensional data sets for looking at linear regions in the plane.

``two-spirals`` is the toy of Zhang & Wu's Appendix A (Figure 7): two interleaved spirals, one per class.
The paper shows the data but gives no formula, so the shape here is ours: radius proportional to the
angle, ``turns`` turns, the second arm the first rotated by pi, Gaussian jitter, scaled into [-1, 1]^2.
Points are drawn uniformly in arc angle, so the outer parts of the arms are as dense as the inner ones
per radian (sparser per unit length), as in the usual construction.
"""

from __future__ import annotations

import math

import torch

from nngeom.core.validation import check_choice, check_positive, check_positive_int

__all__ = ["TOY_DATASETS", "two_spirals", "two_gaussians", "toy_tensors"]

TOY_DATASETS = ("two-spirals",)
# independent draws for the two splits
_SPLIT_SEEDS = {"train": 0, "test": 1}


def two_spirals(
    n_per_class: int, turns: float = 1.5, noise: float = 0.02, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_per_class`` points on each of two interleaved spirals: ``(X [2n, 2] in [-1, 1], y [2n])``."""
    check_positive_int("n_per_class", n_per_class)
    check_positive("turns", turns)
    if noise != 0:
        check_positive("noise", noise)
    g = torch.Generator().manual_seed(seed)
    # start a quarter turn out, so the arms do not meet at the origin
    t = 0.25 + (turns - 0.25) * torch.rand(n_per_class, generator=g, dtype=torch.float64)
    angle = 2 * math.pi * t
    radius = t / turns
    arm = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    x = torch.cat([arm, -arm])  # the second arm: the first rotated by pi
    x = x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64)
    x = x.clamp(-1.0, 1.0)
    y = torch.cat([torch.zeros(n_per_class, dtype=torch.int64), torch.ones(n_per_class, dtype=torch.int64)])
    order = torch.randperm(2 * n_per_class, generator=g)
    return x[order].float(), y[order]


def two_gaussians(
    n_per_class: int,
    means: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 4.0), (4.0, 1.0)),
    variance: float = 1.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_per_class`` points from each of two isotropic Gaussians in the plane (Bell's Figure 20: means
    (1, 4) and (4, 1), variance 1): ``(X [2n, 2] float64, y [2n] in {0, 1})``, shuffled."""
    check_positive_int("n_per_class", n_per_class)
    variance = check_positive("variance", variance)
    g = torch.Generator().manual_seed(seed)
    mu = torch.tensor(means, dtype=torch.float64)
    if mu.shape != (2, 2):
        raise ValueError(f"parameter 'means' must be two points in the plane, got {means!r}")
    x = torch.cat(
        [mu[c] + math.sqrt(variance) * torch.randn(n_per_class, 2, generator=g, dtype=torch.float64) for c in (0, 1)]
    )
    y = torch.cat([torch.zeros(n_per_class, dtype=torch.int64), torch.ones(n_per_class, dtype=torch.int64)])
    order = torch.randperm(2 * n_per_class, generator=g)
    return x[order], y[order]


def toy_tensors(name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed train (2 x 2,000 points) or test (2 x 500) split of a toy data set."""
    check_choice("name", name, TOY_DATASETS)
    check_choice("split", split, _SPLIT_SEEDS)
    n = 2000 if split == "train" else 500
    return two_spirals(n, seed=_SPLIT_SEEDS[split])
