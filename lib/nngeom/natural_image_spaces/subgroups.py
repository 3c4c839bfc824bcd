"""Which training samples a network is trained on (sections 4.1-4.2 and Table 1 of the paper).

After a training run stopped before over-fitting, the training samples split into those the network
classifies correctly, ranked by *confidence* (their largest probability), and those it misclassifies,
ranked by *illusiveness* (the same number, for a wrong class). :func:`subgroup` takes the subgroups of
Table 1 from these rankings: ``hc`` / ``lc`` the most / least confident correct samples, ``hi`` / ``li``
the most / least illusive misclassified ones. The paper says that all subgroups have the same size and
names them by a percentage ``p`` without saying of what; we read ``S^p_c`` as ``k = p % of the
misclassified samples`` from the named end of its ranking, so the four subgroups of one ``p`` have the
same ``k`` samples and ``S^100_hi = S^100_li`` is every misclassified sample (the paper's ``S^1`` row is
the whole training set). :class:`NoiseClass` adds the extra class of uniform noise of eq. 1, and
:func:`table1_metrics` computes the columns of Table 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nngeom.core.validation import check_choice, check_positive_int, check_value_range

__all__ = ["Ranking", "rank_samples", "subgroup", "CRITERIA", "NoiseClass", "table1_metrics"]

#: The subgroup criteria of Table 1.
CRITERIA = ("hc", "lc", "hi", "li")


@dataclass
class Ranking:
    """Result of :func:`rank_samples`: indices into the ranked set."""

    correct: Tensor  # [N] bool
    score: Tensor  # [N] the largest probability: confidence if correct, illusiveness if not
    by_confidence: Tensor  # indices of the correct samples, most confident first
    by_illusiveness: Tensor  # indices of the misclassified samples, most illusive first


def _probabilities_and_labels(probabilities: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    p, y = torch.as_tensor(probabilities).double().cpu(), torch.as_tensor(labels).long().cpu()
    if p.ndim != 2 or y.shape != (len(p),):
        raise ValueError(f"parameters 'probabilities' [N, C] and 'labels' [N] do not match: {tuple(p.shape)}, "
                         f"{tuple(y.shape)}")  # fmt: skip
    return p, y


def rank_samples(probabilities: Tensor, labels: Tensor) -> Ranking:
    """Rank samples by the network's probabilities ``[N, C]`` after training (ties keep index order)."""
    p, y = _probabilities_and_labels(probabilities, labels)
    score, pred = p.max(1)
    correct = pred == y
    order = torch.argsort(-score, stable=True)
    return Ranking(correct, score, order[correct[order]], order[~correct[order]])


def subgroup(ranking: Ranking, criterion: str, percent: float) -> Tensor:
    """The indices of ``S^p_c`` (see the module docstring for the reading): ``k = round(percent / 100 *
    number misclassified)`` samples from the named end of the ranking."""
    check_choice("criterion", criterion, list(CRITERIA))
    if not 0 < percent <= 100:
        raise ValueError(f"parameter 'percent' must lie in (0, 100], got {percent!r}")
    n_mis = len(ranking.by_illusiveness)
    k = int(round(percent / 100 * n_mis))
    pool = ranking.by_confidence if criterion in ("hc", "lc") else ranking.by_illusiveness
    if k > len(pool):
        raise ValueError(f"subgroup {criterion} at {percent:g} % needs {k} samples but the ranking has {len(pool)}")
    return pool[:k] if criterion in ("hc", "hi") else pool[len(pool) - k :]


class NoiseClass:
    """The extra "random-noise" class of eq. 1, as a ``batch_transform`` for
    :func:`nngeom.core.training.train_classifier`: each batch of ``B`` samples gets ``ratio * B`` images of
    uniform noise in ``value_range`` appended, labelled ``label`` (the new class ``M``; the network needs
    ``M + 1`` outputs). ``fixed=False`` draws new noise for every batch from the training run's generator;
    ``fixed=True`` draws the batch's noise from one bank of ``ratio * n_samples`` images made once (a fixed
    set of noise samples, as a data set is fixed; it takes ``ratio * n_samples`` images of memory).

    Example:
        >>> noise = NoiseClass(label=10, ratio=5)
        >>> train_classifier(model_with_11_outputs, train, test, epochs=5, batch_size=128, lr=1e-3,
        ...                  batch_transform=noise)
    """

    def __init__(self, label: int, ratio: int = 5, value_range: tuple[float, float] = (0.0, 1.0),
                 fixed: bool = False, n_samples: int = 0, seed: int = 0) -> None:  # fmt: skip
        self.label = int(label)
        self.ratio = check_positive_int("ratio", ratio)
        self.lo, self.hi = check_value_range("value_range", value_range)
        self.fixed = bool(fixed)
        self._bank: Tensor | None = None
        if self.fixed:
            check_positive_int("n_samples", n_samples)
            self._n_bank, self._seed = self.ratio * n_samples, seed

    def __call__(self, x: Tensor, y: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        m = self.ratio * len(x)
        if self.fixed:
            if self._bank is None or self._bank.shape[1:] != x.shape[1:]:
                g = torch.Generator().manual_seed(self._seed)
                self._bank = torch.rand(self._n_bank, *x.shape[1:], generator=g)
            noise = self._bank[torch.randint(self._n_bank, (m,), generator=generator)]
        else:
            noise = torch.rand(m, *x.shape[1:], generator=generator)
        noise = (self.lo + (self.hi - self.lo) * noise).to(x.device, x.dtype)
        return torch.cat([x, noise]), torch.cat([y, torch.full((m,), self.label, dtype=y.dtype, device=y.device)])


def table1_metrics(probabilities: Tensor, labels: Tensor, noise_label: int | None = None) -> dict[str, float]:
    """Table 1's columns for one trained network on the test set, from its probabilities ``[T, C]``:
    ``A`` accuracy, ``P_c`` the mean largest probability of the correctly classified samples (confidence),
    ``P_i`` the same for the misclassified (illusiveness), ``P_g`` the mean probability the misclassified
    get for their true class, and ``N`` the number of test samples classified as the noise class
    ``noise_label`` (0 without one). A sample given the noise class counts as misclassified. Shares in [0, 1]."""
    p, y = _probabilities_and_labels(probabilities, labels)
    score, pred = p.max(1)
    ok = pred == y

    def mean(v: Tensor) -> float:
        return float(v.mean()) if len(v) else float("nan")

    return {
        "A": float(ok.double().mean()),
        "P_c": mean(score[ok]),
        "P_i": mean(score[~ok]),
        "P_g": mean(p[~ok].gather(1, y[~ok][:, None])[:, 0]),
        "N": float((pred == noise_label).sum()) if noise_label is not None else 0.0,
    }
