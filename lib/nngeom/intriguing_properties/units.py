"""Units vs random directions of a hidden layer (Szegedy et al., 2014, section 3).

The images of a data set that maximise ``<phi(x), e_i>`` (the activation of unit i) are commonly read as
what unit i "detects". Szegedy et al. report that the images maximising ``<phi(x), v>`` for a random
direction ``v`` look just as coherent, so the natural basis is no better than a random one for reading
``phi``. This module finds both sets of images and measures their coherence by how many share a label.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nngeom.core.device import eval_mode, model_device
from nngeom.core.models import split_after_hidden
from nngeom.core.validation import check_positive_int

__all__ = ["layer_activations", "random_directions", "top_images", "label_purity"]


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
