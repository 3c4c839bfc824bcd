"""Decision-boundary tools (nngeom.adversarial_neighborhoods.boundaries): wedge projection vs cvxpy, orthant
dimension recovery,
bisection to a boundary, the flat-SVD distribution."""

import math

import pytest
import torch
from torch import nn

from nngeom.adversarial_neighborhoods.boundaries import (
    Orthant,
    Wedge,
    boundary_point,
    centerline,
    cvxpy_projection,
    degenerate_count,
    dominant_count,
    flat_svd,
    parallel_crossing,
    project_to_boundary,
    random_differences,
    sequential_projection,
    singular_values,
)


@pytest.mark.parametrize("thetas", [[0.4], [0.3, -0.5, 1.2], [1.4, 1.3, 0.2, -1.1]])
def test_wedge_projection_matches_cvxpy(thetas):
    pytest.importorskip("cvxpy")
    n = 7
    w = Wedge(n, thetas)
    g = torch.Generator().manual_seed(len(thetas))
    x = torch.randn(40, n, generator=g, dtype=torch.float64) * 2
    x[:8] = centerline(w, torch.rand(8, generator=g, dtype=torch.float64) + 0.1)  # some points inside
    x[:8, w.k :] = torch.randn(8, n - w.k, generator=g, dtype=torch.float64)
    z = w.project(x)
    N = w.normals().numpy()
    assert (z.numpy() @ N.T).min() > -1e-12  # feasible
    assert w.contains(x).any() and (~w.contains(x)).any()  # both kinds of points are tested
    ref = cvxpy_projection(w.normals(), x)
    ours, theirs = ((z - x) ** 2).sum(1), ((ref - x) ** 2).sum(1)
    assert bool((ours <= theirs + 1e-9).all())
    assert float((z - ref).abs().max()) < 1e-5


def test_zero_angle_wedge_is_the_orthant_and_inside_points_stay():
    x = torch.randn(200, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    o, w = Orthant(6, 3), Wedge(6, [0.0, 0.0])
    assert torch.allclose(w.project(x), o.project(x), atol=1e-12)
    inside = w.contains(x)
    assert torch.equal(w.project(x)[inside], x[inside])
    b = o.project_boundary(x)
    assert torch.all(b[:, :3].min(1).values.abs() < 1e-15) and torch.all(b[:, :3] >= 0)


def test_crossings_cross_the_wedge():
    w = Wedge(5, [0.5, 1.0])
    t = torch.linspace(-1, 1, 21, dtype=torch.float64)
    inside = w.contains(centerline(w, t))
    assert torch.equal(inside, t > 0)  # the centerline is inside for every positive t
    # the parallel line at eps enters the wedge only while eps > t tan(theta) for both angles
    par = w.contains(parallel_crossing(w, t, eps=0.2))
    assert torch.equal(par, (t > 0) & (0.2 > t * math.tan(1.0)))


@pytest.mark.parametrize("k", [1, 2, 4, 7])
def test_orthant_dimension_is_recovered_from_random_differences(k):
    """ANX-F25's premise: Gaussian samples (mean 0) projected onto a k-orthant show k dropped singular values."""
    g = torch.Generator().manual_seed(k)
    n = 20
    x = torch.randn(3000, n, generator=g, dtype=torch.float64)
    z = Orthant(n, k).project(x)
    sv = singular_values(random_differences(z, 3000, generator=g))
    assert degenerate_count(sv) == k
    # without the projection nothing stands out
    assert degenerate_count(singular_values(random_differences(x, 3000, generator=g))) == 0


def test_degenerate_count_limit():
    sv = torch.tensor([10.0, 9.8, 9.7, 3.0, 2.9, 0.1])
    assert degenerate_count(sv) == 1  # 3.0 / 0.1 is the largest ratio
    assert degenerate_count(sv, largest=3) == 1
    assert degenerate_count(sv[:-1]) == 2


def _linear_classifier(d: int = 10):
    torch.manual_seed(0)
    net = nn.Linear(d, 2).double()
    with torch.no_grad():
        net.bias.zero_()
    normal = (net.weight[0] - net.weight[1]).detach()
    return net, normal


def test_bisection_lands_on_the_boundary_of_a_linear_classifier():
    net, normal = _linear_classifier()
    g = torch.Generator().manual_seed(1)
    a = torch.randn(30, 10, generator=g, dtype=torch.float64)
    b = a - 2 * ((a @ normal) / normal.dot(normal))[:, None] * normal  # the mirror image: the other class
    found = boundary_point(net, a, b, tol=1e-9)
    dist = (found.midpoint @ normal).abs() / normal.norm()
    assert float(dist.max()) < 1e-9
    assert torch.equal(found.class_start, net(a).argmax(1)) and torch.all(found.class_other != found.class_start)
    assert torch.allclose(found.fraction, torch.full((30,), 0.5, dtype=torch.float64), atol=1e-8)
    with pytest.raises(ValueError, match="classified alike"):
        boundary_point(net, a, a.clone())


def test_samples_are_projected_onto_the_boundary():
    net, normal = _linear_classifier()
    pa = normal / normal.norm()
    pb = -pa
    g = torch.Generator().manual_seed(2)
    samples = 0.3 * torch.randn(50, 10, generator=g, dtype=torch.float64)
    on = project_to_boundary(net, samples, pa, pb, tol=1e-10).midpoint
    assert float(((on @ normal).abs() / normal.norm()).max()) < 1e-9


def test_flat_svd_keeps_vectors_and_norm():
    x = torch.randn(30, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    f = flat_svd(x)
    s = torch.linalg.svdvals(f)
    assert torch.allclose(s, s[0].expand_as(s), rtol=1e-12)
    assert math.isclose(float(f.norm()), float(x.norm()), rel_tol=1e-12)
    _, _, V1 = torch.linalg.svd(x, full_matrices=False)
    _, _, V2 = torch.linalg.svd(f, full_matrices=False)
    assert torch.allclose(V1.T @ V1, V2.T @ V2, atol=1e-10)  # the same row space


def test_random_differences_never_pair_a_row_with_itself_and_errors():
    x = torch.arange(5, dtype=torch.float64)[:, None].repeat(1, 3)
    d = random_differences(x, 500, generator=torch.Generator().manual_seed(0))
    assert torch.all(d.abs().sum(1) > 0)
    with pytest.raises(ValueError, match="n_pairs"):
        random_differences(x, 0)
    with pytest.raises(ValueError, match="thetas"):
        Wedge(4, [2.0])
    with pytest.raises(ValueError, match="'k'"):
        Orthant(3, 4)


def test_sequential_projection_is_exact_for_the_orthant_only():
    x = torch.randn(500, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    o = Orthant(6, 3)
    normals = torch.eye(6, dtype=torch.float64)[:3]
    assert torch.allclose(sequential_projection(normals, x), o.project(x), atol=1e-15)
    w = Wedge(6, [1.0, 1.2])
    seq = sequential_projection(w.normals(), x)
    exact = w.project(x)
    feasible = (seq @ w.normals().T).min(1).values >= -1e-9
    farther = (seq - x).norm(dim=1) > (exact - x).norm(dim=1) + 1e-9
    assert (~feasible | farther).any()  # the sequential method misses the nearest point for some points
    # where its answer is in the wedge, the exact projection is never farther
    assert ((exact - x).norm(dim=1) <= (seq - x).norm(dim=1) + 1e-12)[feasible].all()


def test_dominant_count():
    assert dominant_count(torch.tensor([50.0, 48.0, 3.0, 2.9, 2.8])) == 2
    assert dominant_count(torch.tensor([50.0, 5.0, 4.9, 4.8])) == 1
