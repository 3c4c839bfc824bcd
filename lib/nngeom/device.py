"""Where computations run: CUDA when present, else CPU, overridable with ``NNGEOM_DEVICE``."""

from __future__ import annotations

import os
from typing import Optional, Union

import torch

__all__ = ["default_device", "resolve_device", "seeded_generator"]


def resolve_device(device: Optional[Union[str, torch.device]] = None) -> torch.device:
    """``'auto'``/``None`` → ``NNGEOM_DEVICE`` if set, else CUDA if available, else CPU."""
    if device is None or device == "auto":
        device = os.environ.get("NNGEOM_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"parameter 'device' is {str(dev)!r} but CUDA is not available; use 'cpu' or 'auto'")
    return dev


def default_device() -> torch.device:
    return resolve_device(None)


def seeded_generator(seed: int, device: Optional[Union[str, torch.device]] = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``: fixed seeds give the same draws on rerun."""
    gen = torch.Generator(device=resolve_device(device))
    gen.manual_seed(int(seed))
    return gen
