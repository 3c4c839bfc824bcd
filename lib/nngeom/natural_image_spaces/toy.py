"""The one-dimensional toy of Fan & Yezzi's Figure 1: the step ``f(x) = sign(x - 0.5)`` learned by a small
network from two training sets that the same function labels.

The paper's point is that a loss such as the mean squared error is a discretised functional: its value,
and so its minimiser, depends on where the training points lie, not only on the target. One set fills
``[0.4, 0.6]`` around the step, the other fills the two ends ``[0, 0.1)`` and ``(0.9, 1)``; between the
ends nothing constrains the second network, and outside ``[0.4, 0.6]`` nothing constrains the first.
The paper gives the intervals and counts only; uniform draws within each interval, the network, the loss
(mean squared error, the paper's discretisation of ``L(f)``) and the optimiser are this module's reading.

Example:
    >>> x, y = step_samples(CENTER_SET, seed=0)
    >>> net = fit_step_curve(x, y, hidden=(16,), epochs=1, seed=0, progress=False)
    >>> curve = learned_curve(net, torch.linspace(0, 1, 5))  # [5]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from tqdm import tqdm

from nngeom.core.models import mlp
from nngeom.core.validation import check_positive, check_positive_int

__all__ = ["CENTER_SET", "ENDS_SET", "STEP_AT", "curve_gap", "fit_step_curve", "learned_curve", "step_samples"]

STEP_AT = 0.5  # the target is sign(x - STEP_AT)
#: Figure 1's blue set: 40,000 points in [0.4, 0.6] ``(low, high, count)``.
CENTER_SET: tuple[tuple[float, float, int], ...] = ((0.4, 0.6, 40_000),)
#: Figure 1's orange set: 20,000 points in [0, 0.1) and 20,000 in (0.9, 1).
ENDS_SET: tuple[tuple[float, float, int], ...] = ((0.0, 0.1, 20_000), (0.9, 1.0, 20_000))


def step_samples(
    intervals: Sequence[tuple[float, float, int]], seed: int = 0, scale: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Points drawn uniformly in each ``(low, high, count)`` interval, labelled by ``sign(x - 0.5)``.

    ``scale`` multiplies every count (rounded, at least one point each): a smaller run of the same
    design. Returns ``(x [N, 1], y [N, 1])`` in float32, shuffled.
    """
    check_positive("scale", scale)
    if not intervals:
        raise ValueError("parameter 'intervals' must name at least one (low, high, count) interval")
    g = torch.Generator().manual_seed(seed)
    parts = []
    for low, high, count in intervals:
        if not (0.0 <= low < high <= 1.0):
            raise ValueError(f"parameter 'intervals': each needs 0 <= low < high <= 1, got ({low}, {high})")
        check_positive_int("count", count)
        n = max(1, round(count * scale))
        parts.append(low + (high - low) * torch.rand(n, 1, generator=g, dtype=torch.float64))
    x = torch.cat(parts)[torch.randperm(sum(len(p) for p in parts), generator=g)]
    return x.float(), torch.sign(x - STEP_AT).float()


def fit_step_curve(
    x: Tensor,
    y: Tensor,
    *,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> nn.Sequential:
    """A ReLU network ``1 -> hidden -> 1`` fitted to ``(x [N, 1], y [N, 1])`` by Adam on the mean squared
    error, mini-batches drawn by a seeded permutation each epoch; ``seed`` also draws the initial weights.
    Returned in eval mode, on the CPU."""
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive("lr", lr)
    if x.ndim != 2 or x.shape[1] != 1 or y.shape != x.shape:
        raise ValueError(f"parameters 'x' and 'y' must both be [N, 1], got {tuple(x.shape)} and {tuple(y.shape)}")
    torch.manual_seed(seed)
    net = mlp(1, list(hidden), 1)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in tqdm(range(epochs), desc="fitting the step", disable=not progress, leave=False):
        for idx in torch.randperm(len(x), generator=g).split(batch_size):
            opt.zero_grad(set_to_none=True)
            nn.functional.mse_loss(net(x[idx]), y[idx]).backward()
            opt.step()
    return net.eval()


def learned_curve(net: nn.Module, grid: Tensor) -> Tensor:
    """The network's output at each point of ``grid [G]``: ``[G]``."""
    with torch.no_grad():
        return net(torch.as_tensor(grid, dtype=torch.float32).reshape(-1, 1)).reshape(-1)


def curve_gap(a: Tensor, b: Tensor) -> float:
    """Mean absolute difference of two curves sampled on the same evenly spaced grid of ``[0, 1]`` (their
    L1 distance on the unit interval)."""
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"curves must be 1-D and of the same length, got {tuple(a.shape)} and {tuple(b.shape)}")
    return float((a - b).abs().mean())
