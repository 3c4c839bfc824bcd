"""Exact plane regions (depth-wise exclusion) against dense sampling of the same plane."""

import numpy as np
import pytest
import torch
from torch import nn

from nngeom.linear_regions.planar import _area, plane_regions, plane_through
from nngeom.linear_regions.regions import activation_pattern


def _inside(poly: np.ndarray, pts: np.ndarray, margin: float) -> np.ndarray:
    """Points strictly inside a counter-clockwise convex polygon, by more than ``margin``."""
    ok = np.ones(len(pts), dtype=bool)
    for p, q in zip(poly, np.roll(poly, -1, axis=0)):
        e = q - p
        cross = e[0] * (pts[:, 1] - p[1]) - e[1] * (pts[:, 0] - p[0])
        ok &= cross > margin * np.linalg.norm(e)
    return ok


def _net(d: int, batch_norm: bool, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = d
    for _ in range(3):
        layers.append(nn.Linear(width, 8))
        if batch_norm:
            bn = nn.BatchNorm1d(8)
            bn.running_mean.uniform_(-0.3, 0.3)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.2, 0.2)
            layers.append(bn)
        layers += [nn.ReLU(), nn.Dropout(0.2)]
        width = 8
    layers.append(nn.Linear(8, 3))
    return nn.Sequential(*layers).eval()


@pytest.mark.parametrize("d,batch_norm", [(2, False), (5, True)])
def test_plane_regions_tile_the_rectangle_and_match_sampled_patterns(d, batch_norm):
    model = _net(d, batch_norm, seed=d)
    g = torch.Generator().manual_seed(0)
    if d == 2:
        origin, basis = torch.zeros(2), torch.eye(2)
    else:
        origin, basis = plane_through(*torch.randn(3, d, generator=g))
    extent = (-1.5, 2.0, -1.0, 1.5)
    pr = plane_regions(model, origin, basis, extent)
    assert len(pr) > 10
    total = (extent[1] - extent[0]) * (extent[3] - extent[2])
    assert sum(_area(p) for p in pr.polygons) == pytest.approx(total, rel=1e-9)
    pts = np.random.default_rng(1).uniform([extent[0], extent[2]], [extent[1], extent[3]], size=(20000, 2))
    x = (origin.double()[None] + torch.from_numpy(pts) @ basis.double()).float()
    pat = activation_pattern(model, x).numpy()
    logits = model(x).detach().numpy()
    found = np.zeros(len(pts), dtype=int)
    for k, poly in enumerate(pr.polygons):
        inside = _inside(poly, pts, 1e-6)
        found += inside
        assert np.all(pat[inside] == pr.patterns[k])
        # the logits are affine on the polygon and agree with the network
        np.testing.assert_allclose(pts[inside] @ pr.logit_A[k].T + pr.logit_a[k], logits[inside], atol=1e-4)
    assert found.max() == 1 and (found == 1).mean() > 0.99  # the rest lie within 1e-6 of an edge
    # classification cells: the winning class of every sampled point
    won = np.full(len(pts), -1)
    for poly, c in pr.class_cells():
        won[_inside(poly, pts, 1e-6)] = c
    seen = won >= 0
    assert seen.mean() > 0.99 and np.all(won[seen] == logits[seen].argmax(1))
    # the depth-wise exclusion refines: each layer's partition has at least as many pieces
    counts = [len(p) for p in pr.layer_polygons]
    assert counts == sorted(counts) and counts[-1] == len(pr)


def test_plane_regions_errors_are_named():
    with pytest.raises(ValueError, match="Conv2d"):
        plane_regions(
            nn.Sequential(nn.Conv2d(1, 1, 2), nn.ReLU(), nn.Flatten(), nn.Linear(1, 2)),
            torch.zeros(4),
            torch.zeros(2, 4),
        )
    with pytest.raises(ValueError, match="collinear"):
        plane_through(torch.zeros(3), torch.ones(3), 2 * torch.ones(3))
    with pytest.raises(ValueError, match="extent"):
        plane_regions(_net(2, False, 0), torch.zeros(2), torch.eye(2), (1.0, 0.0, 0.0, 1.0))


def test_region_of_and_sizes():
    model = _net(2, False, seed=4)
    pr = plane_regions(model, torch.zeros(2), torch.eye(2), (-1.0, 1.0, -1.0, 1.0))
    u = np.array([0.123, -0.456])
    k = pr.region_of(u)
    pat = activation_pattern(model, torch.tensor(u, dtype=torch.float32)[None])[0].numpy()
    assert np.all(pr.patterns[k] == pat)
    for layer in range(3):
        poly = pr.layer_polygons[layer][pr.region_of(u, layer)]
        assert _area(poly) >= _area(pr.polygons[k]) - 1e-12  # each layer only cuts the region smaller
    assert pr.areas.sum() == pytest.approx(4.0) and pr.size_spread() > 0
    with pytest.raises(ValueError, match="outside"):
        pr.region_of(np.array([3.0, 0.0]))


def test_size_spread_by_hand():
    """Squares of area 1, 10 and 100: log10 areas 0, 1, 2, whose (population) standard deviation is
    sqrt(2/3); equal areas give 0."""
    from nngeom.linear_regions.planar import PlaneRegions

    def square(side: float, x0: float) -> np.ndarray:
        return np.array([[x0, 0.0], [x0 + side, 0.0], [x0 + side, side], [x0, side]])

    def regions(polys):
        n = len(polys)
        return PlaneRegions(
            polygons=polys,
            patterns=np.zeros((n, 1), dtype=bool),
            logit_A=np.zeros((n, 2, 2)),
            logit_a=np.zeros((n, 2)),
            layer_polygons=[polys],
            layer_sizes=[1],
            extent=(0, 20, 0, 20),
        )

    pr = regions([square(1.0, 0.0), square(np.sqrt(10.0), 2.0), square(10.0, 6.0)])
    np.testing.assert_allclose(pr.areas, [1.0, 10.0, 100.0])
    assert pr.size_spread() == pytest.approx(np.sqrt(2 / 3), rel=1e-12)
    assert regions([square(2.0, 0.0), square(2.0, 3.0)]).size_spread() == pytest.approx(0.0, abs=1e-15)
    # a triangle of legs 2 and 1 (area 1) next to a square of area 100: log10 areas 0 and 2, spread 1
    tri = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    assert regions([tri, square(10.0, 5.0)]).size_spread() == pytest.approx(1.0, rel=1e-12)
