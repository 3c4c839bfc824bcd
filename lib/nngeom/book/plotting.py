"""Plotting helpers shared by the notebooks: one style, and the geometric figures of the papers."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "style",
    "orthant_3d",
    "image_grid",
    "adversarial_rows",
    "class_frequency_curves",
    "xt_grid",
    "top_image_panels",
    "rate_heatmap",
    "persistence_histogram",
    "region_polygons",
    "class_region_polygons",
    "image_array",
    "panel_row",
]


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


def orthant_3d(ax, k: int, d: float = 1.0, extent: float = 2.0) -> None:
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


def image_grid(
    images: np.ndarray,
    nrow: int,
    titles: Sequence[str] | None = None,
    cmap: str = "gray",
    row_labels: Sequence[str] | None = None,
    scale: float = 1.0,
):
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


def adversarial_rows(
    original: np.ndarray, adversarial: np.ndarray, labels: Sequence[str], magnify: float = 1.0, scale: float = 1.3
):
    """One row per example: original, perturbation (grey = 0, magnified ``magnify`` times), adversarial.

    Arrays are ``[N, H, W]`` in [0, 1]; ``labels`` name each row (e.g. the target and the distortion).
    The perturbation is drawn as ``0.5 + magnify * (adversarial - original)``, clipped to [0, 1], the way
    Szegedy et al. and the thesis show it.
    """
    n = len(original)
    fig, axes = plt.subplots(n, 3, figsize=(3 * scale + 1.6, n * scale), squeeze=False)
    heads = ("original", "perturbation" + (f" (x{magnify:g})" if magnify != 1 else ""), "adversarial")
    for r in range(n):
        pert = np.clip(0.5 + magnify * (adversarial[r] - original[r]), 0, 1)
        for c, img in enumerate((original[r], pert, adversarial[r])):
            ax = axes[r, c]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(heads[c], fontsize=8)
        axes[r, 0].set_ylabel(labels[r], fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def xt_grid(
    rows: Sequence[tuple[str, Sequence[np.ndarray], Sequence[int], int]],
    column_titles: Sequence[str],
    title: str,
    value_range: tuple[float, float] = (-1.0, 1.0),
    legend_offset: float = -0.04,
):
    """Zhang & Wu's Figures 4 and 11: per network, a test image ``x*`` and one image per target class ``t``.

    Each row is ``(label, images, predicted, own)``: ``images`` are ``x*`` then the image for each ``t``
    (arrays ``[H, W]`` or ``[H, W, C]`` with values in ``value_range``), ``predicted[t]`` the class the
    network gives the image for ``t``, ``own`` its class of ``x*``. A frame says what the network sees:
    green, still the class of ``x*``; red, class ``t``; grey, another class. ``column_titles`` head the
    columns (``x*`` first). Returns the figure.
    """
    from matplotlib.patches import Patch

    lo, hi = value_range
    n_cols = len(column_titles)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(12, 1.25 * len(rows) + 0.6), squeeze=False,
                             constrained_layout=True)  # fmt: skip
    for r, (label, images, predicted, own) in enumerate(rows):
        for col, img in enumerate(images):
            ax = axes[r, col]
            ax.imshow(np.clip((np.asarray(img) - lo) / (hi - lo), 0, 1).squeeze(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if col > 0:
                t, p = col - 1, predicted[col - 1]
                colour = "tab:green" if p == own else ("tab:red" if p == t else "0.6")
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_edgecolor(colour)
                    spine.set_linewidth(3)
            if r == 0:
                ax.set_title(column_titles[col], fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=9)
    handles = [Patch(color="tab:green", label="still the class of $x^*$"), Patch(color="tab:red", label="class t"),
               Patch(color="0.6", label="another class")]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=3, bbox_to_anchor=(0.5, legend_offset))
    fig.suptitle(title, fontsize=10)
    return fig


def top_image_panels(images: np.ndarray, panels: Sequence[tuple[str, np.ndarray]], title: str):
    """Szegedy et al.'s Figures 1-4: side by side, for each panel ``(heading, top)``, one row per direction
    with its most exciting images; ``top`` is ``[directions, k]`` indices into ``images`` (``[N, H, W]`` in
    [0, 1]). A blank column separates the panels. Returns the figure."""
    n_rows = max(len(top) for _, top in panels)
    k = panels[0][1].shape[1]
    n_cols = len(panels) * (k + 1) - 1
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(0.8 * n_cols, 0.85 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for p, (heading, top) in enumerate(panels):
        for r in range(len(top)):
            for c in range(k):
                ax = axes[r, c + p * (k + 1)]
                ax.axis("on")
                ax.imshow(images[int(top[r, c])], cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
        axes[0, p * (k + 1) + k // 2].set_title(heading, fontsize=9)
    fig.suptitle(title, fontsize=9, y=1.01)
    fig.tight_layout()
    return fig


def rate_heatmap(
    grid: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], title: str, xlabel: str, ylabel: str,
    label: str = "error rate",
):  # fmt: skip
    """A matrix of rates in [0, 1] as a heatmap with each cell's percentage written in it (Szegedy et al.'s
    transfer tables, drawn). ``grid`` is ``[rows, cols]``. Returns the figure."""
    grid = np.asarray(grid, dtype=float)
    fig, ax = plt.subplots(figsize=(1.1 * len(col_labels) + 2.5, 0.5 * len(row_labels) + 1.5))
    im = ax.imshow(grid, cmap="Reds", vmin=0, vmax=1)
    ax.grid(False)
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=7, color="white" if value > 0.6 else "black")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03, label=label)
    fig.tight_layout()
    return fig


def persistence_histogram(ax, natural: np.ndarray, adversarial: np.ndarray, success_rate: float, gamma: float,
                          title: str) -> None:  # fmt: skip
    """The thesis' Figures 14-16 on ``ax``: gamma-persistences of natural images (blue) and of adversarial
    examples (red), on 50 shared bins up to the 99.5th percentile of both."""
    top = float(np.quantile(np.concatenate([natural, adversarial]), 0.995))
    bins = np.linspace(0, top, 50)
    ax.hist(natural, bins=bins, color="tab:blue", alpha=0.6, label=f"natural ({len(natural)})")
    ax.hist(adversarial, bins=bins, color="tab:red", alpha=0.6,
            label=f"adversarial ({len(adversarial)}, {success_rate:.0%} success)")  # fmt: skip
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"{gamma}-persistence")
    ax.legend(fontsize=7)


def norm_histograms(ax, samples: dict[str, np.ndarray], title: str, bins: int = 80) -> None:
    """Histograms of the norms of several laws' samples on ``ax`` (Figure 19 of the thesis), on shared
    bins; ``samples`` maps each law's label (matplotlib mathtext allowed) to its norms."""
    values = list(samples.values())
    edges = np.linspace(min(v.min() for v in values), max(v.max() for v in values), bins)
    for label, v in samples.items():
        ax.hist(v, bins=edges, alpha=0.6, label=label)
    ax.set_title(title)
    ax.set_xlabel("norm")
    ax.legend(fontsize=8)


def persistence_path_curve(ax, t: np.ndarray, p: np.ndarray, classes: np.ndarray | None = None, **plot_kwargs) -> None:
    """The thesis' Figures 12 and 18 on ``ax``: gamma-persistence ``p`` at positions ``t`` along a path
    (0: natural image, 1: adversarial example), as returned by
    :func:`nngeom.adversarial_neighborhoods.persistence.persistence_along_path`; with ``classes``, each point
    is labelled with its predicted class. ``plot_kwargs`` go to ``ax.plot`` (marker, label, colour)."""
    t, p = np.asarray(t), np.asarray(p)
    ax.plot(t, p, **{"marker": ".", **plot_kwargs})
    if classes is not None:
        for ti, pi, ci in zip(t.tolist(), p.tolist(), np.asarray(classes).tolist()):
            ax.annotate(str(ci), (ti, pi), fontsize=6, textcoords="offset points", xytext=(0, 4), ha="center")
    ax.set_xlabel("position on the path")


def class_frequency_curves(
    ax,
    sigmas: np.ndarray,
    frequencies: np.ndarray,
    natural: int,
    adversarial: int | None = None,
    class_names: Sequence[str] | None = None,
    legend: bool = True,
) -> None:
    """The thesis' class-frequency plot (Figures 9, 11, 13, 17): one curve per class against sigma.

    The natural image's class is black, the adversarial class red, every other class that reaches 5 % at
    some sigma a thin coloured line (the rest are omitted to keep the plot readable).
    """
    names = list(class_names) if class_names is not None else [str(i) for i in range(frequencies.shape[1])]
    cmap = plt.get_cmap("tab10")
    for c in range(frequencies.shape[1]):
        f = frequencies[:, c]
        if c == natural:
            ax.plot(sigmas, f, color="black", lw=2.2, label=f"{names[c]} (natural class)")
        elif c == adversarial:
            ax.plot(sigmas, f, color="red", lw=2.2, label=f"{names[c]} (adversarial class)")
        elif f.max() >= 0.05:
            ax.plot(sigmas, f, color=cmap(c % 10), lw=0.9, alpha=0.8, label=names[c])
    ax.set_xlabel(r"$\sigma$")
    ax.set_ylabel("fraction of samples")
    ax.set_ylim(-0.02, 1.02)
    if legend:
        ax.legend(fontsize=7, ncol=2)


def region_polygons(
    ax,
    polygons: Sequence[np.ndarray],
    values: np.ndarray | None = None,
    cmap: str = "viridis",
    vmin: float = 0.0,
    vmax: float = 1.0,
    edgecolor: str = "0.45",
    linewidth: float = 0.3,
    highlight: int | None = None,
):
    """Fill the polygons of a partition (e.g. :class:`nngeom.linear_regions.planar.PlaneRegions`) by ``values`` (the
    activation rate) with thin grey edges, the transition boundaries; ``highlight`` outlines one region.
    Returns the collection (for a colour bar)."""
    from matplotlib.collections import PolyCollection

    coll = PolyCollection(
        list(polygons),
        array=values,
        cmap=cmap,
        edgecolors=edgecolor,
        linewidths=linewidth,
        facecolors="none" if values is None else None,
    )
    if values is not None:
        coll.set_clim(vmin, vmax)
    ax.add_collection(coll)
    if highlight is not None:
        ax.add_collection(
            PolyCollection([polygons[highlight]], facecolors="tab:red", alpha=0.6, edgecolors="k", linewidths=1.0)
        )
    _plane_axes(ax, polygons)
    return coll


def class_region_polygons(ax, cells: Sequence[tuple[np.ndarray, int]], n_classes: int, cmap: str = "tab10") -> None:
    """Fill classification cells ``(polygon, class)`` by class colour, with no edges inside a class."""
    from matplotlib.collections import PolyCollection

    colours = plt.get_cmap(cmap)(np.arange(n_classes) % plt.get_cmap(cmap).N)
    polys = [p for p, _ in cells]
    # edges in the face colour, wide enough to close the anti-aliasing seams between cells of one class
    ax.add_collection(
        PolyCollection(polys, facecolors=[colours[c] for _, c in cells], edgecolors="face", linewidths=0.6)
    )
    _plane_axes(ax, polys)


def _plane_axes(ax, polygons: Sequence[np.ndarray]) -> None:
    pts = np.concatenate(list(polygons))
    ax.set_xlim(pts[:, 0].min(), pts[:, 0].max())
    ax.set_ylim(pts[:, 1].min(), pts[:, 1].max())
    ax.set_aspect("equal")
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])


def image_array(x) -> np.ndarray:
    """Images ``[N, C, H, W]`` (or one ``[C, H, W]``), a tensor or array, as ``imshow`` takes them:
    ``[N, H, W]`` for one channel, ``[N, H, W, 3]`` for three."""
    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"parameter 'x' must be [N, C, H, W] or [C, H, W] with 1 or 3 channels, got {a.shape}")
    return a[:, 0] if a.shape[1] == 1 else a.transpose(0, 2, 3, 1)


def panel_row(panels: Sequence[tuple[str, np.ndarray, str]], title: str = "", size: float = 2.0):
    """One row of panels ``(caption, array, kind)``: ``kind`` "image" (an ``[H, W]`` or ``[H, W, 3]`` image
    in [0, 1]), "signed" (a difference, on a symmetric red-blue scale, averaged over colour channels) or
    "features" (a feature vector of a square length, drawn as a square with its own colour bar)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size + 0.5), squeeze=False)
    for ax, (caption, arr, kind) in zip(axes[0], panels):
        arr = np.asarray(arr, dtype=np.float64)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(caption, fontsize=7)
        if kind == "image":
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
        elif kind == "signed":
            arr = arr.mean(-1) if arr.ndim == 3 else arr
            lim = float(np.abs(arr).max()) or 1.0
            ax.imshow(arr, cmap="RdBu_r", vmin=-lim, vmax=lim)
        elif kind == "features":
            side = int(round(np.sqrt(arr.size)))
            if side * side != arr.size:
                raise ValueError(f"panel {caption!r}: {arr.size} features do not make a square")
            im = ax.imshow(arr.reshape(side, side), cmap="viridis")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
        else:
            raise ValueError(f"panel {caption!r}: kind must be 'image', 'signed' or 'features', got {kind!r}")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
