"""Units vs random directions of a hidden layer (Szegedy et al., 2014, section 3).

The images of a data set that maximise ``<phi(x), e_i>`` (the activation of unit i) are commonly read as
what unit i "detects". Szegedy et al. report that the images maximising ``<phi(x), v>`` for a random
direction ``v`` look just as coherent, so the natural basis is no better than a random one for reading
``phi``. This module finds both sets of images and measures their coherence by how many share a label.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nngeom.core.device import eval_mode, model_device
from nngeom.core.models import split_after_hidden
from nngeom.core.validation import check_positive_int

__all__ = ["layer_activations", "random_directions", "top_images", "label_purity", "UnitStudy", "units_vs_random"]


@torch.no_grad()
def layer_activations(model: nn.Module, x: Tensor, layer: int, batch_size: int = 4096) -> Tensor:
    """``phi(x)``: the output of hidden layer ``layer`` (>= 1) of an :func:`nngeom.core.models.mlp`, ``[N, width]``."""
    if layer < 1:
        raise ValueError(f"parameter 'layer' must be a hidden layer, >= 1, got {layer!r}")
    head, _ = split_after_hidden(model, layer)
    with eval_mode(model):
        dev = model_device(model)
        return torch.cat([head(c.to(dev)).cpu() for c in x.split(batch_size)])


def random_directions(dim: int, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` directions drawn uniformly from the unit sphere of ``R^dim`` (normalised Gaussians), ``[n, dim]``."""
    check_positive_int("dim", dim)
    check_positive_int("n", n)
    v = torch.randn(n, dim, generator=generator)
    return v / v.norm(dim=1, keepdim=True)


def top_images(activations: Tensor, directions: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` images with the largest ``<phi(x), v>``, for each direction: ``[n_directions, k]``.

    ``activations`` is ``[N, width]`` (from :func:`layer_activations`), ``directions`` ``[n_directions,
    width]``; a unit is the basis vector ``e_i`` (``torch.eye(width)[i]``). Ties are broken by index.
    """
    check_positive_int("k", k)
    if activations.ndim != 2 or directions.ndim != 2 or activations.shape[1] != directions.shape[1]:
        raise ValueError(
            f"activations [N, width] and directions [n, width] must share the width, got "
            f"{tuple(activations.shape)} and {tuple(directions.shape)}"
        )
    if k > len(activations):
        raise ValueError(f"parameter 'k' must be at most the number of images ({len(activations)}), got {k}")
    scores = directions.to(activations.dtype) @ activations.T
    return scores.topk(k, dim=1).indices


def label_purity(labels: Tensor) -> Tensor:
    """For each row of labels ``[n, k]``, the fraction that share the row's most common label, ``[n]``.

    A coherent set of top images (all "7"s) has purity 1; ``k`` random MNIST test images about 0.2.
    """
    if labels.ndim != 2 or labels.shape[1] == 0:
        raise ValueError(f"labels must have shape [n, k] with k >= 1, got {tuple(labels.shape)}")
    counts = nn.functional.one_hot(labels.long(), int(labels.max()) + 1).sum(dim=1)  # [n, classes]
    return counts.max(dim=1).values.float() / labels.shape[1]


@dataclass
class UnitStudy:
    """Units against random directions of one hidden layer (:func:`units_vs_random`).

    ``purity_units[i]`` is the label purity of the top images of unit ``i``, ``purity_random[j]`` that of
    random direction ``j``, ``purity_baseline[j]`` that of a set of images drawn at random (the scale of
    "no coherence"). ``top_projection_*`` are the mean projections of each direction's top images onto it,
    a check on the search itself.
    """

    layer: int
    activations: Tensor  # [N, width]
    randoms: Tensor  # [n_random, width]
    purity_units: Tensor  # [width]
    purity_random: Tensor  # [n_random]
    purity_baseline: Tensor  # [n_random]
    top_projection_units: float
    top_projection_random: float

    @property
    def width(self) -> int:
        return self.activations.shape[1]


def units_vs_random(
    model: nn.Module, x: Tensor, y: Tensor, layer: int, n_random: int, top_k: int, generator: torch.Generator | None
) -> UnitStudy:
    """Szegedy et al.'s section 3 for one hidden layer: the ``top_k`` images of ``x`` that excite every unit
    and each of ``n_random`` random directions most, and how many of them share a label.

    ``generator`` draws the random directions, then the random image sets of the baseline (in that order).
    """
    check_positive_int("n_random", n_random)
    check_positive_int("top_k", top_k)
    acts = layer_activations(model, x, layer)
    width = acts.shape[1]
    units = torch.eye(width)
    randoms = random_directions(width, n_random, generator=generator)
    k = min(top_k, len(acts))
    top_u, top_r = top_images(acts, units, k), top_images(acts, randoms, k)
    projection_units = float(torch.gather(acts, 0, top_u.T).mean())
    projection_random = float(torch.stack([acts[top_r[j]] @ randoms[j] for j in range(len(randoms))]).mean())
    baseline = label_purity(y[torch.randint(len(y), (n_random, k), generator=generator)])
    return UnitStudy(
        layer, acts, randoms, label_purity(y[top_u]), label_purity(y[top_r]), baseline, projection_units,
        projection_random,
    )  # fmt: skip
