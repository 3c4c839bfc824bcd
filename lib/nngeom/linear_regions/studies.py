"""Protocols of Zhang & Wu's section 3: which linear regions are studied, and their inspheres.

Three categories of regions (section 3.2):

* **manifold**: the region of a test point;
* **decision**: the region holding the decision boundary met on the way from the test point to the mean
  image of another class;
* **adversarial**: the region holding the boundary met on the way to a PGD adversarial example.

For the last two, :func:`nngeom.linear_regions.regions.last_point_of_class` finds the largest ``alpha`` at which the
point of the segment is still in the test point's class, exactly. :func:`inradii` then solves the
Chebyshev-ball LPs of the regions in batches (the interior-point method), :func:`class_region_study` the programs of
section 3.4 (``x^t``, classification regions inside a manifold region); :func:`surrounding_regions`
is section 3.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from nngeom.core.attacks import PGD, random_other_targets
from nngeom.core.device import eval_mode, model_device, predict, torch_threads
from nngeom.core.models import UnitBoxInput, output_width
from nngeom.core.parallel import run_jobs
from nngeom.linear_regions.regions import activation_pattern, last_point_of_class, region_constraints, walk_lines
from nngeom.solvers.polytope import chebyshev_ball, redundant_rows

__all__ = [
    "WallCensus",
    "wall_census",
    "VARIANTS",
    "RATES",
    "MNIST_BOX",
    "table1_networks",
    "random_test_points",
    "CATEGORIES",
    "RegionSample",
    "class_means",
    "region_sample",
    "Inradii",
    "inradii",
    "logit_gradients",
    "null_space_directions",
    "SurroundingRegions",
    "surrounding_regions",
    "class_region_study",
    "decision_cosines",
    "point_medians",
    "abs_deviations",
    "bootstrap_interval",
]

CATEGORIES = ("manifold", "decision", "adversarial")
VARIANTS = {"vanilla": "vanilla", "bn": "BN", "dropout": "dropout"}  # zoo name part -> label
RATES = ("1e-3", "1e-4")
MNIST_BOX = (-1.0, 1.0)  # the pixel range of the Table 1 networks


def table1_networks(profile: str, device: torch.device) -> dict[tuple[str, str], nn.Module]:
    """The six 3 x 1024 MNIST networks of the paper's Table 1, keyed ``(variant, learning rate)``."""
    from nngeom.core import zoo

    return {
        (v, lr): zoo.load(f"mnist-lrg-{v}-lr{lr}", profile=profile, device=device) for lr in RATES for v in VARIANTS
    }


def random_test_points(n: int, generator: torch.Generator, value_range: tuple[float, float]) -> Tensor:
    """``n`` MNIST test images drawn without replacement by ``generator``, flattened, in ``value_range``;
    the same draw on every page that seeds its generator the same way."""
    from nngeom.core import data

    x_test, _ = data.tensors("mnist", "test", value_range=value_range, flatten=True)
    pick = torch.randperm(len(x_test), generator=generator)[:n]
    return x_test[pick]


def class_means(x: Tensor, y: Tensor, n_classes: int) -> Tensor:
    """The mean image of every class ``[n_classes, ...]``."""
    return torch.stack([x[y == c].mean(0) for c in range(n_classes)])


@dataclass
class RegionSample:
    """A point inside each studied region, per category, with what led to it.

    ``points[c]`` ``[n_c, ...]`` lie inside the regions of category ``c``; ``source[c]`` gives the index of
    the test point each came from; ``alpha[c]`` the position of the boundary on the segment (decision and
    adversarial); ``counts`` what was dropped and why.
    """

    points: dict[str, Tensor]
    source: dict[str, np.ndarray]
    alpha: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def region_sample(
    model: nn.Module,
    x: Tensor,
    means: Tensor,
    value_range: tuple[float, float],
    pgd: dict | None = None,
    generator: torch.Generator | None = None,
    target_pool: tuple[Tensor, Tensor] | None = None,
) -> RegionSample:
    """Points inside the manifold, decision and adversarial regions of the test points ``x``.

    The decision target of each test point is the mean of a class drawn uniformly from the classes other
    than its predicted one (the paper says "another class"), or, with ``target_pool = (images, labels)``,
    a random image of that class from the pool (the paper's choice for CIFAR-10, whose class means are
    not classified as their class; ``means`` is then unused). Segments whose target is not classified as
    a different class hold no boundary and are dropped, as are test points PGD fails on. ``pgd``: keyword
    arguments of :class:`nngeom.core.attacks.PGD` in units of the [0, 1] box (default eps 0.1, alpha 0.01,
    40 steps; its ``seed`` seeds the attack's random start). ``generator`` draws the target classes and
    pool images (CPU; default seeded with 0).
    """
    dev = model_device(model)
    x = x.to(dev)
    pred = predict(model, x, batch_size=len(x)).cpu()
    g = torch.Generator().manual_seed(0) if generator is None else generator
    other = random_other_targets(pred, output_width(model), generator=g)
    if target_pool is None:
        targets = means.to(dev)[other]
    else:
        images, labels = target_pool
        picks = []
        for c in other.tolist():
            members = torch.nonzero(labels == c).squeeze(1)
            if len(members) == 0:
                raise ValueError(f"parameter 'target_pool' has no image of class {c}")
            picks.append(int(members[torch.randint(len(members), (1,), generator=g)]))
        targets = images[picks].to(dev)
    sample = RegionSample(points={"manifold": x.cpu()}, source={"manifold": np.arange(len(x))})
    # decision: towards another class's mean
    ok = (predict(model, targets, batch_size=len(targets)).cpu() != pred).numpy()
    sample.counts["decision_target_same_class"] = int((~ok).sum())
    _boundary(sample, "decision", model, x, targets, pred, ok)
    # adversarial: towards an untargeted PGD example of the predicted class
    wrapped = UnitBoxInput(model, value_range)
    attack = PGD(wrapped, **{"eps": 0.1, "alpha": 0.01, "steps": 40, "seed": 0, **(pgd or {})})
    x_adv = wrapped.from_unit(attack(wrapped.to_unit(x).clamp(0, 1), pred.to(dev)).to(dev))
    ok = (predict(model, x_adv, batch_size=len(x_adv)).cpu() != pred).numpy()
    sample.counts["pgd_failed"] = int((~ok).sum())
    _boundary(sample, "adversarial", model, x, x_adv, pred, ok)
    return sample


def _boundary(
    sample: RegionSample, category: str, model: nn.Module, x: Tensor, targets: Tensor, pred: Tensor, ok: np.ndarray
) -> None:
    """Fill ``sample`` for one category from the segments ``x[ok] -> targets[ok]`` (none: empty)."""
    idx = np.flatnonzero(ok)
    if len(idx):
        alpha, inner = last_point_of_class(model, x[idx], targets[idx], pred[idx])
        sample.points[category], sample.alpha[category] = inner.cpu(), alpha.numpy()
    else:
        sample.points[category], sample.alpha[category] = x[:0].cpu(), np.zeros(0)
    sample.source[category] = idx


@dataclass
class Inradii:
    """Result of :func:`inradii`, one entry per point."""

    radius: np.ndarray  # [n] the inradius of the point's region (with the input box)
    iterations: np.ndarray  # [n] interior-point iterations
    exact_fallback: np.ndarray  # [n] bool: the interior-point method did not converge; HiGHS solved this LP


def inradii(
    model: nn.Module,
    points: Tensor,
    value_range: tuple[float, float],
    batch_size: int = 4,
    progress: bool = True,
    desc: str = "inradius LPs",
) -> Inradii:
    """The inradius (eq. 5, with the input box) of the linear region of every point.

    The regions are built ``batch_size`` at a time on the model's device and their LPs solved together by
    the interior-point method (:func:`nngeom.solvers.interior_point.chebyshev_ball_batch`, float64, on that
    device). An LP it does not converge on is solved again exactly, by HiGHS with row generation
    (:func:`nngeom.solvers.polytope.chebyshev_ball`), and flagged. Measured on the 3 x 1024 MNIST regions of
    the Table 1 networks (2 cores): 1.6-2.0 s per LP and 19-27 iterations, against 1-21 s for HiGHS
    (it varies with the network), the radii agreeing to 4e-10 relative.
    """
    from tqdm import tqdm

    from nngeom.solvers.interior_point import chebyshev_ball_batch

    n = len(points)
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ValueError(f"parameter 'batch_size' must be an integer >= 1, got {batch_size!r}")
    radius, iterations, fallback = np.zeros(n), np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
    dev = model_device(model)
    with tqdm(total=n, desc=desc, disable=not progress) as bar:
        for start in range(0, n, batch_size):
            chunk = points[start : start + batch_size].to(dev)
            reg = region_constraints(model, chunk)
            # the regions come back on the CPU; their LPs run on the model's device
            balls = chebyshev_ball_batch(reg.W.to(dev), reg.b.to(dev), value_range, hint=chunk.double().flatten(1))
            sl = slice(start, start + len(chunk))
            radius[sl], iterations[sl] = balls.radius.cpu().numpy(), balls.iterations.cpu().numpy()
            for i in torch.nonzero(~balls.converged).flatten().tolist():
                hint = chunk[i].double().flatten().cpu().numpy()
                exact = chebyshev_ball(reg.W[i].numpy(), reg.b[i].numpy(), value_range, hint=hint)
                radius[start + i], fallback[start + i] = exact.radius, True
            bar.update(len(chunk))
    return Inradii(radius, iterations, fallback)


def _class_region_jobs(
    model: nn.Module, points: Tensor, value_range: tuple[float, float], central: np.ndarray, batch_size: int
) -> Iterator[tuple[tuple, dict]]:
    for start in range(0, len(points), batch_size):
        chunk = points[start : start + batch_size]
        reg = region_constraints(model, chunk)
        for i in range(len(chunk)):
            yield (
                (
                    reg.W[i].numpy(),
                    reg.b[i].numpy(),
                    reg.logit_W[i].numpy(),
                    reg.logit_b[i].numpy(),
                    value_range,
                    chunk[i].double().reshape(-1).numpy(),
                ),
                {"central": bool(central[start + i])},
            )


def class_region_study(
    model: nn.Module,
    points: Tensor,
    value_range: tuple[float, float],
    central: int = 0,
    workers: int = 1,
    progress: bool = True,
    desc: str = "class regions",
) -> list:
    """Section 3.4 for the manifold region of every point: :func:`nngeom.linear_regions.class_regions.class_regions`
    (``x^t`` of every class, the paper's and the exact count of classes, the distortion), one region per
    job over ``workers`` processes. The first ``central`` points also get the maximisers nearest to the
    middle of the box. Returns one :class:`~nngeom.linear_regions.class_regions.ClassRegions` per point.
    """
    from nngeom.linear_regions.class_regions import class_regions

    if len(points) == 0:
        return []
    flags = np.arange(len(points)) < central
    with torch_threads(1 if workers > 1 else torch.get_num_threads()):
        return run_jobs(
            class_regions,
            _class_region_jobs(model, points, value_range, flags, batch_size=4),
            workers=workers,
            total=len(points),
            progress=progress,
            desc=desc,
        )


def logit_gradients(model: nn.Module, x: Tensor) -> Tensor:
    """The Jacobian of the logits at each input, ``[N, M, d]`` in the dtype of ``x`` (eval mode).

    On the linear region of ``x`` this is the matrix of eq. (7); one ``vmap`` of ``jacrev``, not ``M``
    backward passes.
    """
    from torch.func import functional_call, jacrev, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def one(z: Tensor) -> Tensor:
        return functional_call(model, (params, buffers), (z.unsqueeze(0),)).squeeze(0)

    with eval_mode(model):
        jac = vmap(jacrev(one))(x)
    return jac.reshape(len(x), jac.shape[1], -1)


def null_space_directions(A: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``k`` random unit vectors ``e`` with ``A e = 0`` (eq. 10), for ``A`` ``[M, d]`` (e.g. logit gradients).

    Gaussian vectors with their component in the row space of ``A`` removed, so the directions are
    uniform on the unit sphere of the null space. Float64.
    """
    if A.ndim != 2 or A.shape[0] >= A.shape[1]:
        raise ValueError(f"A must be [M, d] with M < d (a non-trivial null space), got {tuple(A.shape)}")
    q, _ = torch.linalg.qr(A.double().T)  # [d, M]: an orthonormal basis of the row space
    g = torch.randn(k, A.shape[1], generator=generator, dtype=torch.float64)
    e = g - (g @ q) @ q.T
    return e / e.norm(dim=1, keepdim=True)


@dataclass
class SurroundingRegions:
    """What :func:`surrounding_regions` found for each test point ``i``.

    ``counts[i]``: unique linear regions met by all its segments (its own included); ``cosines[i]``:
    the cosine similarity ``rho`` between the decision direction of each other unique region and its own
    (eq. 13); ``pieces[i]``: regions met per segment, one entry per direction.
    """

    counts: np.ndarray
    cosines: list[np.ndarray]
    pieces: list[np.ndarray]


def _decision_direction(model: nn.Module, x: Tensor) -> Tensor:
    """``g(x)``: the gradient of the difference of the two largest logits (eq. 13), ``[N, d]``."""
    jac = logit_gradients(model, x)
    with torch.no_grad():
        top = model(x).topk(2, dim=1).indices
    rows = torch.arange(len(x))
    return jac[rows, top[:, 0]] - jac[rows, top[:, 1]]


def decision_cosines(g0: Tensor, g: Tensor) -> Tensor:
    """Cosine similarity ``rho`` (section 3.5) between the decision direction ``g0`` ``[d]`` of a test point's
    region and those of other regions ``g`` ``[n, d]``; a zero direction gives 0, not NaN."""
    if g0.ndim != 1 or g.ndim != 2 or g.shape[1] != g0.shape[0]:
        raise ValueError(f"need g0 [d] and g [n, d], got {tuple(g0.shape)} and {tuple(g.shape)}")
    return (g @ g0) / (g.norm(dim=1) * g0.norm()).clamp_min(1e-300)


def point_medians(cosines: list) -> np.ndarray:
    """The median ``rho`` of each test point that met at least one other region (one number per test point,
    so that a test treats test points, not the correlated regions around one point, as the sample)."""
    return np.array([float(np.median(c)) for c in cosines if len(c)])


def abs_deviations(values) -> np.ndarray:
    """``|v - median(v)|``: comparing these between two samples with a rank test compares their spreads
    (the Brown-Forsythe idea), without assuming either is normal."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return np.abs(v - np.median(v)) if len(v) else v


def bootstrap_interval(
    statistic,
    samples: list,
    n_boot: int = 2000,
    confidence: float = 0.95,
    generator: np.random.Generator | None = None,
    min_size: int = 1,
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: ``statistic(*samples)`` and its percentile-bootstrap interval, each sample
    resampled with replacement on its own by ``generator`` (default: ``numpy.random.default_rng(0)``). NaN
    throughout if any sample has fewer than ``min_size`` values (a bootstrap of one or two values gives a
    degenerate interval, which would decide a claim on no evidence)."""
    if not (isinstance(n_boot, int) and n_boot >= 1):
        raise ValueError(f"parameter 'n_boot' must be an integer >= 1, got {n_boot!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"parameter 'confidence' must lie in (0, 1), got {confidence!r}")
    if not (isinstance(min_size, int) and min_size >= 1):
        raise ValueError(f"parameter 'min_size' must be an integer >= 1, got {min_size!r}")
    samples = [np.asarray(s, dtype=np.float64).ravel() for s in samples]
    if any(len(s) < min_size for s in samples):
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(0) if generator is None else generator
    est = float(statistic(*samples))
    boot = np.array([statistic(*(s[rng.integers(0, len(s), len(s))] for s in samples)) for _ in range(n_boot)])
    tail = 100 * (1 - confidence) / 2
    return est, float(np.percentile(boot, tail)), float(np.percentile(boot, 100 - tail))


def surrounding_regions(
    model: nn.Module,
    x: Tensor,
    n_directions: int,
    epsilon: float,
    generator: torch.Generator,
    progress: bool = True,
    desc: str = "surrounding regions",
) -> SurroundingRegions:
    """The linear regions around each test point along random null-space directions (section 3.5).

    For each ``x*``: ``n_directions`` unit directions ``e`` orthogonal to every logit gradient at ``x*``
    (:func:`null_space_directions`), each segment ``x* + beta e``, ``beta in [0, epsilon]``, walked
    exactly (:func:`nngeom.linear_regions.regions.walk_lines`, so no thin region is skipped), the regions met told
    apart by their activation patterns, and for each unique region other than ``x*``'s the cosine
    similarity of its decision direction (taken at the middle of one piece of a segment inside it) with
    ``x*``'s. ``generator`` (CPU) draws the directions. The segments are not clipped to the pixel box (the
    paper does not say it does). Everything runs in float64 on a copy of the model.
    """
    import copy

    from tqdm import tqdm

    if not (isinstance(n_directions, int) and n_directions >= 1):
        raise ValueError(f"parameter 'n_directions' must be an integer >= 1, got {n_directions!r}")
    if not (isinstance(epsilon, (int, float)) and epsilon > 0):
        raise ValueError(f"parameter 'epsilon' must be a number > 0, got {epsilon!r}")
    net = copy.deepcopy(model).eval().double()
    dev = model_device(net)
    gen = generator
    counts, cosines, pieces = [], [], []
    for i in tqdm(range(len(x)), desc=desc, disable=not progress):
        x0 = x[i : i + 1].to(dev, torch.float64)
        shape = x0.shape[1:]
        grads = logit_gradients(net, x0)[0]
        e = null_space_directions(grads.cpu(), n_directions, gen).to(dev).reshape(n_directions, *shape)
        starts = walk_lines(net, x0.expand(n_directions, *shape), e, float(epsilon))
        mids = []
        for k, b in enumerate(starts):
            ends = torch.cat([b[1:], torch.tensor([float(epsilon)], dtype=torch.float64)])
            mid = (b + ends) / 2
            mids.append(x0 + mid.to(dev).view(-1, *[1] * len(shape)) * e[k : k + 1])
        pts = torch.cat(mids)
        pat = activation_pattern(net, pts).to(torch.uint8)
        own = activation_pattern(net, x0).to(torch.uint8)
        uniq, first = _unique_rows(torch.cat([own, pat]))
        g = _decision_direction(net, torch.cat([x0, pts[first[1:] - 1]]))
        cos = decision_cosines(g[0], g[1:])
        counts.append(len(uniq))
        cosines.append(cos.cpu().numpy())
        pieces.append(np.array([len(b) for b in starts]))
    return SurroundingRegions(counts=np.array(counts), cosines=cosines, pieces=pieces)


def _unique_rows(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Unique rows and the index of the first occurrence of each, in order of first occurrence."""
    uniq, inverse = torch.unique(rows, dim=0, return_inverse=True)
    first = torch.full((len(uniq),), len(rows), dtype=torch.long)
    first = first.scatter_reduce(0, inverse, torch.arange(len(rows)), reduce="amin")
    order = torch.argsort(first)
    return uniq[order], first[order]


@dataclass
class WallCensus:
    """How far the walls of one linear region of a large net are decided without an LP per wall
    (:func:`wall_census`; the paper's appendix on finding the facets, eq. 18)."""

    walls: int  # rows of the region's constraints
    by_box: int  # implied by the input box
    by_rays: int  # proved facets by rays from the interior point
    ray_seconds: float
    sampled: int = 0  # open walls tested by an LP each
    sampled_redundant: int = 0
    seconds_per_sampled: float = float("nan")

    @property
    def open(self) -> int:
        """Walls neither implied by the box nor proved facets."""
        return self.walls - self.by_box - self.by_rays


def wall_census(
    model: nn.Module,
    x: Tensor,
    value_range: tuple[float, float],
    sample_rows: int,
    generator: np.random.Generator,
) -> list[WallCensus]:
    """For the region of each point of ``x``: the walls decided by the box and by rays
    (:func:`nngeom.solvers.polytope.redundant_rows` with no LP rows and its fixed rays), then, if
    ``sample_rows`` > 0, that many open walls drawn by ``generator`` and tested by an LP each, timed."""
    import time

    reg = region_constraints(model, x)
    out = []
    for i in range(len(reg)):
        W, b, inside = reg.W[i].numpy(), reg.b[i].numpy(), x[i].double().numpy()
        t0 = time.perf_counter()
        rays = redundant_rows(W, b, value_range, interior=inside, rows=[])
        census = WallCensus(len(rays.decided), rays.by_box, rays.by_rays, time.perf_counter() - t0)
        if sample_rows:
            open_rows = np.flatnonzero(~rays.decided)
            sample = generator.choice(open_rows, min(sample_rows, len(open_rows)), replace=False)
            t0 = time.perf_counter()
            red = redundant_rows(W, b, value_range, interior=inside, rows=sample).redundant
            census.sampled, census.sampled_redundant = len(sample), int(red[sample].sum())
            census.seconds_per_sampled = (time.perf_counter() - t0) / max(1, len(sample))
        out.append(census)
    return out
