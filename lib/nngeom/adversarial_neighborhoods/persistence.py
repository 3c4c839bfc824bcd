"""(gamma, sigma)-stability and gamma-persistence of points under a classifier.

Bell, *Neighborhoods of Adversarial Examples*, Part I, section 4 and Algorithm 1 (appendix 7).

A point ``x`` is (gamma, sigma)-stable for a classifier ``C`` when a sample ``x' ~ N(x, sigma^2 I)``
receives the class ``C(x)`` with probability at least ``gamma`` (Definition 4.1). Its gamma-persistence
is the largest ``sigma*`` such that ``x`` is (gamma, sigma)-stable for every ``sigma < sigma*``
(Definition 4.2). Both are estimated by Monte Carlo sampling; persistence by the bracketing
(bisection) search of Algorithm 1, run for a whole batch of points at once.

The k-orthant ``W_k^n = {x in R^n : x_1 >= 0, ..., x_k >= 0}`` (Part I of the thesis calls it a wedge;
Part III, and this library, the k-orthant, keeping *wedge* for Part III's tipped k-Theta-wedge) gives a closed form
(Proposition 4.3), used here as ground truth: :func:`orthant_stability`, :func:`orthant_persistence` and
an exact classifier for it, :func:`orthant_classifier`.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn

from nngeom.core.device import default_batch_size, model_device, predict
from nngeom.core.validation import check_in_open_interval, check_positive, check_positive_int

__all__ = [
    "stability",
    "class_frequencies",
    "first_sigma_below",
    "persistence",
    "persistence_along_path",
    "orthant_stability",
    "orthant_persistence",
    "orthant_classifier",
    "OrthantClassifier",
    "orthant_monte_carlo",
]

SigmaLike = float | Tensor


def _as_sigma_vector(sigma: SigmaLike, n: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    s = torch.as_tensor(sigma, dtype=dtype, device=device)
    if s.ndim == 0:
        s = s.expand(n)
    if s.shape != (n,):
        raise ValueError(f"sigma must be a float or a tensor of shape [{n}] (one per point), got {tuple(s.shape)}")
    if not torch.all(torch.isfinite(s)) or torch.any(s <= 0):
        raise ValueError("sigma must be finite and > 0 for every point")
    return s


def _split_first_linear(model: nn.Module) -> tuple[nn.Module, nn.Linear, nn.Module] | None:
    """``(head, linear, rest)`` when ``model`` is ``Sequential([Flatten()], Linear, ...)`` and the linear
    layer narrows its input, so that sampling its pre-activations is cheaper than sampling the input."""
    if not isinstance(model, nn.Sequential):
        return None
    mods = list(model)
    i = 0
    if i < len(mods) and type(mods[i]) is nn.Flatten and mods[i].start_dim == 1 and mods[i].end_dim == -1:
        i += 1
    if i < len(mods) and type(mods[i]) is nn.Linear and mods[i].out_features < mods[i].in_features:
        return nn.Sequential(*mods[:i]), mods[i], nn.Sequential(*mods[i + 1 :])
    return None


@torch.no_grad()
def _first_layer_sampler(model: nn.Module, xs: Tensor):
    """``(pre, factor_t, rest)`` for sampling in the first layer's output space, or ``None``.

    For a first layer ``h = Wx + b``, a sample ``W(x + sigma z) + b`` with ``z ~ N(0, I_n)`` is
    ``pre + sigma W z`` with ``pre = Wx + b``, and ``Wz ~ N(0, W W^T)`` has the law of ``u F^T`` with
    ``F = V diag(sqrt(lambda))`` from the eigendecomposition ``W W^T = V diag(lambda) V^T`` and
    ``u ~ N(0, I_m)`` (a rank-deficient ``W`` is fine: its zero eigenvalues drop out). The two are
    equal in distribution, so predictions are sampled exactly, drawing ``m`` normal numbers per sample
    instead of ``n`` and replacing an ``n x m`` product by an ``m x m`` one (784 -> 100: about 8x less
    work in that layer). ``None`` when the model does not start with such a layer.
    """
    split = _split_first_linear(model)
    if split is None or xs.ndim < 2:
        return None
    head, linear, rest = split
    w = linear.weight.detach().double()
    eigenvalues, vectors = torch.linalg.eigh(w @ w.T)
    factor = vectors * eigenvalues.clamp(min=0).sqrt()
    pre = linear(head(xs))
    return pre, factor.T.to(xs.dtype).contiguous(), rest


def _noisy_predictions(
    model: nn.Module,
    xs: Tensor,
    sigma: Tensor,
    n_samples: int,
    batch_size: int | None,
    generator: torch.Generator | None,
    sample_first_layer: bool = True,
):
    """Yields ``(rows, predictions)`` for ``n_samples`` draws of ``N(xs[i], sigma[i]^2 I)`` for every i.

    Every (point, sample) pair is one row of a long virtual batch, walked through in chunks of
    ``batch_size`` rows: many points share one forward pass when ``n_samples`` is small, and one point
    spans several passes when it is large. ``rows`` gives the point of each prediction. With
    ``sample_first_layer`` a network that starts with a narrowing linear layer is sampled after that
    layer (:func:`_first_layer_sampler`, same distribution, different random numbers). ``None`` for
    ``batch_size`` picks the number of rows from the width of what is sampled.
    """
    sampler = _first_layer_sampler(model, xs) if sample_first_layer else None
    if batch_size is None:
        batch_size = default_batch_size(xs if sampler is None else sampler[0], xs.device)
    if sampler is not None:
        pre, factor_t, rest = sampler
    feature_shape = xs.shape[1:]
    total = len(xs) * n_samples
    for start in range(0, total, batch_size):
        stop = min(total, start + batch_size)
        rows = torch.arange(start, stop, device=xs.device) // n_samples
        if sampler is not None:
            u = torch.randn((stop - start, pre.shape[1]), generator=generator, device=xs.device, dtype=xs.dtype)
            yield rows, rest(torch.addmm(pre[rows], sigma[rows].unsqueeze(1) * u, factor_t)).argmax(dim=1)
            continue
        noise = torch.randn((stop - start, *feature_shape), generator=generator, device=xs.device, dtype=xs.dtype)
        scale = sigma[rows].view(-1, *([1] * len(feature_shape)))
        yield rows, model(xs[rows] + scale * noise).argmax(dim=1)


@torch.no_grad()
def stability(
    model: nn.Module,
    x: Tensor,
    sigma: SigmaLike,
    n_samples: int = 1000,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    classes: Tensor | None = None,
    sample_first_layer: bool = True,
) -> Tensor:
    """Monte-Carlo estimate of P[C(x') = C(x)], x' ~ N(x, sigma^2 I), for every point of a batch.

    Args:
        model: a classifier returning logits ``[B, n_classes]``; ``C(x) = argmax``.
        x: points, shape ``[N, ...]`` (any feature shape the model accepts).
        sigma: standard deviation, a float or one per point (``Tensor[N]``).
        n_samples: Gaussian samples per point.
        batch_size: samples per forward pass; by default about 2**18 sampled numbers on a CPU, 2**24 on a GPU.
        generator: a ``torch.Generator`` on the model's device, for reproducible draws.
        classes: the class to compare with, ``LongTensor[N]``; by default ``C(x)``.
        sample_first_layer: when the model is ``Sequential([Flatten], Linear(n, m), ...)`` with
            ``m < n`` (the zoo's MLPs), draw the first layer's pre-activations ``Wx + b + sigma W z``
            from their exact Gaussian law instead of drawing ``z`` in input space. Same distribution,
            several times faster on a CPU; ``False`` samples in input space (other random numbers).

    Returns:
        ``Tensor[N]`` (float, on ``x.device``): the fraction of samples classified as ``classes``.

    Example:
        >>> model = orthant_classifier(n=3, k=2)
        >>> x = torch.tensor([[1.0, 1.0, 0.0]])
        >>> stability(model, x, sigma=1.0, n_samples=20000, generator=torch.Generator().manual_seed(0))
        tensor([0.7...])
    """
    check_positive_int("n_samples", n_samples)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch with shape [N, ...], got shape {tuple(x.shape)}")
    device = model_device(model, x.device)
    n_points = x.shape[0]
    xs = x.to(device)
    s = _as_sigma_vector(sigma, n_points, device, xs.dtype)
    if classes is None:
        classes = predict(model, xs, batch_size)
    classes = classes.to(device)
    if classes.shape != (n_points,):
        raise ValueError(f"classes must have shape [{n_points}], got {tuple(classes.shape)}")
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)

    hits = torch.zeros(n_points, dtype=torch.long, device=device)
    for rows, pred in _noisy_predictions(model, xs, s, n_samples, batch_size, generator, sample_first_layer):
        hits.index_add_(0, rows, (pred == classes[rows]).long())
    return (hits.to(xs.dtype) / n_samples).to(x.device)


@torch.no_grad()
def class_frequencies(
    model: nn.Module,
    x: Tensor,
    sigmas: Tensor | list[float],
    n_samples: int = 1000,
    n_classes: int | None = None,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    sample_first_layer: bool = True,
) -> Tensor:
    """How often each class is predicted for samples of ``N(x, sigma^2 I)``, for every sigma of a list.

    The curves of the thesis' Figures 9, 11, 13 and 17: ``x`` is one point (shape ``[1, ...]`` or the
    point itself without a batch axis) and the result is ``Tensor[len(sigmas), n_classes]`` of fractions
    (rows sum to 1). All sigmas are sampled in one batched pass over ``len(sigmas) * n_samples`` rows.
    A sigma of 0 gives the class of ``x`` itself. ``sample_first_layer`` as in :func:`stability`.
    """
    check_positive_int("n_samples", n_samples)
    device = model_device(model, x.device)
    point = x.to(device)
    if point.ndim >= 1 and point.shape[0] == 1:
        point = point[0]
    sig = torch.as_tensor(sigmas, dtype=point.dtype, device=device).reshape(-1)
    if len(sig) == 0 or torch.any(sig < 0) or not torch.all(torch.isfinite(sig)):
        raise ValueError("sigmas must be a non-empty list of finite values >= 0")
    if n_classes is None:
        n_classes = int(model(point.unsqueeze(0)).shape[1])
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)
    counts = torch.zeros(len(sig) * n_classes, dtype=torch.long, device=device)
    # One "point" per sigma (the same point each time), so the sampling loop is stability's.
    copies = point.unsqueeze(0).expand(len(sig), *point.shape)
    for rows, pred in _noisy_predictions(model, copies, sig, n_samples, batch_size, generator, sample_first_layer):
        counts.index_add_(0, rows * n_classes + pred, torch.ones_like(pred))
    return (counts.view(len(sig), n_classes).to(point.dtype) / n_samples).to(x.device)


def first_sigma_below(sigmas: Tensor | list[float], fractions: Tensor, level: float = 0.5) -> float:
    """The first sigma of a grid at which a class-frequency curve is below ``level`` (``inf`` if never).

    A coarse, grid-based companion to :func:`persistence` for the curves of :func:`class_frequencies`.
    """
    sig = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)
    frac = torch.as_tensor(fractions, dtype=torch.float64).reshape(-1)
    if sig.shape != frac.shape:
        raise ValueError(f"sigmas and fractions must have the same length, got {len(sig)} and {len(frac)}")
    below = (frac < level).nonzero()
    return float(sig[below[0, 0]]) if len(below) else math.inf


@torch.no_grad()
def persistence(
    model: nn.Module,
    x: Tensor,
    gamma: float = 0.7,
    n_samples: int = 1000,
    precision: float = 0.002,
    max_steps: int = 20,
    rel_tol: float = 1e-3,
    generator: torch.Generator | None = None,
    sigma_range: tuple[float, float] = (0.5, 1.5),
    max_range_steps: int = 60,
    batch_size: int | None = None,
    classes: Tensor | None = None,
    bracket_margin: float = 2.0,
    dither: bool = True,
    sample_first_layer: bool = True,
) -> Tensor:
    """Bracketing estimate of the gamma-persistence of every point of a batch (Algorithm 1).

    RANGEFINDER starts from ``sigma_range`` (the thesis uses 0.5 and 1.5) and halves the lower end until
    the point is (gamma, sigma_min)-stable and doubles the upper end until it is not
    (gamma, sigma_max)-stable. Bisection then moves the end whose side the midpoint falls on, and stops
    for a point when the estimated stability is within ``precision`` of ``gamma`` or after ``max_steps``
    midpoints. All points advance together: each step is one batched call of :func:`stability` over the
    points still active.

    Two changes to the thesis' procedure remove biases of noisy bisection; ``bracket_margin=1`` and
    ``dither=False`` give Algorithm 1 exactly. (1) The ends of the bracket are themselves accepted on a
    noisy test, so when the persistence lies within Monte-Carlo noise of an end the search cannot
    cross it and the estimate is truncated on that side: the found bracket is widened by
    ``bracket_margin`` on both ends (about two more bisection steps). (2) Every midpoint is a wall of
    the same kind for the rest of the search, and because all estimates of one point share the same
    dyadic grid the resulting error is systematic, not noise: ``dither`` moves the lower end of each
    point's bracket down by a random factor in (1/2, 1], so the grid falls at a random place relative
    to the persistence and the error averages out. On exact orthant classifiers this brought the bias
    from up to 0.4 per-point standard deviations down to about 0.1-0.2 at 1,000 samples, shrinking as
    ``n_samples`` grows (what remains is the second-order bias of inverting a noisy curve).

    Args:
        model: classifier returning logits.
        x: points, shape ``[N, ...]``.
        gamma: the stability level, in (0, 1); the thesis uses 0.7.
        n_samples: Gaussian samples per stability estimate.
        precision: stop when ``|stability - gamma| < precision``. The thesis gives no value. Keep it well
            below the Monte-Carlo standard error ``sqrt(gamma (1 - gamma) / n_samples)``: with a coarse
            precision the search stops early on a lucky midpoint of the first bracket, and the estimate
            is then biased towards those midpoints (on orthants, 0.005 with 1,500 samples gave biases
            of 4 standard errors; 0.002 none beyond noise).
        max_steps: the most bisection steps (the thesis' ``maxSteps``, value not given). 20 halvings
            shrink the bracket a million-fold, far below the Monte-Carlo resolution of a few per cent;
            on the orthant grid 12, 16 and 30 steps gave the same bias and spread.
        rel_tol: also stop a point once its bracket is narrower than ``rel_tol`` times its upper end
            (0 disables this). The default 1e-3 is far below the Monte-Carlo resolution of a few per
            cent, and saves about half of the bisection steps.
        generator: ``torch.Generator`` on the model's device, for reproducible estimates.
        sigma_range: the initial ``(sigma_min, sigma_max)`` of RANGEFINDER.
        max_range_steps: the most halvings/doublings in RANGEFINDER. A point whose lower end is still
            unstable after that gets persistence 0 (it sits on the boundary at this resolution); one whose
            upper end is still stable gets ``inf`` (e.g. a constant classifier). A warning says how many.
        batch_size: samples per forward pass (see :func:`stability`).
        classes: the class of each point, by default ``C(x)``.
        bracket_margin: factor (>= 1) by which the bracket found by RANGEFINDER is widened on both
            ends before bisection; 1 keeps it as found.
        dither: randomise the lower end of each point's bracket (uses ``generator``).
        sample_first_layer: sample after a narrowing first linear layer (see :func:`stability`).

    Returns:
        ``Tensor[N]`` of estimated persistences, on ``x.device``.

    Example:
        >>> model = orthant_classifier(n=2, k=1)
        >>> x = torch.tensor([[1.0, 0.0]])                    # distance 1 from the half-plane boundary
        >>> persistence(model, x, n_samples=20000, generator=torch.Generator().manual_seed(0))
        tensor([1.9...])                                      # closed form: orthant_persistence(1, 1, 0.7) = 1.907
    """
    check_in_open_interval("gamma", gamma, 0.0, 1.0)
    check_positive_int("n_samples", n_samples)
    check_positive("precision", precision)
    check_positive_int("max_steps", max_steps)
    check_positive_int("max_range_steps", max_range_steps)
    if not (isinstance(rel_tol, (int, float)) and 0 <= rel_tol < 1):
        raise ValueError(f"rel_tol must be a number in [0, 1), got {rel_tol!r}")
    if not (isinstance(bracket_margin, (int, float)) and math.isfinite(bracket_margin) and bracket_margin >= 1):
        raise ValueError(f"bracket_margin must be a finite number >= 1, got {bracket_margin!r}")
    lo0, hi0 = sigma_range
    if not (0 < lo0 < hi0 and math.isfinite(hi0)):
        raise ValueError(
            f"sigma_range must be (sigma_min, sigma_max) with 0 < sigma_min < sigma_max, got {sigma_range}"
        )
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch with shape [N, ...], got shape {tuple(x.shape)}")

    device = model_device(model, x.device)
    xs = x.to(device)
    n = xs.shape[0]
    if classes is None:
        classes = predict(model, xs, batch_size)
    classes = classes.to(device)

    def stab(idx: Tensor, sig: Tensor) -> Tensor:
        return stability(model, xs[idx], sig, n_samples, batch_size, generator, classes[idx], sample_first_layer)

    all_idx = torch.arange(n, device=device)
    lo = torch.full((n,), float(lo0), dtype=xs.dtype, device=device)
    hi = torch.full((n,), float(hi0), dtype=xs.dtype, device=device)
    g_lo = stab(all_idx, lo)
    g_hi = stab(all_idx, hi)

    # RANGEFINDER, batched: only points whose bracket is not yet valid are resampled.
    for _ in range(max_range_steps):
        need_lo = g_lo < gamma
        need_hi = g_hi > gamma
        if not (need_lo.any() or need_hi.any()):
            break
        if need_lo.any():
            idx = all_idx[need_lo]
            lo[idx] *= 0.5
            g_lo[idx] = stab(idx, lo[idx])
        if need_hi.any():
            idx = all_idx[need_hi]
            hi[idx] *= 2.0
            g_hi[idx] = stab(idx, hi[idx])

    on_boundary = g_lo < gamma
    unbounded = g_hi > gamma
    if on_boundary.any() or unbounded.any():
        warnings.warn(
            f"persistence: RANGEFINDER did not bracket {int(on_boundary.sum())} point(s) from below "
            f"(reported as 0) and {int(unbounded.sum())} from above (reported as inf) after "
            f"{max_range_steps} steps",
            RuntimeWarning,
            stacklevel=2,
        )

    lo = lo / bracket_margin
    hi = hi * bracket_margin
    if dither:
        u = torch.rand(n, generator=generator, device=device, dtype=xs.dtype)
        lo = lo * torch.pow(2.0, -u)
    result = (lo + hi) / 2
    active = ~(on_boundary | unbounded)
    for _ in range(max_steps):
        if not active.any():
            break
        idx = all_idx[active]
        mid = (lo[idx] + hi[idx]) / 2
        g = stab(idx, mid)
        result[idx] = mid
        done = (g - gamma).abs() < precision
        above = (g > gamma) & ~done
        below = ~(above | done)
        lo[idx[above]] = mid[above]
        hi[idx[below]] = mid[below]
        done |= (hi[idx] - lo[idx]) <= rel_tol * hi[idx]
        active[idx[done]] = False
    result[on_boundary] = 0.0
    result[unbounded] = math.inf
    return result.to(x.device)


def persistence_along_path(
    model: nn.Module,
    start: Tensor,
    end: Tensor,
    n_points: int = 21,
    gamma: float = 0.7,
    **persistence_kwargs,
) -> tuple[Tensor, Tensor, Tensor]:
    """gamma-persistence at ``n_points`` equally spaced points of the segment from ``start`` to ``end``.

    The thesis' Figures 12 and 18 (natural image -> adversarial example). ``start`` and ``end`` are single
    points (with or without a batch axis of 1). Returns ``(t, persistence, classes)``, each of length
    ``n_points``: the positions in [0, 1], the estimates (one batched call) and the predicted classes.
    """
    check_positive_int("n_points", n_points)
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2 (both ends), got {n_points}")
    a = start[0] if start.ndim >= 1 and start.shape[0] == 1 else start
    b = end[0] if end.ndim >= 1 and end.shape[0] == 1 else end
    if a.shape != b.shape:
        raise ValueError(f"start and end must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    t = torch.linspace(0.0, 1.0, n_points, dtype=a.dtype, device=a.device)
    points = torch.lerp(a.unsqueeze(0), b.unsqueeze(0), t.view(-1, *([1] * a.ndim)))
    classes = predict(model, points)
    return t, persistence(model, points, gamma=gamma, classes=classes, **persistence_kwargs), classes


# --------------------------------------------------------------------------------------------------
# The k-orthant model of Proposition 4.3 (Part I's 'wedge')
# --------------------------------------------------------------------------------------------------


def _check_orthant(k: int, n: int | None = None) -> None:
    check_positive_int("k", k)
    if n is not None:
        check_positive_int("n", n)
        if k > n:
            raise ValueError(f"k must satisfy 1 <= k <= n, got k={k}, n={n}")


def orthant_stability(d: float, k: int, sigma: float) -> float:
    """P[x' in W_k^n] for x at distance ``d`` from each of the ``k`` sheets and x' ~ N(x, sigma^2 I).

    Proposition 4.3: ``(1/2 (1 + erf(d / (sqrt(2) sigma))))^k``, independent of the dimension n.
    """
    check_positive("d", d)
    check_positive("sigma", sigma)
    _check_orthant(k)
    return (0.5 * (1.0 + math.erf(d / (math.sqrt(2.0) * sigma)))) ** k


def orthant_persistence(d: float, k: int, gamma: float) -> float:
    """Closed-form gamma-persistence of a point at distance ``d`` from each sheet of W_k^n (Prop. 4.3).

    ``sigma* = d / (sqrt(2) erfinv(2 gamma^(1/k) - 1))``. When ``gamma <= 2^-k`` the stability never falls
    below ``gamma`` (it tends to ``2^-k`` as sigma grows), so the persistence is ``inf``.

    >>> round(orthant_persistence(1.0, 1, 0.7), 3)      # the thesis quotes about 1.91 (Figure 8)
    1.907
    """
    from scipy.special import erfinv

    check_positive("d", d)
    check_in_open_interval("gamma", gamma, 0.0, 1.0)
    _check_orthant(k)
    arg = 2.0 * gamma ** (1.0 / k) - 1.0
    if arg <= 0.0:
        return math.inf
    return float(d / (math.sqrt(2.0) * erfinv(arg)))


class OrthantClassifier(nn.Module):
    """Two-class classifier on R^n whose class 1 is exactly the k-orthant ``W_k^n``.

    Logits ``[-m, m]`` with ``m = min(x_1, ..., x_k)``, so class 1 iff ``m >= 0`` (ties at ``m = 0``
    are broken towards class 1, so the closed orthant is class 1). Input shape ``[B, n]`` (or any shape
    whose trailing elements flatten to ``n``).
    """

    def __init__(self, n: int, k: int) -> None:
        super().__init__()
        _check_orthant(k, n)
        self.n, self.k = n, k

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.n:
            raise ValueError(f"OrthantClassifier(n={self.n}) got inputs with {flat.shape[1]} features")
        m = flat[:, : self.k].min(dim=1).values
        tie = (m == 0).to(flat.dtype)
        return torch.stack([-m, m + tie], dim=1)

    def extra_repr(self) -> str:
        return f"n={self.n}, k={self.k}"


def orthant_classifier(n: int, k: int) -> nn.Module:
    """An exact classifier for the k-orthant ``W_k^n`` (class 1 inside, class 0 outside); see OrthantClassifier."""
    return OrthantClassifier(n, k)


def orthant_monte_carlo(
    ks: list[int],
    dims: list[int],
    distances: list[float],
    gammas: list[float],
    n_points: int = 20,
    n_samples: int = 1000,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    **persistence_kwargs,
) -> list[dict]:
    """Check :func:`persistence` against Proposition 4.3 on exact orthant classifiers.

    For every ``(k, n, d, gamma)`` with ``k <= n``, ``n_points`` copies of the point at distance ``d``
    from each sheet of ``W_k^n`` (``x_i = d`` for ``i <= k``, 0 elsewhere) are estimated independently in
    one batched call. Returns one row per configuration: the closed form, the mean and standard error of
    the estimates, the relative error of the mean and its z-score ``(mean - closed) / sem``.
    """
    from tqdm import tqdm

    check_positive_int("n_points", n_points)
    configs = [(k, n, d, g) for n in dims for k in ks if k <= n for d in distances for g in gammas]
    if not configs:
        raise ValueError("no configuration with k <= n: check 'ks' and 'dims'")
    rows = []
    for k, n, d, g in tqdm(configs, desc="orthant Monte Carlo", disable=not progress, leave=False):
        model = orthant_classifier(n, k).to(device or "cpu")
        x = torch.zeros(n_points, n, device=device)
        x[:, :k] = d
        est = persistence(model, x, gamma=g, n_samples=n_samples, generator=generator, **persistence_kwargs).double()
        closed = orthant_persistence(d, k, g)
        mean = est.mean().item()
        sem = est.std().item() / math.sqrt(n_points) if n_points > 1 else math.nan
        rows.append(
            {
                "k": k,
                "n": n,
                "d": d,
                "gamma": g,
                "closed_form": closed,
                "estimate": mean,
                "sem": sem,
                "relative_error": (mean - closed) / closed,
                "z": (mean - closed) / sem if sem > 0 else math.nan,
            }
        )
    return rows
