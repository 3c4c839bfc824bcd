"""Decision-boundary geometry (Bell, thesis Part III): test objects, boundary points, SVD of samples.

Test objects (section 30.4). The *k-orthant* in n dimensions is ``{x : x_i > 0 for i <= k}``; the
*k-Theta-wedge* tips it towards ``x_1``: ``{x : x_1 > 0, x_i > x_1 tan(theta_{i-1}) for 1 < i <= k}``
(Definitions 30.7-30.8; coordinates are 1-based there, 0-based here). Their boundaries have a known
dimension and known angles, so a method that measures a decision boundary can be checked on them.

Projection onto a wedge. The thesis builds it from sequential projections and corrections of the
non-orthogonal normals (section 30.4, left unfinished). Here it is solved exactly: for a fixed first
coordinate ``s >= 0`` the nearest point has ``z_i = max(x_i, s tan(theta_i))`` (the constraints separate),
so the projection minimises the convex piecewise quadratic ``(s - x_1)^2 + sum_i max(0, s t_i - x_i)^2``
over ``s >= 0``; its derivative is increasing, so bisection brackets the root and the root itself comes
in closed form on the bracketing piece. Validated against cvxpy in the tests.

Network boundaries (section 31). A point on the boundary between two differently classified inputs is
found by bisection along the segment (:func:`boundary_point`); samples around it are moved onto the
boundary by bisecting towards the parent of the other class (:func:`project_to_boundary`), and the SVD of
random differences of the projected samples (:func:`random_differences`, :func:`singular_values`)
shows the boundary's local dimension as a set of dropped singular values (:func:`degenerate_count`).
The thesis' "flat SVD" distribution (:func:`flat_svd`) replaces a Gaussian sample's singular values by
equal ones, so that the sample itself adds no spread of singular values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nngeom.core.device import predict
from nngeom.core.validation import check_positive, check_positive_int

# points classified per forward pass by the boundary searches
_BATCH = 4096

__all__ = [
    "Orthant",
    "Wedge",
    "sequential_projection",
    "cvxpy_projection",
    "centerline",
    "parallel_crossing",
    "boundary_point",
    "BoundaryPoints",
    "project_to_boundary",
    "flat_svd",
    "random_differences",
    "singular_values",
    "degenerate_count",
    "dominant_count",
    "ProjectionCheck",
    "check_projections",
    "BoundarySpectra",
    "boundary_spectra",
]


def _check_points(x: Tensor, n: int, name: str = "x") -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != n:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"parameter '{name}' must be a tensor [m, {n}], got {shape}")
    return x


class Orthant:
    """The k-orthant ``{x in R^n : x_i > 0 for the first k coordinates}`` (Definition 30.7).

    Example::

        o = Orthant(n=20, k=3)
        o.contains(x)      # [m] bool
        o.project(x)       # nearest points of the closed orthant: the first k coordinates clamped at 0
    """

    def __init__(self, n: int, k: int) -> None:
        self.n = check_positive_int("n", n)
        self.k = check_positive_int("k", k)
        if k > n:
            raise ValueError(f"parameter 'k' must be at most n = {n}, got {k}")

    def contains(self, x: Tensor) -> Tensor:
        return (_check_points(x, self.n)[:, : self.k] > 0).all(1)

    def project(self, x: Tensor) -> Tensor:
        """Nearest points of the closed orthant (its normals are orthogonal, so clamping is exact: Lemma 30.11)."""
        z = _check_points(x, self.n).clone()
        z[:, : self.k] = z[:, : self.k].clamp_min(0)
        return z

    def project_boundary(self, x: Tensor) -> Tensor:
        """Nearest points of the orthant's boundary: points outside go to the closed orthant (which puts
        them on its boundary); points inside drop their smallest constrained coordinate to 0."""
        z = self.project(x)
        inside = self.contains(x)
        if inside.any():
            zi = z[inside]
            j = zi[:, : self.k].argmin(1)
            zi[torch.arange(len(zi)), j] = 0
            z[inside] = zi
        return z


class Wedge:
    """The k-Theta-wedge ``{x : x_1 > 0, x_i > x_1 tan(theta_{i-1}), 1 < i <= k}`` (Definition 30.8),
    with ``k = len(thetas) + 1`` and angles in radians in (-pi/2, pi/2); all angles 0 give the orthant.

    Example::

        w = Wedge(n=10, thetas=[0.3, 0.6])
        z = w.project(x)     # exact nearest points of the closed wedge, [m, 10]
    """

    def __init__(self, n: int, thetas: Sequence[float]) -> None:
        self.n = check_positive_int("n", n)
        thetas = [float(t) for t in thetas]
        if not all(-math.pi / 2 < t < math.pi / 2 for t in thetas):
            raise ValueError(f"parameter 'thetas' must lie in (-pi/2, pi/2), got {thetas}")
        self.k = len(thetas) + 1
        if self.k > n:
            raise ValueError(f"parameter 'thetas' gives k = {self.k} > n = {n}")
        self.thetas = thetas
        self.tan = torch.tensor([math.tan(t) for t in thetas], dtype=torch.float64)

    def contains(self, x: Tensor) -> Tensor:
        x = _check_points(x, self.n)
        t = self.tan.to(x)
        return (x[:, 0] > 0) & (x[:, 1 : self.k] > x[:, :1] * t).all(1)

    def normals(self) -> Tensor:
        """Inward unit normals [k, n] of the wedge's k faces: ``e_1`` and ``(e_i - tan(theta) e_1)/norm``."""
        N = torch.zeros(self.k, self.n, dtype=torch.float64)
        N[0, 0] = 1.0
        for i, t in enumerate(self.tan.tolist(), start=1):
            N[i, i], N[i, 0] = 1.0, -t
        return N / N.norm(dim=1, keepdim=True)

    def project(self, x: Tensor, iterations: int = 100) -> Tensor:
        """Exact nearest points of the closed wedge ([m, n]; see the module docstring)."""
        x = _check_points(x, self.n)
        xd = x.double()
        x1, rest = xd[:, 0], xd[:, 1 : self.k]
        t = self.tan.to(xd)

        def slope(s: Tensor) -> Tensor:  # half the derivative of the objective in s
            return s - x1 + ((s[:, None] * t - rest).clamp_min(0) * t).sum(1)

        lo = torch.zeros_like(x1)
        hi = x1.clamp_min(0) + 1.0
        while (slope(hi) < 0).any():  # grow until the bracket holds the root (the slope is increasing)
            hi = torch.where(slope(hi) < 0, 2 * hi, hi)
        for _ in range(iterations):
            mid = (lo + hi) / 2
            neg = slope(mid) < 0
            lo, hi = torch.where(neg, mid, lo), torch.where(neg, hi, mid)
        # on the bracketing piece the active set is fixed and the root is a closed form
        s_mid = (lo + hi) / 2
        active = (s_mid[:, None] * t > rest).to(xd)
        s = (x1 + (active * t * rest).sum(1)) / (1 + (active * t * t).sum(1))
        s = torch.where(slope(torch.zeros_like(x1)) >= 0, torch.zeros_like(s), s).clamp_min(0)
        z = xd.clone()
        z[:, 0] = s
        z[:, 1 : self.k] = torch.maximum(rest, s[:, None] * t)
        return z.to(x.dtype)


def sequential_projection(normals: Tensor, x: Tensor) -> Tensor:
    """The thesis' first method (Definition 30.10 with Lemma 30.11): find the half-spaces
    ``{z : <v_i, z> >= 0}`` that do not contain ``x`` and project onto their boundary hyperplanes one after
    another. Exact when those normals are mutually orthogonal (an orthant); for a tipped wedge the
    result can be off the wedge or farther than the nearest point, which is why :meth:`Wedge.project`
    solves the projection exactly. ``normals`` [k, n] are unit rows."""
    x = _check_points(x, normals.shape[1])
    v = normals.to(x)
    z = x.clone()
    violated = (x @ v.T) < 0
    for i in range(len(v)):
        rows = violated[:, i]
        z[rows] = z[rows] - (z[rows] @ v[i])[:, None] * v[i]
    return z


def cvxpy_projection(normals: Tensor, x: Tensor, tol: float = 1e-10) -> Tensor:
    """Reference: the nearest points of the cone ``{z : normals z >= 0}`` by cvxpy (Clarabel, tolerances
    ``tol``), one quadratic program per point. Slow; for checking :meth:`Wedge.project`."""
    import cvxpy as cp
    import numpy as np

    x = _check_points(x, normals.shape[1])
    N = normals.double().cpu().numpy()
    out = []
    for xi in x.double().cpu().numpy():
        v = cp.Variable(len(xi))
        cp.Problem(cp.Minimize(cp.sum_squares(v - xi)), [N @ v >= 0]).solve(
            solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol
        )
        out.append(v.value)
    return torch.tensor(np.array(out), dtype=x.dtype)


@dataclass
class ProjectionCheck:
    """The exact projection onto an orthant or wedge against cvxpy and against projecting onto one face
    after the other (:func:`check_projections`; the thesis' Lemma 30.11 and its counterexample)."""

    exact_vs_cvxpy: float  # largest coordinate difference
    sequential_vs_exact: float
    sequential_vs_cvxpy: float
    sequential_outside: int  # sequential results outside the object
    sequential_farther: int  # feasible sequential results farther than the nearest point
    points_outside: int  # of the points projected, those outside the object
    sequential_wrong_outside: int  # among those, sequential results infeasible or not the nearest point
    exact_seconds: float
    cvxpy_seconds: float


def check_projections(obj: Wedge, x: Tensor, nearest_tolerance: float) -> ProjectionCheck:
    """Project the points ``x`` [m, n] onto the wedge ``obj`` (all angles 0: the orthant) three ways:
    exactly (``obj.project``), with cvxpy, and face after face (:func:`sequential_projection`, which Lemma
    30.11 shows exact only for orthogonal normals). A sequential result counts as wrong if it is infeasible
    or more than ``nearest_tolerance`` from the exact one."""
    import time

    normals = obj.normals()
    t0 = time.perf_counter()
    exact = obj.project(x)
    t_exact = time.perf_counter() - t0
    seq = sequential_projection(normals, x)
    t0 = time.perf_counter()
    ref = cvxpy_projection(normals, x)
    t_cvx = time.perf_counter() - t0
    d_seq, d_ref = ((q - x).norm(dim=1) for q in (seq, ref))
    feasible = (seq @ normals.T).min(1).values >= -1e-9
    outside = (x @ normals.T).min(1).values < 0
    wrong = ~feasible | ((seq - exact).norm(dim=1) > nearest_tolerance)
    return ProjectionCheck(
        float((exact - ref).abs().max()), float((seq - exact).abs().max()), float((seq - ref).abs().max()),
        int((~feasible).sum()), int(((d_seq > d_ref + 1e-6) & feasible).sum()), int(outside.sum()),
        int((wrong & outside).sum()), t_exact, t_cvx,
    )  # fmt: skip


def centerline(wedge: Wedge, t: Tensor) -> Tensor:
    """The centerline crossing of a wedge (Definition 30.9): ``x_1 = t``, ``x_i = t tan(phi_{i-1})`` for
    ``1 < i <= k`` with ``phi = (theta + pi/2) / 2`` the bisector of the face at ``theta`` and the ``e_i``
    axis, 0 beyond ([len(t), n]). The thesis writes ``tan(theta/2)``, which lies outside the wedge it
    defines for ``theta > 0`` and on the orthant's boundary for ``theta = 0``; the bisector is the line
    through the middle of the wedge that the definition describes, and for ``theta = 0`` it is the
    orthant's diagonal."""
    t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
    x = torch.zeros(len(t), wedge.n, dtype=torch.float64)
    x[:, 0] = t
    slope = torch.tensor([math.tan((th + math.pi / 2) / 2) for th in wedge.thetas], dtype=torch.float64)
    x[:, 1 : wedge.k] = t[:, None] * slope
    return x


def parallel_crossing(wedge: Wedge, t: Tensor, eps: float) -> Tensor:
    """The x-eps-parallel crossing (Definition 30.9): ``x_1 = t`` and every other coordinate ``eps``."""
    t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
    x = torch.full((len(t), wedge.n), float(eps), dtype=torch.float64)
    x[:, 0] = t
    return x


@dataclass
class BoundaryPoints:
    """Points found by bisection: ``x`` [m, ...] the last point of the start's class, ``x_other`` the first
    of another class (their distance at most ``tol``), ``class_start`` and ``class_other`` [m], and
    ``fraction`` [m] where along each segment the boundary lies."""

    x: Tensor
    x_other: Tensor
    class_start: Tensor
    class_other: Tensor
    fraction: Tensor

    @property
    def midpoint(self) -> Tensor:
        return (self.x + self.x_other) / 2


def boundary_point(model: nn.Module, a: Tensor, b: Tensor, tol: float = 1e-6, max_iter: int = 200) -> BoundaryPoints:
    """Bisection along the segments ``a[j] -> b[j]`` for a point where the predicted class changes.

    Each ``a[j]`` and ``b[j]`` must be classified differently. The invariant is that the lower end keeps
    ``a``'s class and the upper end does not; the search stops when the ends are within ``tol`` (in the
    input's L2 norm). If the segment crosses several boundaries, one of them is found (not necessarily the
    first). Raises ValueError where a pair has the same class.
    """
    tol = check_positive("tol", tol)
    if a.shape != b.shape:
        raise ValueError(f"parameters 'a' and 'b' must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    ca, cb = predict(model, a, _BATCH), predict(model, b, _BATCH)
    same = ca == cb
    if same.any():
        raise ValueError(
            f"parameters 'a' and 'b': {int(same.sum())} pair(s) are classified alike (first index "
            f"{int(torch.nonzero(same)[0])}); a boundary point needs two classes"
        )
    lo = torch.zeros(len(a), dtype=torch.float64, device=a.device)
    hi = torch.ones_like(lo)
    d = b - a
    length = d.reshape(len(a), -1).norm(dim=1).double()
    view = (-1,) + (1,) * (a.ndim - 1)
    for _ in range(max_iter):
        if bool(((hi - lo) * length <= tol).all()):
            break
        mid = (lo + hi) / 2
        c = predict(model, a + mid.to(a.dtype).reshape(view) * d, _BATCH)
        keep = c == ca
        lo, hi = torch.where(keep, mid, lo), torch.where(keep, hi, mid)
    x_lo = a + lo.to(a.dtype).reshape(view) * d
    x_hi = a + hi.to(a.dtype).reshape(view) * d
    return BoundaryPoints(x_lo, x_hi, ca, predict(model, x_hi, _BATCH), (lo + hi) / 2)


def project_to_boundary(
    model: nn.Module, samples: Tensor, parent_a: Tensor, parent_b: Tensor, tol: float = 1e-6
) -> BoundaryPoints:
    """Move samples onto the decision boundary by bisecting towards the parent of the other class (the
    thesis' interpolation, section 31): a sample of ``parent_a``'s class goes towards ``parent_b`` and
    any other towards ``parent_a``. ``parent_a`` and ``parent_b`` are single inputs (no batch dimension)
    of different classes."""
    pa, pb = predict(model, torch.stack([parent_a, parent_b]), _BATCH)
    if pa == pb:
        raise ValueError("parameters 'parent_a' and 'parent_b' are classified alike")
    c = predict(model, samples, _BATCH)
    target = torch.where((c == pa).reshape((-1,) + (1,) * (samples.ndim - 1)), parent_b, parent_a)
    return boundary_point(model, samples, target, tol=tol)


def flat_svd(x: Tensor) -> Tensor:
    """The thesis' "flat SVD" version of a sample matrix ``x`` [m, d]: the same singular vectors with all
    ``r = min(m, d)`` singular values set equal to ``||x||_F / sqrt(r)``, which keeps the Frobenius norm.
    (The text writes the new values as ``|Sigma|_2``, which would multiply the norm by ``sqrt(r)``; it
    also says the norm is kept, which is what this does. Only the overall scale differs.)"""
    if x.ndim != 2:
        raise ValueError(f"parameter 'x' must be a matrix [m, d], got shape {tuple(x.shape)}")
    U, S, Vh = torch.linalg.svd(x, full_matrices=False)
    return (U * (S.norm() / math.sqrt(len(S)))) @ Vh


def random_differences(x: Tensor, n_pairs: int, generator: torch.Generator | None = None) -> Tensor:
    """Differences ``x[i] - x[j]`` of ``n_pairs`` random pairs ``i != j`` of rows of ``x`` [m, ...], flattened:
    [n_pairs, d]. Differences cancel what all samples share (the image on the boundary), leaving their spread."""
    n_pairs = check_positive_int("n_pairs", n_pairs)
    m = len(x)
    if m < 2:
        raise ValueError("parameter 'x' needs at least two rows")
    i = torch.randint(0, m, (n_pairs,), generator=generator)
    j = (i + torch.randint(1, m, (n_pairs,), generator=generator)) % m  # never equal to i
    flat = x.reshape(m, -1)
    return flat[i] - flat[j]


def singular_values(x: Tensor) -> Tensor:
    """Singular values of ``x`` [m, ...] flattened to [m, d], in decreasing order."""
    return torch.linalg.svdvals(x.reshape(len(x), -1).double())


def degenerate_count(sv: Tensor, largest: int | None = None) -> int:
    """How many singular values sit in a dropped group at the small end: the split at the largest ratio
    between consecutive values (sorted decreasingly). ``largest`` bounds the count (e.g. the dimension
    of the constrained subspace when it is known not to exceed it). Returns 0 when no gap stands out
    (the largest ratio below 1.15)."""
    s = torch.sort(sv.double(), descending=True).values
    s = s[s > s[0] * 1e-12]
    if len(s) < 2:
        return 0
    ratio = s[:-1] / s[1:]  # ratio[j]: the gap after value j; a split there drops len(s) - j - 1 values
    first = 0 if largest is None else max(0, len(ratio) - largest)
    j = first + int(ratio[first:].argmax())
    if float(ratio[j]) < 1.15:
        return 0
    return len(s) - (j + 1)


def dominant_count(sv: Tensor, largest: int = 5) -> int:
    """How many singular values stand out at the large end: the split at the largest ratio between
    consecutive values among the first ``largest + 1`` (sorted decreasingly)."""
    largest = check_positive_int("largest", largest)
    s = torch.sort(sv.double(), descending=True).values
    if len(s) < 2:
        return 0
    ratio = s[: min(largest, len(s) - 1)] / s[1 : min(largest, len(s) - 1) + 1]
    return int(ratio.argmax()) + 1


SAMPLINGS = ("gaussian", "flat")  # Gaussian samples, and the same samples with a flat spectrum (flat_svd)


@dataclass
class BoundarySpectra:
    """Singular values of samples projected onto the decision boundary around one boundary point
    (:func:`boundary_spectra`; the thesis' Figure 26). Dicts are keyed by sampling, ``"gaussian"`` or
    ``"flat"``."""

    class_start: int
    class_other: int
    fraction: float  # where on the segment start -> end the boundary point lies
    centred_over_noise: float  # Gaussian: largest singular value of the centred samples / that of the noise
    standing_out: int  # Gaussian: centred values above ``standout`` times the noise's largest
    parents_in_top_two: float | None  # flat: smaller share of either parent in the top two directions
    top_two: dict[str, float] = field(default_factory=dict)  # first / second singular value of the samples
    dominant: dict[str, int] = field(default_factory=dict)  # dominant_count of the random differences
    dropped: dict[str, int] = field(default_factory=dict)  # degenerate_count (at most 10) of the differences
    spectra: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # (samples, differences)


def boundary_spectra(
    model: nn.Module,
    start: Tensor,
    end: Tensor,
    *,
    sigma: float,
    n_samples: int,
    n_pairs: int,
    standout: float,
    parents: bool,
    generator: torch.Generator | None = None,
) -> BoundarySpectra:
    """The thesis' section 31 at one boundary point: find where the segment ``start -> end`` (single inputs
    of different classes) crosses the boundary, draw ``n_samples`` Gaussian samples of scale ``sigma``
    around it (and their flat-spectrum version), project them onto the boundary, and measure the singular
    values of the projected samples and of ``n_pairs`` random differences between them. With ``parents``
    (two test images), also how much of each parent the top two directions of the flat samples hold.

    ``generator`` draws the samples, then each sampling's pairs (in that order).
    """
    bp = boundary_point(model, start[None], end[None], tol=1e-6)
    xb = bp.midpoint[0]
    z = torch.randn(n_samples, xb.numel(), generator=generator).to(xb.device)
    out = BoundarySpectra(int(bp.class_start), int(bp.class_other), float(bp.fraction), math.nan, 0, None)
    for sampling, draw in zip(SAMPLINGS, (z, flat_svd(z))):
        samples = xb + sigma * draw.reshape(n_samples, *xb.shape)
        on = project_to_boundary(model, samples, start, end, tol=1e-7).midpoint
        sv_raw = singular_values(on)
        flat_on = on.reshape(len(on), -1).double()
        if sampling == "gaussian":  # centred: does anything but the image stand out above the noise?
            noise = (sigma * draw).reshape(n_samples, -1).double()
            sv_noise = singular_values(noise - noise.mean(0))
            sv_c = singular_values(flat_on - flat_on.mean(0))
            out.centred_over_noise = float(sv_c[0] / sv_noise[0])
            out.standing_out = int((sv_c > standout * sv_noise[0]).sum())
        elif parents:
            V = torch.linalg.svd(flat_on, full_matrices=False).Vh[:2]
            both = torch.stack([start.reshape(-1), end.reshape(-1)]).double()
            out.parents_in_top_two = float((((both @ V.T) ** 2).sum(1) / (both**2).sum(1)).min())
        sv_diff = singular_values(random_differences(on, n_pairs, generator=generator))
        out.top_two[sampling] = float(sv_raw[0] / sv_raw[1])
        out.dominant[sampling] = dominant_count(sv_diff)
        out.dropped[sampling] = degenerate_count(sv_diff, largest=10)
        out.spectra[sampling] = (sv_raw.cpu().numpy(), sv_diff.cpu().numpy())
    return out
