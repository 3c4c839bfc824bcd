"""Adversarial examples of one model, tested on others (Szegedy et al., 2014, section 4.2).

:func:`lbfgs_adversarials` runs the protocol of the paper's MNIST experiments for one model: the first
``n`` test images it classifies correctly, each attacked towards a random other class with
box-constrained L-BFGS. :func:`transfer_matrix` then asks every model how many of each set it gets
wrong, and :func:`matched_noise` builds the control: Gaussian noise of the same size per image.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor, nn

from nngeom.core.attacks import LBFGS, correctly_classified, distortion, random_other_targets
from nngeom.core.device import model_device, predict
from nngeom.core.models import output_width
from nngeom.core.stats import Decision, all_of, interval_below, mean_interval, rate, rate_at_least, rate_below
from nngeom.core.validation import check_positive_int

__all__ = [
    "AdversarialSet",
    "lbfgs_adversarials",
    "matched_noise",
    "NoiseControl",
    "noise_control",
    "ExampleChecks",
    "example_checks",
    "errors",
    "transfer_matrix",
    "sign_test",
    "PairTransfer",
    "pair_transfer",
    "PairedTransfer",
    "paired_transfer",
]


@dataclass
class AdversarialSet:
    """The images attacked on one model and what the attack made of them (tensors on the CPU)."""

    source: str
    indices: Tensor  # test-set indices of the attacked images
    x: Tensor
    y: Tensor
    targets: Tensor
    x_adv: Tensor
    success: Tensor  # reached its target on the source model
    seconds: float

    @property
    def distortion(self) -> Tensor:
        """Distortion of each successful example."""
        return distortion(self.x[self.success], self.x_adv[self.success])

    def successful(self) -> tuple[Tensor, Tensor]:
        """``(x_adv, y)`` of the successful examples, the set other models are tested on."""
        return self.x_adv[self.success], self.y[self.success]


def lbfgs_adversarials(
    name: str,
    model: nn.Module,
    x_test: Tensor,
    y_test: Tensor,
    n_images: int,
    generator: torch.Generator,
    **lbfgs_kwargs,
) -> AdversarialSet:
    """Attack the first ``n_images`` test images ``model`` gets right, each towards a random other class.

    ``lbfgs_kwargs`` go to :class:`nngeom.core.attacks.LBFGS` (``c_range``, ``search_steps``, ``max_iter``, ...).
    """
    check_positive_int("n_images", n_images)
    dev = model_device(model)
    idx = correctly_classified(model, x_test, y_test, limit=n_images)
    x, y = x_test[idx], y_test[idx]
    targets = random_other_targets(y, output_width(model), generator=generator)
    start = time.perf_counter()
    attack = LBFGS(model, **lbfgs_kwargs)
    x_adv = attack(x.to(dev), targets.to(dev)).cpu()
    return AdversarialSet(name, idx, x, y, targets, x_adv, attack.last_success.cpu(), time.perf_counter() - start)


def matched_noise(x: Tensor, x_adv: Tensor, generator: torch.Generator) -> Tensor:
    """``x`` plus Gaussian noise with, per image, the same l2 norm as ``x_adv - x``, clipped to [0, 1].

    The direction is uniform on the sphere; clipping to the box can only shorten the noise, so the
    control is at most as large as the adversarial perturbation (measure it with
    :func:`nngeom.core.attacks.distortion`).
    """
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have the same shape, got {tuple(x.shape)} and {tuple(x_adv.shape)}")
    flat = (x_adv - x).flatten(1)
    z = torch.randn(flat.shape, generator=generator, dtype=x.dtype)
    z = z / z.norm(dim=1, keepdim=True) * flat.norm(dim=1, keepdim=True)
    return (x + z.view_as(x)).clamp(0.0, 1.0)


@dataclass
class NoiseControl:
    """Szegedy et al.'s control for one model: random noise of each adversarial perturbation's size, added to
    the same clean image (:func:`noise_control`)."""

    x: Tensor  # the clean images whose attack succeeded
    y: Tensor  # their labels
    noisy: Tensor  # x plus noise of the matched size, in the box
    wrong: Tensor  # bool per image: the model errs on the noisy image

    @property
    def distortion(self) -> Tensor:
        return distortion(self.x, self.noisy)


def noise_control(model: nn.Module, adversarials: AdversarialSet, generator: torch.Generator) -> NoiseControl:
    """The matched-noise control of :func:`matched_noise` for the successful examples of ``adversarials``."""
    x_adv, y = adversarials.successful()
    x = adversarials.x[adversarials.success]
    noisy = matched_noise(x, x_adv, generator)
    return NoiseControl(x, y, noisy, errors(model, noisy, y))


@dataclass
class ExampleChecks:
    """The summary's two claims about one model's adversarial examples (:func:`example_checks`), each a
    three-valued :class:`nngeom.core.stats.Decision`."""

    source: str
    success: Decision  # the attack succeeds often enough
    close: Decision  # the examples lie close to their originals
    quiet: Decision  # noise of the same size barely hurts
    successes: int
    attempts: int
    distortion: dict  # mean_interval of the successful examples' distortions
    threshold: float  # the distortion the interval must stay below
    noise_errors: int
    noise_images: int

    @property
    def found(self) -> Decision:
        """Adversarial examples exist for this model: success and closeness both."""
        return all_of([self.success, self.close], name=f"{self.source} checks")

    def row(self, reference_distortion: float) -> dict:
        """One row of the page's per-model table."""
        d = self.distortion
        return {
            "model": self.source,
            "success": f"{self.successes}/{self.attempts}",
            "success ≥ min_success": self.success.outcome,
            "mean distortion (95% CI)": f"{d['mean']:.3f} ({d['low']:.3f}–{d['high']:.3f})",
            "reference": reference_distortion,
            "threshold": self.threshold,
            "close": self.close.outcome,
            "noise error": f"{self.noise_errors}/{self.noise_images}",
            "noise below barely": self.quiet.outcome,
        }


def example_checks(
    adversarials: AdversarialSet,
    control: NoiseControl,
    reference_distortion: float,
    *,
    close_factor: float,
    min_success: float,
    barely: float,
) -> ExampleChecks:
    """Decide, for one model, the summary's claims that adversarial examples are found close to their
    originals while noise of the same size barely hurts (section 4.2, IPN-X2).

    *success*: the Wilson 95 % interval of the attack's success rate lies at or above ``min_success``;
    *close*: the normal 95 % interval of the mean distortion of the successful examples lies below
    ``close_factor * reference_distortion``; *quiet*: the Wilson 95 % interval of the error under the
    matched-noise ``control`` lies below ``barely``. Each fails when its interval lies on the other side of
    its threshold and is undecided otherwise.
    """
    name = adversarials.source
    k, n = int(adversarials.success.sum()), len(adversarials.success)
    d = mean_interval(adversarials.distortion)
    threshold = close_factor * reference_distortion
    close = interval_below(
        d["mean"],
        d["low"],
        d["high"],
        threshold,
        test=f"{name}: normal 95 % interval of the mean distortion of {d['n']} examples",
    )
    k_noise, n_noise = int(control.wrong.sum()), len(control.wrong)
    return ExampleChecks(
        name,
        rate_at_least(k, n, min_success),
        close,
        rate_below(k_noise, n_noise, barely),
        k,
        n,
        d,
        threshold,
        k_noise,
        n_noise,
    )


@torch.no_grad()
def errors(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 2048) -> Tensor:
    """Boolean per image: ``model`` does not classify it as ``y``."""
    return predict(model, x, batch_size).cpu() != y.cpu()


def transfer_matrix(
    sets: Mapping[str, AdversarialSet],
    models: Mapping[str, nn.Module],
    confidence: float = 0.95,
    rows: Mapping[str, tuple[Tensor, Tensor]] | None = None,
) -> pd.DataFrame:
    """Error rate of every model (columns) on every set of examples (rows), with Wilson intervals.

    A row is the successful adversarials of one source model (labelled with their true classes), or an
    extra ``(x, y)`` set from ``rows`` (e.g. matched noise). The result has one row per (set, model)
    pair with columns ``set, model, rate, low, high, n``; pivot it for display.
    """
    records = []
    all_rows = {name: s.successful() for name, s in sets.items()}
    all_rows.update(rows or {})
    for set_name, (x, y) in all_rows.items():
        for model_name, model in models.items():
            r = (
                rate(errors(model, x, y), confidence)
                if len(y)
                else {"rate": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
            )
            records.append({"set": set_name, "model": model_name, **r})
    return pd.DataFrame(records)


def sign_test(a: Tensor, b: Tensor, confidence: float = 0.95, what: str = "items") -> Decision:
    """Claim "per item, ``a`` exceeds ``b`` more often than the reverse", by an exact sign test.

    ``a`` and ``b`` hold one value per item (booleans such as "model errs on the adversarial" and "errs on
    its original", or shares of models). Ties are dropped; of the ``n`` items that differ, ``k`` have
    ``a > b``. The claim holds if the exact (Clopper-Pearson) interval of ``k / n`` lies above 1/2, does not
    hold if it lies at or below 1/2, and is undecided otherwise; for two boolean outcomes this is the exact
    McNemar test. Unlike a normal interval of the mean difference it does not turn four agreeing items
    into certainty.
    """
    from scipy.stats import binomtest

    a, b = a.reshape(-1).double(), b.reshape(-1).double()
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    up, down = int((a > b).sum()), int((a < b).sum())
    n = up + down
    test = (
        f"exact sign test, {100 * confidence:g} % Clopper-Pearson interval of {up}/{n} {what} with a > b (ties dropped)"
    )
    criterion = "holds if the interval of the share of differing items with a > b lies above 1/2, fails if at or below"
    if n == 0:
        return Decision(None, test, criterion=criterion)
    res = binomtest(up, n, 0.5, alternative="greater")
    ci = binomtest(up, n, 0.5).proportion_ci(confidence_level=confidence, method="exact")
    holds = True if ci.low > 0.5 else (False if ci.high <= 0.5 else None)
    return Decision(
        holds, test, effect=up / n, low=float(ci.low), high=float(ci.high), p=float(res.pvalue), criterion=criterion
    )


@dataclass
class PairTransfer:
    """Adversarials made on ``source``, shown to ``asked``, against their clean originals (:func:`paired_transfer`)."""

    source: str
    asked: str
    adversarial_wrong: Tensor  # bool per successful example: ``asked`` errs on the adversarial
    original_wrong: Tensor  # ... and on its clean original

    @property
    def n(self) -> int:
        return len(self.adversarial_wrong)

    def above_clean(self) -> Decision:
        """Claim "the asked model errs on the adversarials more often than on their originals" (sign test)."""
        if self.n == 0:
            return Decision(
                None, f"{self.source} -> {self.asked}: no successful examples", criterion="nothing to decide"
            )
        return sign_test(self.adversarial_wrong, self.original_wrong, what="examples")


def pair_transfer(adversarials: AdversarialSet, asked: str, model: nn.Module) -> PairTransfer:
    """The successful examples of ``adversarials`` and their clean originals, shown to ``model`` (called
    ``asked``)."""
    x_adv, y = adversarials.successful()
    x_orig = adversarials.x[adversarials.success]
    return PairTransfer(adversarials.source, asked, errors(model, x_adv, y), errors(model, x_orig, y))


@dataclass
class PairedTransfer:
    """Result of :func:`paired_transfer`."""

    pairs: list[PairTransfer]  # every ordered pair of distinct models, source-major
    adversarial_share: Tensor  # per example (all sources in turn): share of the other models it fools
    original_share: Tensor  # ... and share of them that err on its original


def paired_transfer(sets: Mapping[str, AdversarialSet], models: Mapping[str, nn.Module]) -> PairedTransfer:
    """Every ordered pair of distinct models of ``sets`` (examples made on the first, asked of the second),
    and per example the share of the other models it fools and the share that err on its original."""
    names = list(sets)
    pairs, adv_share, orig_share = [], [], []
    for src in names:
        row = [pair_transfer(sets[src], b, models[b]) for b in names if b != src]
        pairs += row
        adv_share.append(torch.stack([p.adversarial_wrong.double() for p in row]).mean(0))
        orig_share.append(torch.stack([p.original_wrong.double() for p in row]).mean(0))
    return PairedTransfer(pairs, torch.cat(adv_share), torch.cat(orig_share))
