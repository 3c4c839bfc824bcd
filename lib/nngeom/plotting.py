"""Plotting helpers shared by the notebooks: one style, and the geometric figures of the papers."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["style", "wedge_3d", "image_grid"]


def style() -> None:
    """The book's matplotlib style: readable at page width, no chart junk."""
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "legend.frameon": False,
        }
    )


def wedge_3d(ax, k: int, d: float = 1.0, extent: float = 2.0) -> None:
    """Draw the boundary sheets of ``W_k^3`` and a point at distance ``d`` from each (thesis Figure 7).

    Sheet ``i`` is the part of the plane ``x_i = 0`` where the other constrained coordinates are >= 0.
    Dashed segments show the shortest distance from the point to each sheet.
    """
    if k not in (1, 2, 3):
        raise ValueError(f"parameter 'k' must be 1, 2 or 3 for a 3-D picture, got {k!r}")
    colors = ["tab:blue", "tab:orange", "tab:green"]
    grid = np.linspace(0, extent, 2)
    full = np.linspace(-extent, extent, 2)
    point = np.array([d if i < k else 0.0 for i in range(3)])
    for i in range(k):
        # the two free coordinates of sheet i: constrained ones range over [0, extent], free ones over [-extent, extent]
        others = [j for j in range(3) if j != i]
        ranges = [grid if j < k else full for j in others]
        u, v = np.meshgrid(*ranges)
        coords = [None, None, None]
        coords[i] = np.zeros_like(u)
        coords[others[0]], coords[others[1]] = u, v
        ax.plot_surface(*coords, color=colors[i], alpha=0.35, linewidth=0, shade=False)
        foot = point.copy()
        foot[i] = 0.0
        ax.plot(*zip(point, foot), "k--", linewidth=1)
    ax.scatter(*point, color="black", s=25, depthshade=False)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_zlim(-extent, extent)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_zlabel("$x_3$")
    ax.set_title(f"$W_{k}^3$")


def image_grid(images: np.ndarray, nrow: int, titles: Optional[Sequence[str]] = None, cmap: str = "gray",
               row_labels: Optional[Sequence[str]] = None, scale: float = 1.0):
    """Show ``images`` (``[N, H, W]`` or ``[N, H, W, 3]``, values in [0, 1]) in a grid with ``nrow`` rows."""
    n = len(images)
    ncol = int(np.ceil(n / nrow))
    fig, axes = plt.subplots(nrow, ncol, figsize=(scale * ncol, scale * nrow), squeeze=False)
    for idx, ax in enumerate(axes.flat):
        ax.axis("off")
        if idx < n:
            ax.imshow(images[idx], cmap=cmap if images[idx].ndim == 2 else None, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[idx], fontsize=7)
    if row_labels is not None:
        for r, label in enumerate(row_labels):
            axes[r, 0].text(-0.1, 0.5, label, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig
