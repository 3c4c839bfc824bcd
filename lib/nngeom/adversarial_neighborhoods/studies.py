"""Experiment protocols shared by several pages: attack a sample, then measure both sides of it.

These are the steps the thesis repeats for every network (Table 1, Figures 10 and 14-16, Table 2):
pick images the network gets right, attack them, and estimate the gamma-persistence of the natural
images and of the successful adversarial examples. Keeping the protocol here means every page runs it
the same way and a page only chooses the network, the attack and the counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nngeom.adversarial_neighborhoods.persistence import first_sigma_below, persistence
from nngeom.core.attacks import Attack, correctly_classified, distortion, every_other_target, succeeded
from nngeom.core.device import model_device
from nngeom.core.stats import Decision, compare_samples, wilson_bounds

__all__ = [
    "PersistenceStudy",
    "natural_vs_adversarial",
    "every_target_study",
    "AttackTable",
    "persistence_by_attack",
    "majority_falls_first",
]


@dataclass
class PersistenceStudy:
    """Result of :func:`natural_vs_adversarial` (arrays are numpy, one entry per image)."""

    persistence_natural: np.ndarray
    persistence_adversarial: np.ndarray  # successful attacks only
    distortion: np.ndarray  # successful attacks only
    success: np.ndarray  # per attempted attack
    attack_seconds: float
    persistence_seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return float(self.success.mean()) if len(self.success) else float("nan")

    def summary(self) -> dict:
        """Means and medians, the way the thesis' tables aggregate."""

        def stat(f, a):
            return float(f(a)) if len(a) else float("nan")

        return {
            "attempts": int(len(self.success)),
            "success rate": self.success_rate,
            "mean distortion": stat(np.mean, self.distortion),
            "mean persistence (natural)": stat(np.mean, self.persistence_natural),
            "mean persistence (adversarial)": stat(np.mean, self.persistence_adversarial),
            "median persistence (natural)": stat(np.median, self.persistence_natural),
            "median persistence (adversarial)": stat(np.median, self.persistence_adversarial),
        }


def natural_vs_adversarial(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    attack: Attack,
    gamma: float = 0.7,
    n_samples: int = 1000,
    generator: torch.Generator | None = None,
    natural_images: Tensor | None = None,
    natural_persistence: np.ndarray | None = None,
    **persistence_kwargs,
) -> PersistenceStudy:
    """Attack ``images`` (``labels`` are targets for a targeted attack, true classes otherwise) and estimate
    the gamma-persistence of the natural images and of the adversarial examples that succeeded.

    ``natural_images`` defaults to the attacked originals; pass the natural sample explicitly when the
    batch repeats images (nine targets per image, say). ``natural_persistence``, when given, is used
    instead of estimating it again (several attacks on the same images). Other keyword arguments go to
    :func:`nngeom.adversarial_neighborhoods.persistence.persistence`.
    """
    dev = model_device(model)
    t0 = time.perf_counter()
    x_adv = attack(images.to(dev), labels.to(dev)).cpu()
    attack_seconds = time.perf_counter() - t0
    ok = succeeded(model, x_adv, labels, attack.targeted)
    nat = images if natural_images is None else natural_images
    t0 = time.perf_counter()
    if natural_persistence is not None:
        p_nat = np.asarray(natural_persistence)
    else:
        p_nat = (
            persistence(model, nat.to(dev), gamma=gamma, n_samples=n_samples, generator=generator, **persistence_kwargs)
            .cpu()
            .numpy()
        )
    if ok.any():
        p_adv = (
            persistence(
                model, x_adv[ok].to(dev), gamma=gamma, n_samples=n_samples, generator=generator, **persistence_kwargs
            )
            .cpu()
            .numpy()
        )
    else:
        p_adv = np.zeros(0)
    persistence_seconds = time.perf_counter() - t0
    return PersistenceStudy(
        persistence_natural=p_nat,
        persistence_adversarial=p_adv,
        distortion=distortion(images.cpu(), x_adv)[ok].numpy(),
        success=ok.numpy(),
        attack_seconds=attack_seconds,
        persistence_seconds=persistence_seconds,
    )


def every_target_study(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    attack: Attack,
    n_images: int,
    *,
    gamma: float,
    n_samples: int,
    order: torch.Generator,
    generator: torch.Generator | None = None,
) -> PersistenceStudy:
    """The thesis' MNIST histograms (Figures 14-16): ``n_images`` correctly classified images, in the order
    ``order`` draws, each attacked towards every other class (section 5.1.2); natural persistences come from
    the next ``9 * n_images`` correctly classified images, as many as there are adversarial attempts.
    ``generator`` draws the persistence samples. Returns :func:`natural_vs_adversarial`'s study."""
    perm = torch.randperm(len(y), generator=order)
    right = perm[correctly_classified(model, x[perm], y[perm])]
    attacked, natural = right[:n_images], right[n_images : n_images + 9 * n_images]
    xa, _, targets = every_other_target(x[attacked], y[attacked])
    return natural_vs_adversarial(model, xa, targets, attack, gamma=gamma, n_samples=n_samples, generator=generator,
                                  natural_images=x[natural])  # fmt: skip


@dataclass
class AttackTable:
    """Result of :func:`persistence_by_attack`: Table 2 of the thesis for several networks and attacks.

    ``studies[(network, attack)]`` is that pair's :class:`PersistenceStudy`; ``rows`` has one dict per pair
    and a ``"total"`` row per network (keys ``network``, ``attack``, ``success rate``, ``mean distortion``,
    ``persistence (natural)``, ``persistence (adversarial)``); ``targets_per_image`` is how many times each
    image was attacked.
    """

    studies: dict[tuple[str, str], PersistenceStudy]
    rows: list[dict]
    targets_per_image: int

    def source_persistence(self, network: str, attack: str) -> np.ndarray:
        """The natural persistence of the source image of every successful adversarial example of the
        pair, in the order of its ``persistence_adversarial``."""
        st = self.studies[(network, attack)]
        return st.persistence_natural[np.flatnonzero(st.success) // self.targets_per_image]

    def below_source(self, attacks: Sequence[str], alpha: float = 0.05) -> list[Decision]:
        """For each network and each of ``attacks``: are the adversarial persistences below those of their
        source images (one-sided Mann-Whitney at ``alpha``, three-valued)?"""
        out = []
        for (network, attack), st in self.studies.items():
            if attack not in attacks:
                continue
            d = compare_samples(
                st.persistence_adversarial, self.source_persistence(network, attack), claim="less", alpha=alpha
            )
            out.append(Decision(d.holds, f"{network} {attack}: {d.test}", d.effect, d.low, d.high, d.p, d.criterion))
        return out


def persistence_by_attack(
    models: dict[str, nn.Module],
    images: Tensor,
    targets: Tensor,
    make_attack: Callable[[str, nn.Module], Attack],
    attacks: Sequence[str],
    *,
    gamma: float,
    n_samples: int,
    generator: torch.Generator,
    **persistence_kwargs,
) -> AttackTable:
    """Table 2 of the thesis (section 5.2): every image of ``images`` [n, ...] is attacked
    ``len(targets) // n`` times (``targets`` [n * k], image-major, the targets of the consecutive copies)
    by each attack of ``attacks`` (built by ``make_attack(name, model)``) against each network of
    ``models``, and the gamma-persistence of the originals and of the successful adversarial examples is
    estimated (:func:`natural_vs_adversarial`).

    The natural persistences are estimated once per network and reused for its other attacks. Every pair
    starts from the state ``generator`` has on entry (common random numbers: differences between attacks
    are not sampling noise), and ``generator`` itself is left untouched. A pair's natural column weights
    each image by the number of its successful attacks, as the thesis averages over the images the
    examples were made from; the ``"total"`` row of a network pools all its attacks (mean success rate,
    every successful example). Other keyword arguments go to
    :func:`nngeom.adversarial_neighborhoods.persistence.persistence`.
    """
    n = len(images)
    if n == 0 or len(targets) % n:
        raise ValueError(f"parameter 'targets' must hold k targets per image ({n} images), got {len(targets)}")
    reps = len(targets) // n
    x_rep = images.repeat_interleave(reps, 0)

    def weighted_natural(p_natural: np.ndarray, weights: np.ndarray) -> float:
        return float((p_natural * weights).sum() / weights.sum()) if weights.sum() else math.nan

    def mean(a: np.ndarray) -> float:
        return float(a.mean()) if len(a) else math.nan

    studies, rows = {}, []
    for network, model in models.items():
        p_natural = None
        for name in attacks:
            gen = torch.Generator(device=generator.device)
            gen.set_state(generator.get_state())
            st = natural_vs_adversarial(
                model,
                x_rep,
                targets,
                make_attack(name, model),
                gamma=gamma,
                n_samples=n_samples,
                generator=gen,
                natural_images=images,
                natural_persistence=p_natural,
                **persistence_kwargs,
            )
            p_natural = st.persistence_natural
            studies[(network, name)] = st
            rows.append(
                {
                    "network": network,
                    "attack": name,
                    "success rate": st.success_rate,
                    "mean distortion": mean(st.distortion),
                    "persistence (natural)": weighted_natural(p_natural, st.success.reshape(n, reps).sum(1)),
                    "persistence (adversarial)": mean(st.persistence_adversarial),
                }
            )
    for network in models:
        sts = [studies[(network, name)] for name in attacks]
        weights = sum(st.success.reshape(n, reps).sum(1) for st in sts)
        rows.append(
            {
                "network": network,
                "attack": "total",
                "success rate": float(np.mean([st.success_rate for st in sts])),
                "mean distortion": mean(np.concatenate([st.distortion for st in sts])),
                "persistence (natural)": weighted_natural(sts[0].persistence_natural, weights),
                "persistence (adversarial)": mean(np.concatenate([st.persistence_adversarial for st in sts])),
            }
        )
    return AttackTable(studies, rows, reps)


def majority_falls_first(
    sigmas: np.ndarray,
    natural_share: np.ndarray,
    adversarial_share: np.ndarray,
    n: int,
    reached: bool,
    name: str,
) -> Decision:
    """Figures 9 and 13's claim for one adversarial example: its class loses the majority of the Gaussian
    samples around it at a smaller sigma than the natural image's class does around the natural image.

    ``natural_share[j]`` and ``adversarial_share[j]`` are the shares of ``n`` samples at ``sigmas[j]``
    (increasing) in the natural image's class and in the adversarial class; ``reached`` says whether the
    attack reached its target (if not, nothing is decided). With ``sigma_a`` the first sigma at which the
    adversarial class is significantly below 1/2 (95 % Wilson upper bound): holds if the natural class is
    significantly above 1/2 at ``sigma_a``; fails if the natural class is significantly below 1/2 no later,
    or the adversarial class keeps a significant majority up to the last sigma; undecided otherwise.
    """
    if not reached:
        return Decision(None, f"{name}: the attack did not reach its target", criterion="nothing to decide")
    lo_n, hi_n = wilson_bounds(natural_share, n)
    lo_a, hi_a = wilson_bounds(adversarial_share, n)
    s_adv = first_sigma_below(sigmas, hi_a, 0.5)
    s_nat = first_sigma_below(sigmas, hi_n, 0.5)
    test = f"{name}: adversarial class significantly below 1/2 from sigma {s_adv:.3g}, natural class from {s_nat:.3g}"
    if np.isfinite(s_adv) and lo_n[int(np.searchsorted(sigmas, s_adv))] > 0.5:
        holds = True
    elif s_nat <= s_adv or lo_a[-1] > 0.5:
        holds = False
    else:
        holds = None
    return Decision(
        holds,
        test,
        effect=s_adv,
        criterion="holds if the natural class is significantly above 1/2 where the adversarial class first falls "
        "significantly below it",
    )
