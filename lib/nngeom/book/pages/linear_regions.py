"""The opening of the linear-regions pages on the six Table 1 networks."""

from __future__ import annotations

import torch
from IPython.display import Markdown, display
from torch import nn

from nngeom.book.notebook import start_page
from nngeom.core import zoo
from nngeom.linear_regions.studies import MNIST_BOX, VARIANTS, random_test_points, table1_networks

__all__ = ["networks_markdown", "open_table1_page"]


def networks_markdown(nets: dict[tuple[str, str], nn.Module]) -> str:
    """A Markdown list describing each network of
    :func:`nngeom.linear_regions.studies.table1_networks` (what the zoo trained)."""
    return "\n".join(f"- **{VARIANTS[v]}, lr {lr}**: {zoo.describe(m)}" for (v, lr), m in nets.items())


def open_table1_page(key: str, profile: str, metrics_path: str, *, seed: int, device: str, n_points: int):
    """The opening of a page on the six Table 1 networks: :func:`nngeom.book.notebook.start_page`, the networks
    loaded and listed, and the page's random test points (the same images on every page with the same
    seed). Returns ``(device, metrics, nets, x)``; ``n_points`` is recorded in the metrics."""
    dev, metrics = start_page(key, profile, metrics_path, seed=seed, device=device, data="MNIST")
    nets = table1_networks(profile, dev)
    display(Markdown(networks_markdown(nets)))
    x = random_test_points(n_points, torch.Generator().manual_seed(seed), MNIST_BOX)
    metrics.value("n_points", n_points)
    return dev, metrics, nets, x
