"""The exact linear and classification regions of a ReLU net on a 2-D plane through input space.

On the plane ``x(u) = origin + u_1 b_1 + u_2 b_2`` every pre-activation is affine in ``u`` on each
linear region, so the regions are convex polygons. :func:`plane_regions` finds them by the depth-wise
exclusion of Zhang & Wu (Figure 2): start from a rectangle; each unit of the first hidden layer cuts it
along a line; each unit of the next layer cuts every piece along the line that unit has on that piece;
and so on. The result is a list of polygons, no grid, so the transition boundaries are exact and thin
regions are never lost. On each final polygon the logits are affine too, and cutting it by the lines
where one logit overtakes another gives the classification regions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nngeom.core.device import eval_mode
from nngeom.linear_regions.regions import _layers, batch_norm_affine

__all__ = ["PlaneRegions", "plane_regions", "plane_through"]

_PLANE_LAYERS = (nn.Flatten, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Identity)


def _area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _split(poly: np.ndarray, a: np.ndarray, c: float, tol: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The parts of a convex polygon where ``a . u + c >= 0`` and ``<= 0`` (``None`` when empty)."""
    v = poly @ a + c
    scale = tol * (np.abs(poly) @ np.abs(a) + abs(c) + 1.0)
    v = np.where(np.abs(v) <= scale, 0.0, v)
    if np.all(v >= 0):
        return poly, None
    if np.all(v <= 0):
        return None, poly
    pos, neg = [], []
    k = len(poly)
    for i in range(k):
        p, q, vp, vq = poly[i], poly[(i + 1) % k], v[i], v[(i + 1) % k]
        if vp >= 0:
            pos.append(p)
        if vp <= 0:
            neg.append(p)
        if (vp > 0 and vq < 0) or (vp < 0 and vq > 0):
            cross = p + (vp / (vp - vq)) * (q - p)
            pos.append(cross)
            neg.append(cross)
    return np.array(pos), np.array(neg)


@dataclass
class PlaneRegions:
    """Linear regions of a net on a plane, in plane coordinates ``u``.

    ``polygons[k]`` (vertices ``[n, 2]``, counter-clockwise) has activation pattern ``patterns[k]``;
    ``logit_A[k] u + logit_a[k]`` are the logits on it. ``layer_polygons[l]`` is the partition after the
    first ``l + 1`` hidden layers (the steps of the depth-wise exclusion) and ``layer_sizes`` the units
    per hidden layer.
    """

    polygons: list[np.ndarray]
    patterns: np.ndarray
    logit_A: np.ndarray
    logit_a: np.ndarray
    layer_polygons: list[list[np.ndarray]]
    layer_sizes: list[int]
    extent: tuple[float, float, float, float]
    _cells: list[tuple[np.ndarray, int]] = field(default=None, repr=False)  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.polygons)

    @property
    def areas(self) -> np.ndarray:
        """Area of each region in the plane's coordinates (regions cut by the rectangle's edge count
        only their part inside it)."""
        return np.array([_area(p) for p in self.polygons])

    def size_spread(self) -> float:
        """Standard deviation of ``log10(area)`` over the regions: 0 when all are the same size."""
        return float(np.std(np.log10(self.areas)))

    def region_of(self, u: np.ndarray, layer: int | None = None) -> int:
        """Index of the region that contains the plane point ``u`` (the first, on a shared edge), among
        the final regions or, with ``layer``, those after the first ``layer + 1`` hidden layers."""
        u = np.asarray(u, dtype=np.float64)
        polys = self.polygons if layer is None else self.layer_polygons[layer]
        for k, p in enumerate(polys):
            e = np.roll(p, -1, axis=0) - p
            if np.all(e[:, 0] * (u[1] - p[:, 1]) - e[:, 1] * (u[0] - p[:, 0]) >= -1e-12):
                return k
        raise ValueError(f"point {u.tolist()} is outside the plane's rectangle {self.extent}")

    @property
    def activation_rate(self) -> np.ndarray:
        """Fraction of hidden units active on each region."""
        return self.patterns.mean(1)

    def class_cells(self) -> list[tuple[np.ndarray, int]]:
        """``(polygon, class)`` pieces: each linear region cut where the winning logit changes."""
        if self._cells is None:
            cells = []
            n_classes = self.logit_A.shape[1]
            for poly, A, a in zip(self.polygons, self.logit_A, self.logit_a):
                for c in range(n_classes):
                    piece: np.ndarray | None = poly
                    for j in range(n_classes):
                        if j == c or piece is None:
                            continue
                        piece, _ = _split(piece, A[c] - A[j], float(a[c] - a[j]), 1e-12)
                    if piece is not None and len(piece) >= 3 and _area(piece) > 0:
                        cells.append((piece, c))
            self._cells = cells
        return self._cells


def plane_through(x0: Tensor, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    """``(origin, basis [2, d])`` of the plane with ``x0, x1, x2`` at ``u = (0, 0), (1, 0), (0, 1)``."""
    x0, x1, x2 = (t.reshape(-1).double() for t in (x0, x1, x2))
    basis = torch.stack([x1 - x0, x2 - x0])
    if torch.linalg.matrix_rank(basis) < 2:
        raise ValueError("the three points are collinear: they span no plane")
    return x0, basis


@torch.no_grad()
def plane_regions(
    model: nn.Module,
    origin: Tensor,
    basis: Tensor,
    extent: tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0),
    max_regions: int = 200_000,
) -> PlaneRegions:
    """Every linear region of a fully connected ReLU ``model`` on the rectangle ``extent`` of a plane.

    Args:
        model: ``nn.Sequential`` of Flatten / Linear / BatchNorm1d (eval) / ReLU / Dropout layers
            ending in a Linear layer (the logits).
        origin: ``[d]`` input at ``u = 0``; basis: ``[2, d]``, the input moves by ``basis[i]`` per unit of
            ``u_i`` (see :func:`plane_through`).
        extent: ``(u1_min, u1_max, u2_min, u2_max)``.
        max_regions: stop with an error beyond this many regions (a guard for wide nets).
    """
    layers = _layers(model)
    for m in layers:
        if not isinstance(m, _PLANE_LAYERS):
            raise ValueError(
                f"plane_regions supports fully connected nets of {[c.__name__ for c in _PLANE_LAYERS]}; "
                f"got a {type(m).__name__}"
            )
    if not isinstance(layers[-1], nn.Linear):
        raise ValueError("the model must end in a Linear layer (the logits)")
    origin = origin.reshape(-1).double().cpu()
    basis = basis.double().cpu()
    if basis.shape != (2, len(origin)):
        raise ValueError(f"basis must be [2, {len(origin)}], got {tuple(basis.shape)}")
    u0, u1, v0, v1 = (float(e) for e in extent)
    if not (u0 < u1 and v0 < v1):
        raise ValueError(f"extent must be (u1_min, u1_max, u2_min, u2_max) with min < max, got {extent}")
    with eval_mode(model):
        polys = [np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])]
        J = basis.T.numpy()[None]  # [P, n, 2]: the current layer's values as affine maps of u
        v = origin.numpy()[None]  # [P, n]
        patterns = np.zeros((1, 0), dtype=bool)
        layer_polys, sizes = [], []
        for m in layers:
            if isinstance(m, (nn.Flatten, nn.Dropout, nn.Identity)):
                continue
            if isinstance(m, nn.Linear):
                W = m.weight.detach().double().cpu().numpy()
                b = m.bias.detach().double().cpu().numpy() if m.bias is not None else 0.0
                J = np.einsum("hn,pnk->phk", W, J)
                v = v @ W.T + b
            elif isinstance(m, nn.BatchNorm1d):
                scale, shift = (t.cpu().numpy() for t in batch_norm_affine(m))
                J = J * scale[None, :, None]
                v = v * scale + shift
            elif isinstance(m, nn.ReLU):
                new_polys, new_J, new_v, new_pat = [], [], [], []
                for poly, Jp, vp, pat in zip(polys, J, v, patterns):
                    pieces = [(poly, np.zeros(0, dtype=bool))]
                    for unit in range(len(vp)):
                        nxt = []
                        for piece, signs in pieces:
                            on, off = _split(piece, Jp[unit], float(vp[unit]), 1e-12)
                            for part, s in ((on, True), (off, False)):
                                if part is not None and len(part) >= 3 and _area(part) > 1e-18:
                                    nxt.append((part, np.append(signs, s)))
                        pieces = nxt
                    for piece, signs in pieces:
                        new_polys.append(piece)
                        new_J.append(Jp * signs[:, None])
                        new_v.append(vp * signs)
                        new_pat.append(np.concatenate([pat, signs]))
                    if len(new_polys) > max_regions:
                        raise RuntimeError(f"plane_regions: more than max_regions={max_regions} regions")
                polys, J, v, patterns = new_polys, np.stack(new_J), np.stack(new_v), np.stack(new_pat)
                layer_polys.append(list(polys))
                sizes.append(J.shape[1])
        if not sizes:
            raise ValueError("the model has no ReLU layer")
    return PlaneRegions(polys, patterns, J, v, layer_polys, sizes, (u0, u1, v0, v1))
