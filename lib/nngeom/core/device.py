"""Where computations run (CUDA when present, else CPU, overridable with ``NNGEOM_DEVICE``), and the three
helpers every module uses on a model: its device (:func:`model_device`), evaluation mode that restores the
previous mode (:func:`eval_mode`), and batched prediction (:func:`predict`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

__all__ = [
    "default_device",
    "resolve_device",
    "seeded_generator",
    "torch_threads",
    "model_device",
    "eval_mode",
    "predict",
    "default_batch_size",
]

# Number of input elements (samples x features) sent through a model in one forward pass when the caller
# does not say. On a GPU, about 64 MiB of float32 input keeps it busy. On a CPU, chunks that stay in cache
# are faster (bench/run.py measured 2-3x on an MNIST MLP between 256 and 65,536 rows).
_ELEMENTS_PER_BATCH = {"cuda": 1 << 24, "cpu": 1 << 18}


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


def model_device(model: nn.Module, fallback: str | torch.device = "cpu") -> torch.device:
    """The device of ``model``'s first parameter (or buffer); ``fallback`` for a model with neither."""
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device(fallback)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with ``model`` in evaluation mode (dropout off, batch-norm running statistics), then
    put it back in the mode it was in, also when the block raises.

    Example:
        >>> with eval_mode(model):
        ...     logits = model(x)
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def default_batch_size(x: Tensor, device: str | torch.device | None = None) -> int:
    """How many points of ``x`` (``[N, ...]``) to send through a model at once on ``device``."""
    per_point = max(1, x[0].numel()) if x.ndim > 0 and len(x) else 1
    kind = torch.device(device).type if device is not None else x.device.type
    return max(1, _ELEMENTS_PER_BATCH.get(kind, 1 << 24) // per_point)


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int | None = None) -> Tensor:
    """The class (argmax of the logits) of every point of ``x`` (``[N, ...]``, N >= 0), as a ``LongTensor[N]`` on
    ``x``'s device; the points go to the model's device in chunks of ``batch_size`` (default: by size, see
    :func:`default_batch_size`), with the model in evaluation mode (its mode is restored).

    Example:
        >>> labels = predict(model, x_test, batch_size=1024)
    """
    if x.ndim < 1:
        raise ValueError(f"parameter 'x' must be a batch of shape [N, ...], got shape {tuple(x.shape)}")
    if len(x) == 0:  # no points (e.g. no attack succeeded): no classes
        return torch.empty(0, dtype=torch.long, device=x.device)
    device = model_device(model, x.device)
    batch_size = default_batch_size(x, device) if batch_size is None else batch_size
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ValueError(f"parameter 'batch_size' must be an int >= 1, got {batch_size!r}")
    with eval_mode(model):
        out = [model(chunk.to(device)).argmax(dim=1) for chunk in x.split(batch_size)]
    return torch.cat(out).to(x.device)
