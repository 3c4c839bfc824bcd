"""Architectures used across the papers, built from a name and keyword arguments.

The zoo (:mod:`nngeom.zoo`) stores a model as ``(arch, arch_kwargs)`` so that a spec is plain data that
can be hashed; :func:`build` turns it into a module.
"""

from __future__ import annotations

from typing import Callable, Sequence

from torch import nn

__all__ = ["mlp", "bell_cnn", "build", "ARCHITECTURES"]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def mlp(in_features: int, hidden: Sequence[int], n_classes: int, activation: str = "relu") -> nn.Sequential:
    """Fully connected network ``in -> hidden[0] -> ... -> n_classes`` returning logits.

    ``hidden=[]`` gives the linear (softmax-regression) model, e.g. the thesis' FC10 nets. Inputs of any
    shape are flattened first, so images can be passed as they are.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"parameter 'activation' must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), _ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def bell_cnn(channels: int, in_channels: int = 1, image_size: int = 28, hidden: int = 256, n_classes: int = 10) -> nn.Sequential:
    """The C-Ch networks of Bell's thesis (Table 3): four 5x5 convolutions with ``channels`` channels,
    stride 1, no padding, ReLU after each; a 2x2 max pool; a 256-unit ReLU layer; logits.

    On MNIST (28 x 28) the feature maps are 24, 20, 16, 12 and, after pooling, 6 pixels wide, so the
    first fully connected layer has ``channels * 36`` inputs as in the table.
    """
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"parameter 'channels' must be a positive int, got {channels!r}")
    side = (image_size - 4 * 4) // 2
    if side < 1:
        raise ValueError(f"parameter 'image_size' must be at least 18 for four 5x5 convolutions and a pool, got {image_size}")
    layers: list[nn.Module] = []
    width = in_channels
    for _ in range(4):
        layers += [nn.Conv2d(width, channels, kernel_size=5), nn.ReLU()]
        width = channels
    layers += [
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * side * side, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_classes),
    ]
    return nn.Sequential(*layers)


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"mlp": mlp, "bell_cnn": bell_cnn}


def build(arch: str, **kwargs) -> nn.Module:
    """Instantiate architecture ``arch`` (a key of :data:`ARCHITECTURES`) with ``kwargs``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)
