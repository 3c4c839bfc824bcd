"""Where computations run: CUDA when present, else CPU, overridable with ``NNGEOM_DEVICE``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["default_device", "resolve_device", "seeded_generator", "torch_threads"]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``'auto'``/``None`` → ``NNGEOM_DEVICE`` if set, else CUDA if available, else CPU."""
    if device is None or device == "auto":
        device = os.environ.get("NNGEOM_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"parameter 'device' is {str(dev)!r} but CUDA is not available; use 'cpu' or 'auto'")
    return dev


def default_device() -> torch.device:
    return resolve_device(None)


def seeded_generator(seed: int, device: str | torch.device | None = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``: fixed seeds give the same draws on rerun."""
    gen = torch.Generator(device=resolve_device(device))
    gen.manual_seed(int(seed))
    return gen


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op CPU threads, then restore the previous count.

    Two uses: tiny networks train faster on one thread (synchronising threads costs more than their
    arithmetic), and the main process should use one thread while LP worker processes hold the other
    cores (oversubscribed cores make torch's threads spin: a 3 x 10 net trained 100 times slower).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
