"""Images for given features: the pixel-space inverse problems of sections 4 and 5 of the paper.

Given a network's feature map ``N_phi`` (its last hidden layer), a target feature vector ``t`` and a
reference image ``x_r``, find the image closest to ``x_r``, in the pixel box, whose features

- equal ``t`` (eqs. 17-18, ``mode="point"``), or
- lie inside the ball of radius ``radius`` around ``t`` (eqs. 15-16, ``mode="inside"``), or
- lie on its perimeter (the paper's Figure 7, ``mode="perimeter"``: eq. 15 with equality).

These problems are not convex (``N_phi`` is a deep network). The paper solved them with Yousefzadeh &
O'Leary's homotopy algorithm; here a **penalty continuation** does the same job in batches: for an
increasing sequence of weights ``mu``, minimise ``|x - x_r|^2 + mu * g(x)`` over the box by Adam steps
projected onto the box, each stage starting where the last one ended (the path of minimisers that a
homotopy follows, sampled at the stages), with ``g`` the squared violation of the feature condition.
The early stages also smooth the network (every ReLU a softplus, sharpening from stage to stage) so that
units switched off at the reference can be switched on; the last stage uses the network exactly.
In ``"point"`` mode a few **augmented-Lagrangian rounds** follow on the exact network (Hestenes-Powell:
the penalty ``mu |g|^2`` plus a multiplier term ``lam . g``, with ``lam += 2 mu g`` after each round), which
drive the residual down without an ever larger ``mu``; on the Fashion-MNIST stand-in they bring the
residual of near flip points from 6-10 % of the margin to about 3 % at a slightly larger distance, while far
flip points keep about half the margin whatever the solver (``bench/inverse_residual_floor.py``).
Every answer reports its feature residual (how far the condition is from holding) and whether the image
kept the reference's class (the paper's eq. 19 check, taken at the image itself); nothing is assumed
to have converged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nngeom.core.device import eval_mode, model_device
from nngeom.core.validation import check_choice, check_nonnegative_int, check_positive_int, check_value_range

__all__ = ["FeatureInverse", "images_for_features"]


@dataclass
class FeatureInverse:
    """Result of :func:`images_for_features` (CPU)."""

    images: Tensor  # [B, ...] the solutions, in the pixel box
    residual: Tensor  # [B] violation of the feature condition (|N_phi(x) - t|, or its excess over the ball)
    distance: Tensor  # [B] |x - x_r|, the objective of eqs. 16 and 18
    feature_distance: Tensor  # [B] |N_phi(x) - t|
    kept_class: Tensor  # [B] bool: the network classifies x as it classifies x_r
    penalties: tuple[float, ...]  # the continuation's weights, in order


@contextmanager
def _softplus_relus(model: nn.Module, beta: float | None) -> Iterator[None]:
    """Within the block every ``nn.ReLU`` of ``model`` computes ``softplus(beta * z) / beta`` instead
    (nothing changes for ``beta=None``)."""
    if beta is None:
        yield
        return
    hooks = [m.register_forward_hook(lambda _m, inp, _out: nn.functional.softplus(inp[0], beta=beta))
             for m in model.modules() if isinstance(m, nn.ReLU)]  # fmt: skip
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def images_for_features(
    model: nn.Module,
    targets: Tensor,
    references: Tensor,
    *,
    mode: str = "point",
    radius: float | Tensor = 0.0,
    value_range: tuple[float, float] = (0.0, 1.0),
    penalties: Sequence[float] = (1.0, 10.0, 100.0, 1e3, 1e4, 1e4),
    smoothing: Sequence[float | None] = (2.0, 5.0, 10.0, 30.0, 100.0, None),
    steps: int = 200,
    lr: float = 0.01,
    multiplier_rounds: int = 8,
    multiplier_weight: float = 500.0,
) -> FeatureInverse:
    """Solve the inverse problem for each target feature vector and reference image, in one batch.

    Args:
        model: an ``nn.Sequential`` ending in its last ``nn.Linear`` (see
            :func:`nngeom.feature_space.flips.split_last_linear`); used in eval mode.
        targets: target feature vectors ``[B, f]``.
        references: reference images ``[B, ...]`` (the starting points too).
        mode: ``"point"``, ``"inside"`` or ``"perimeter"`` (see the module docstring).
        radius: the ball's radius for ``"inside"`` and ``"perimeter"`` (a number or ``[B]``).
        value_range: the pixel box ``(lo, hi)``.
        penalties: the continuation's weights ``mu``, increasing.
        smoothing: per stage, the sharpness ``beta`` of the softplus that stands in for every ``nn.ReLU``
            of the network (``None``: the exact ReLU). A unit that is off at the reference passes no
            gradient through an exact ReLU, so a target that needs it on could never be reached; the
            smooth stages let it turn on, and the last stages use the network as it is.
        steps: Adam steps per weight.
        lr: Adam's step size at the first weight, in pixel units (scaled by ``(mu_0 / mu)^(1/4)`` later).
        multiplier_rounds: augmented-Lagrangian rounds after the continuation, ``"point"`` mode only
            (0: none), each of ``max(1, steps // 2)`` Adam steps.
        multiplier_weight: their penalty weight ``mu``.

    Returns:
        :class:`FeatureInverse`.
    """
    from nngeom.feature_space.flips import split_last_linear

    check_choice("mode", mode, ["point", "inside", "perimeter"])
    lo, hi = check_value_range("value_range", value_range)
    check_positive_int("steps", steps)
    check_nonnegative_int("multiplier_rounds", multiplier_rounds)
    if not multiplier_weight > 0:
        raise ValueError(f"parameter 'multiplier_weight' must be > 0, got {multiplier_weight!r}")
    mus = [float(m) for m in penalties]
    if not mus or any(m <= 0 for m in mus) or mus != sorted(mus):
        raise ValueError(f"parameter 'penalties' must be positive and increasing, got {list(penalties)!r}")
    betas = list(smoothing)
    if len(betas) != len(mus) or betas[-1] is not None or any(b is not None and b <= 0 for b in betas):
        raise ValueError(f"parameter 'smoothing' must give one beta > 0 (or None) per penalty, ending with None "
                         f"(the exact network), got {betas!r}")  # fmt: skip
    body, last = split_last_linear(model)
    dev = model_device(model)
    t = torch.as_tensor(targets).detach().to(dev, torch.float32)
    xr = torch.as_tensor(references).detach().to(dev, torch.float32)
    if t.ndim != 2 or len(t) != len(xr):
        raise ValueError(f"parameters 'targets' [B, f] and 'references' [B, ...] do not match: {tuple(t.shape)}, "
                         f"{tuple(xr.shape)}")  # fmt: skip
    r = torch.as_tensor(radius, dtype=torch.float32, device=dev).expand(len(t)).clone()
    if mode != "point" and bool((r <= 0).any()):
        raise ValueError(f"parameter 'radius' must be > 0 for mode {mode!r}")

    def violation(x: Tensor) -> tuple[Tensor, Tensor]:
        d = (body(x).flatten(1) - t).norm(dim=1)
        if mode == "point":
            return d, d
        if mode == "inside":
            return (d - r).clamp_min(0.0), d
        return (d - r).abs(), d

    with eval_mode(model):
        x = xr.clone().clamp(lo, hi).requires_grad_(True)
        for mu, beta in zip(mus, betas):
            # steps shrink as the weight grows (the problem stiffens): lr at the first weight, lr / 10 at 10^4 x it
            opt = torch.optim.Adam([x], lr=lr * (mus[0] / mu) ** 0.25)
            with _softplus_relus(model, beta):
                for _ in range(steps):
                    opt.zero_grad(set_to_none=True)
                    v, _ = violation(x)
                    loss = (((x - xr) ** 2).flatten(1).sum(1) + mu * v**2).sum()
                    loss.backward()
                    opt.step()
                    with torch.no_grad():
                        x.clamp_(lo, hi)
        if mode == "point" and multiplier_rounds:
            _multiplier_rounds(body, x, xr, t, multiplier_rounds, max(1, steps // 2), multiplier_weight,
                               lr * (mus[0] / multiplier_weight) ** 0.25, (lo, hi))  # fmt: skip
        with torch.no_grad():
            v, d = violation(x)
            kept = last(body(x).flatten(1)).argmax(1) == model(xr).argmax(1)
    x = x.detach()
    return FeatureInverse(
        images=x.cpu(),
        residual=v.cpu(),
        distance=(x - xr).flatten(1).norm(dim=1).cpu(),
        feature_distance=d.cpu(),
        kept_class=kept.cpu(),
        penalties=tuple(mus),
    )


def _multiplier_rounds(
    body: nn.Module,
    x: Tensor,
    xr: Tensor,
    t: Tensor,
    rounds: int,
    steps: int,
    mu: float,
    lr: float,
    box: tuple[float, float],
) -> None:
    """Augmented-Lagrangian rounds for ``body(x) = t``, in place on ``x`` (which requires grad): minimise
    ``|x - x_r|^2 + lam . g + mu |g|^2`` with ``g = body(x) - t`` by projected Adam, then ``lam += 2 mu g``
    (the multiplier estimate the round's stationarity condition gives). Each image keeps the rounds' answer
    only where it lowered the residual: the rounds are there to reach the target, and where the
    continuation already had (to Adam's jitter), a weaker ``mu`` would only loosen it."""
    with torch.no_grad():
        start = x.detach().clone()
        before = (body(x).flatten(1) - t).norm(dim=1)
    lam = torch.zeros_like(t)
    for _ in range(rounds):
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            g = body(x).flatten(1) - t
            loss = (((x - xr) ** 2).flatten(1).sum(1) + (lam * g).sum(1) + mu * (g**2).sum(1)).sum()
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(*box)
        with torch.no_grad():
            lam += 2 * mu * (body(x).flatten(1) - t)
    with torch.no_grad():
        worse = (body(x).flatten(1) - t).norm(dim=1) >= before
        x[worse] = start[worse]
