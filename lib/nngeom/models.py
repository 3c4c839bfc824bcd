"""Architectures used across the papers, built from a name and keyword arguments.

The zoo (:mod:`nngeom.zoo`) stores a model as ``(arch, arch_kwargs)`` so that a spec is plain data that
can be hashed; :func:`build` turns it into a module.
"""

from __future__ import annotations

from typing import Callable, Sequence

from torch import nn

__all__ = ["mlp", "build", "ARCHITECTURES"]

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


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"mlp": mlp}


def build(arch: str, **kwargs) -> nn.Module:
    """Instantiate architecture ``arch`` (a key of :data:`ARCHITECTURES`) with ``kwargs``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)
