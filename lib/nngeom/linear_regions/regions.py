"""Linear regions of ReLU networks as polytopes (Zhang & Wu, "Empirical Studies on the Properties of
Linear Regions in Deep Neural Networks", sections 2-3 and appendices B-D).

A ReLU network is affine on each set of inputs that share its activation pattern. For an input ``x*``
that set is the polytope ``{x : W x + b >= 0}`` with one row per hidden unit: the unit's pre-activation
as an affine function of the input on the region, multiplied by the sign it has at ``x*`` (eq. 1-4).
:func:`region_constraints` builds these rows by composing the layers' affine maps under the activation
pattern, a few matrix products per layer for a whole batch, instead of one gradient per unit as in the
paper's eq. (2)-(3). Batch norm in eval mode is folded into the affine maps, dropout is the identity in
eval mode, and a convolution is applied to the columns of the running Jacobian, which is the same as
treating the CNN as a sparse fully connected network.

:func:`inradius` gives the largest ball inside a region and the input box (eq. 5), an exact LP solved by
:mod:`nngeom.solvers.polytope`; the programs of section 3.4 (``x^t``, the class-region LP) are in
:mod:`nngeom.linear_regions.class_regions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from nngeom.core.device import eval_mode, model_device
from nngeom.solvers.polytope import ChebyshevBall, chebyshev_ball

__all__ = [
    "Region",
    "region_constraints",
    "activation_pattern",
    "inradius",
    "walk_lines",
    "last_point_of_class",
    "hyperplane_angles",
    "layer_coherence",
    "block_coherence",
    "SUPPORTED_LAYERS",
]

SUPPORTED_LAYERS = (nn.Flatten, nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.Dropout, nn.Identity)


@dataclass
class Region:
    """The linear regions of a batch of inputs (tensors on the CPU, float64).

    ``W[i] z + b[i] >= 0`` describes the region of input ``i`` (one row per hidden unit, in forward order,
    oriented to point into the region); ``logit_W[i] z + logit_b[i]`` are the logits on it (eq. 7);
    ``pattern[i]`` is its activation pattern (True: unit active); ``layer_sizes`` the units per ReLU layer.
    """

    W: Tensor
    b: Tensor
    logit_W: Tensor
    logit_b: Tensor
    pattern: Tensor
    layer_sizes: list[int]

    def __len__(self) -> int:
        return len(self.b)

    def slack(self, z: Tensor) -> Tensor:
        """``W z + b`` for points ``z`` ``[N, d]`` (one per region): all >= 0 inside."""
        return torch.einsum("nhd,nd->nh", self.W, z.to(self.W.dtype)) + self.b


def _layers(model: nn.Module) -> list[nn.Module]:
    mods = list(model) if isinstance(model, nn.Sequential) else [model]
    flat: list[nn.Module] = []
    for m in mods:
        flat.extend(_layers(m) if isinstance(m, nn.Sequential) else [m])
    for m in flat:
        if not isinstance(m, SUPPORTED_LAYERS):
            raise ValueError(
                f"region_constraints supports Sequential models of {[c.__name__ for c in SUPPORTED_LAYERS]}; "
                f"got a {type(m).__name__}"
            )
    return flat


def batch_norm_affine(m: nn.Module, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """``(scale, shift)`` per channel of a batch-norm layer in eval mode: ``y = scale * h + shift``, i.e.
    ``gamma (h - mean) / sqrt(var + eps) + beta``."""
    var, mean = m.running_var.to(dtype), m.running_mean.to(dtype)
    scale = 1 / torch.sqrt(var + m.eps)
    if m.affine:
        scale = scale * m.weight.detach().to(dtype)
    shift = -mean * scale
    if m.affine:
        shift = shift + m.bias.detach().to(dtype)
    return scale, shift


def _conv_columns(conv: nn.Conv2d, jac: Tensor, shape: tuple[int, int, int]) -> tuple[Tensor, tuple[int, int, int]]:
    """Apply a convolution without bias to every column of ``jac`` ``[N, C*H*W, d]``."""
    n, _, d = jac.shape
    cols = jac.permute(0, 2, 1).reshape(n * d, *shape)
    out = nn.functional.conv2d(
        cols, conv.weight.to(jac.dtype), None, conv.stride, conv.padding, conv.dilation, conv.groups
    )
    new_shape = tuple(out.shape[1:])
    return out.reshape(n, d, -1).permute(0, 2, 1), new_shape  # type: ignore[return-value]


@torch.no_grad()
def region_constraints(model: nn.Module, x: Tensor, dtype: torch.dtype = torch.float64) -> Region:
    """The H-representation of the linear region of every input of a batch (eq. 4, appendix B).

    Args:
        model: an ``nn.Sequential`` of ``Linear``, ``Conv2d``, ``BatchNorm1d/2d``, ``ReLU``, ``Dropout`` and
            ``Flatten`` layers ending in a ``Linear`` (the logits); used in eval mode.
        x: inputs ``[N, ...]`` in the shape the model takes.
        dtype: precision of the constraints (float64 by default: LPs on them need it).

    Returns:
        A :class:`Region` with ``W`` of shape ``[N, H, d]`` (``H`` hidden units, ``d`` input values).

    Example:
        >>> reg = region_constraints(model, x_test[:4])
        >>> bool((reg.slack(x_test[:4].flatten(1)) >= 0).all())   # each input lies in its own region
        True
    """
    layers = _layers(model)
    if not layers or not isinstance(layers[-1], nn.Linear):
        raise ValueError("the model must end with a Linear layer (the logits)")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch [N, ...], got shape {tuple(x.shape)}")
    dev = model_device(model)
    n = len(x)
    point = x.to(dev, dtype)
    d = point[0].numel()
    # Running affine map of the current activations: value = jac @ x + off, kept flattened (C, H, W order).
    shape: tuple[int, ...] = tuple(point.shape[1:])
    jac = torch.eye(d, device=dev, dtype=dtype).expand(n, d, d)
    off = torch.zeros(n, d, device=dev, dtype=dtype)
    value = point.reshape(n, d)
    rows_w, rows_b, patterns, sizes = [], [], [], []
    for m in layers:
        if isinstance(m, (nn.Flatten, nn.Dropout, nn.Identity)):
            if isinstance(m, nn.Flatten):
                shape = (int(np.prod(shape)),)
            continue
        if isinstance(m, nn.Linear):
            w = m.weight.to(dtype)
            jac = torch.matmul(w, jac)
            off = off @ w.T + (m.bias.to(dtype) if m.bias is not None else 0)
            shape = (m.out_features,)
        elif isinstance(m, nn.Conv2d):
            if len(shape) != 3:
                raise ValueError(f"Conv2d needs a [C, H, W] input, the running shape is {shape}")
            jac, new_shape = _conv_columns(m, jac, shape)  # type: ignore[arg-type]
            off_img = nn.functional.conv2d(
                off.reshape(n, *shape),
                m.weight.to(dtype),
                m.bias.to(dtype) if m.bias is not None else None,
                m.stride,
                m.padding,
                m.dilation,
                m.groups,
            )
            off = off_img.reshape(n, -1)
            shape = new_shape
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            scale, shift = batch_norm_affine(m, dtype)
            per = int(np.prod(shape[1:])) if len(shape) == 3 else 1
            scale, shift = scale.repeat_interleave(per), shift.repeat_interleave(per)
            jac = jac * scale.view(1, -1, 1)
            off = off * scale + shift
        elif isinstance(m, nn.ReLU):
            value = torch.einsum("nhd,nd->nh", jac, point.reshape(n, d)) + off
            active = value > 0
            sign = torch.where(active, 1.0, -1.0).to(dtype)
            rows_w.append(jac * sign.unsqueeze(2))
            rows_b.append(off * sign)
            patterns.append(active)
            sizes.append(value.shape[1])
            jac = jac * active.unsqueeze(2).to(dtype)
            off = off * active.to(dtype)
    if not rows_w:
        raise ValueError("the model has no ReLU layer: its only region is the whole input space")
    return Region(
        W=torch.cat(rows_w, 1).cpu(),
        b=torch.cat(rows_b, 1).cpu(),
        logit_W=jac.cpu(),
        logit_b=off.cpu(),
        pattern=torch.cat(patterns, 1).cpu(),
        layer_sizes=sizes,
    )


@torch.no_grad()
def activation_pattern(model: nn.Module, x: Tensor) -> Tensor:
    """Which ReLU units are active (input > 0) for each input: ``BoolTensor[N, H]``, in forward order."""
    out: list[Tensor] = []

    def hook(_m, inp, _out):
        out.append((inp[0] > 0).flatten(1).cpu())

    handles = [m.register_forward_hook(hook) for m in _layers(model) if isinstance(m, nn.ReLU)]
    try:
        with eval_mode(model):
            model(x.to(model_device(model)))
    finally:
        for h in handles:
            h.remove()
    return torch.cat(out, 1)


def inradius(W: Tensor, b: Tensor, value_range: tuple[float, float], hint: Tensor | None = None) -> ChebyshevBall:
    """The largest ball in ``{z : W z + b >= 0, lo <= z <= hi}`` (eq. 5), with ``value_range = (lo, hi)``,
    for torch tensors: its centre and radius, and what the LP cost.

    The exact LP ``max r`` s.t. ``w_i^T c - r ||w_i|| + b_i >= 0``, ``lo + r <= c <= hi - r``, solved by
    :func:`nngeom.solvers.polytope.chebyshev_ball` (row generation and HiGHS dual simplex: about 2.5 s for a
    3 x 1024 MNIST region here, against 9 s for HiGHS' interior-point method on the whole LP).
    ``hint``: the input whose region this is (speeds up the first working set).
    """
    w = W.detach().double().cpu().numpy()
    bb = b.detach().double().cpu().numpy()
    h = None if hint is None else hint.detach().double().cpu().numpy().ravel()
    return chebyshev_ball(w, bb, value_range, hint=h)


@torch.no_grad()
def _line_preactivations(layers: list[nn.Module], x: Tensor, e: Tensor, masks: list[Tensor] | None):
    """Pre-activations of every ReLU along ``x + beta e``: ``(values at beta = 0, slopes d/dbeta)``.

    With ``masks`` the ReLUs use the given activation patterns instead of the signs of their inputs, so
    the result is the affine function of ``beta`` of the region those patterns define (exactly, even
    where the line only touches it). Returns the masks actually used (the signs when ``masks`` is None).
    """
    # values and slopes travel stacked in one batch [2N, ...], so each weight matrix is read once per
    # step (the walk is bound by reading the weights, not by arithmetic); biases and shifts touch the
    # values only
    n = len(x)
    z = torch.cat([x, e])
    values, slopes, used = [], [], []
    k = 0
    for m in layers:
        if isinstance(m, nn.ReLU):
            v = z[:n]
            values.append(v.flatten(1))
            slopes.append(z[n:].flatten(1))
            mask = (v > 0) if masks is None else masks[k].view_as(v)
            used.append(mask.flatten(1))
            z = z * torch.cat([mask, mask])
            k += 1
        elif isinstance(m, (nn.Dropout, nn.Identity)):
            continue
        elif isinstance(m, nn.Flatten):
            z = m(z)
        elif isinstance(m, nn.Linear):
            z = z @ m.weight.T
            if m.bias is not None:
                z[:n] += m.bias
        elif isinstance(m, nn.Conv2d):
            z = nn.functional.conv2d(z, m.weight, None, m.stride, m.padding, m.dilation, m.groups)
            if m.bias is not None:
                z[:n] += m.bias.view(1, -1, 1, 1)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            scale, shift = batch_norm_affine(m, z.dtype)
            shape = (1, -1) + (1,) * (z.ndim - 2)
            z = z * scale.view(shape)
            z[:n] += shift.view(shape)
    return values, slopes, used


@torch.no_grad()
def walk_lines(
    model: nn.Module, x: Tensor, directions: Tensor, length: float, max_regions: int = 100_000
) -> list[Tensor]:
    """The linear regions met by each segment ``x_i + beta e_i``, ``beta in [0, length]``, found exactly.

    On the current region every pre-activation is an affine function of ``beta``, so the region ends at
    the first ``beta`` where one of them reaches zero. The walk moves there, flips that unit in the
    activation pattern (every other pre-activation is continuous, so keeps its sign) and continues with
    the new region's affine functions. No step size is involved, so no region is skipped however thin;
    all segments advance together, one batched forward pass (in float64) per crossing.

    Args:
        model: a ReLU ``nn.Sequential`` as for :func:`region_constraints` (eval mode).
        x: start points ``[N, ...]``; directions: ``[N, ...]`` (any length; ``beta`` is in their units).
        length: ``epsilon``, the end of the segment in ``beta``.

    Returns:
        For each segment, the ``beta`` at which each region starts (``[0, beta_1, ...]``): the number of
        distinct regions it meets is the length of that tensor (a line enters a convex region once).
    """
    if x.shape != directions.shape or len(x) == 0:
        raise ValueError(
            f"x and directions must be non-empty and of one shape, got {tuple(x.shape)} and {tuple(directions.shape)}"
        )
    if not (isinstance(length, (int, float)) and length > 0):
        raise ValueError(f"parameter 'length' must be a number > 0, got {length!r}")
    layers = _layers(model)
    dev = model_device(model)
    original = next(model.parameters()).dtype
    model.to(torch.float64)
    try:
        with eval_mode(model):
            xs, es = x.to(dev, torch.float64), directions.to(dev, torch.float64)
            n = len(xs)
            beta = torch.zeros(n, dtype=torch.float64, device=dev)
            starts: list[list[float]] = [[0.0] for _ in range(n)]
            _, _, masks = _line_preactivations(layers, xs, es, None)
            mask = torch.cat(masks, 1)
            sizes = [mk.shape[1] for mk in masks]
            active = torch.ones(n, dtype=torch.bool, device=dev)
            for _ in range(max_regions):
                if not active.any():
                    break
                idx = active.nonzero().squeeze(1)
                split = list(mask[idx].split(sizes, 1))
                values, slopes, _ = _line_preactivations(
                    layers, xs[idx] + beta[idx].view(-1, *[1] * (xs.ndim - 1)) * es[idx], es[idx], split
                )
                v, s = torch.cat(values, 1), torch.cat(slopes, 1)
                # a unit leaves its side when it moves towards zero: active units going down, inactive going up
                on = mask[idx]
                towards = torch.where(on, s < 0, s > 0)
                t = torch.where(towards, -v / s, torch.full_like(v, float("inf")))
                t = torch.where(t > 1e-12 * (1 + beta[idx].view(-1, 1)), t, torch.full_like(t, float("inf")))
                step, unit = t.min(1)
                nxt = beta[idx] + step
                stop = nxt > length
                active[idx[stop]] = False
                go = ~stop
                mask[idx[go], unit[go]] ^= True  # the unit whose hyperplane is crossed changes side
                for i, b in zip(idx[go].tolist(), nxt[go].tolist()):
                    starts[i].append(b)
                beta[idx[go]] = nxt[go]
            else:
                raise RuntimeError(f"walk_lines: more than max_regions={max_regions} regions on a segment")
    finally:
        model.to(original)
    return [torch.tensor(b, dtype=torch.float64) for b in starts]


def _unit_rows(W: Tensor) -> Tensor:
    """Rows scaled to unit length; a zero row (a unit constant on the region) becomes NaN."""
    W = W.double()
    n = W.norm(dim=-1, keepdim=True)
    return W / torch.where(n > 0, n, torch.full_like(n, float("nan")))


def hyperplane_angles(W: Tensor) -> Tensor:
    """Angles in degrees between the directions of every pair of a region's hyperplanes (section 3.3).

    ``W`` is ``[H, d]`` (or a batch ``[N, H, d]``) as in :class:`Region`, each row oriented into the
    region, so 0 degrees means two facets face the same way and 90 that they are orthogonal. Returns
    ``[H, H]`` (or ``[N, H, H]``) float64; rows of a unit whose pre-activation is constant on the region
    (a zero direction) give NaN.
    """
    if W.ndim not in (2, 3):
        raise ValueError(f"W must be [H, d] or [N, H, d], got shape {tuple(W.shape)}")
    u = _unit_rows(W)
    return torch.rad2deg(torch.arccos((u @ u.transpose(-1, -2)).clamp(-1, 1)))


def _block_means(W: Tensor, edges: np.ndarray, value, chunk: int = 1024) -> Tensor:
    """``[B, B]`` means of ``value(cos angle(w_i, w_j))`` over the index blocks ``edges`` of one region's rows
    ``W`` ``[H, d]`` (``i != j``, zero rows skipped), a chunk of rows at a time: the ``[H, H]`` matrix of
    a CNN region (12,512 rows on CIFAR-10) is never held whole."""
    u = _unit_rows(W)
    ok = ~torch.isnan(u[:, 0])
    u = torch.nan_to_num(u)
    n_blocks = len(edges) - 1
    sums = torch.zeros(n_blocks, n_blocks, dtype=torch.float64)
    counts = torch.zeros(n_blocks, n_blocks, dtype=torch.float64)
    col_block = torch.from_numpy(np.searchsorted(edges, np.arange(len(u)), side="right") - 1)
    okf = ok.double()
    for start in range(0, len(u), chunk):
        rows = slice(start, min(start + chunk, len(u)))
        v = value((u[rows] @ u.T).clamp(-1, 1))
        mask = okf[rows, None] * okf[None, :]
        idx = torch.arange(rows.start, rows.stop)
        mask[idx - rows.start, idx] = 0.0  # i == j
        v = torch.where(mask > 0, v, torch.zeros_like(v))
        # sum over columns within each column block, then over the rows of each row block
        col_sums = torch.zeros(len(idx), n_blocks, dtype=torch.float64).index_add_(1, col_block, v)
        col_counts = torch.zeros(len(idx), n_blocks, dtype=torch.float64).index_add_(1, col_block, mask)
        sums.index_add_(0, col_block[idx], col_sums)
        counts.index_add_(0, col_block[idx], col_counts)
    return sums / counts


def layer_coherence(W: Tensor, layer_sizes: list[int]) -> Tensor:
    """Mean ``|cos|`` of the angle between two hyperplane directions, for each pair of layers.

    For regions ``W`` ``[N, H, d]`` with ``H = sum(layer_sizes)`` returns ``[N, L, L]``: entry ``(a, b)``
    averages ``|cos angle(w_i, w_j)|`` over units ``i`` of layer ``a`` and ``j`` of layer ``b`` (``i != j``),
    skipping zero directions. 0 means the directions are mutually orthogonal, 1 that they are parallel:
    the summary of the paper's Figure 4 this project tests claims on.
    """
    if W.ndim != 3 or sum(layer_sizes) != W.shape[1]:
        raise ValueError(f"W must be [N, H, d] with H = sum(layer_sizes) = {sum(layer_sizes)}, got {tuple(W.shape)}")
    edges = np.cumsum([0] + list(layer_sizes))
    return torch.stack([_block_means(W[n], edges, torch.abs) for n in range(W.shape[0])])


def block_coherence(W: Tensor, blocks: int = 512) -> Tensor:
    """Mean ``|cos|`` between hyperplane directions of one region ``W`` ``[H, d]`` over a ``blocks x blocks``
    grid of consecutive unit ranges: Figures 4 and 10 at a size a screen shows, for regions whose
    ``[H, H]`` matrix is too large to hold (12,512 units for the CIFAR-10 CNN). Averaged angles would all
    be near 90 degrees; the mean ``|cos|`` keeps the few aligned pairs visible (0: orthogonal)."""
    if W.ndim != 2:
        raise ValueError(f"W must be [H, d], got shape {tuple(W.shape)}")
    if not (isinstance(blocks, int) and not isinstance(blocks, bool) and blocks >= 1):
        raise ValueError(f"parameter 'blocks' must be a positive integer, got {blocks!r}")
    edges = np.unique(np.linspace(0, W.shape[0], min(blocks, W.shape[0]) + 1).astype(int))
    return _block_means(W, edges, torch.abs)


@torch.no_grad()
def last_point_of_class(model: nn.Module, x: Tensor, targets: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The largest ``alpha`` in [0, 1] with ``x + alpha (target - x)`` still classified as ``label``.

    This is how Zhang & Wu (section 3.2) find a region that holds a decision boundary: walk from a test
    point towards a target (the mean of another class, or an adversarial example) and keep the last
    point of the test point's class. The segment is walked exactly (:func:`walk_lines`); on each
    linear piece the logits are affine in ``alpha``, so the set where ``label`` wins is an interval found
    in closed form, and the answer is the right end of the last non-empty one (no bisection, which could
    stop at an earlier crossing when the class changes more than once).

    Returns ``(alpha [N] float64, inner [N, ...])``: ``inner`` is a point of the same piece just before
    ``alpha`` (the middle of its part of the winning interval), which lies inside the linear region that
    contains the boundary point, so :func:`region_constraints` on it gives that region.
    """
    labels = torch.as_tensor(labels).long()
    if x.shape != targets.shape or labels.shape != (len(x),):
        raise ValueError(
            f"x and targets must have one shape and labels [N]; got {tuple(x.shape)}, "
            f"{tuple(targets.shape)}, {tuple(labels.shape)}"
        )
    starts = walk_lines(model, x, targets - x, 1.0)
    dev = model_device(model)
    original = next(model.parameters()).dtype
    model.to(torch.float64)
    alphas = torch.empty(len(x), dtype=torch.float64)
    inner = torch.empty_like(x, dtype=torch.float64)
    try:
        with eval_mode(model):
            for i, b in enumerate(starts):
                knots = torch.cat([b, torch.ones(1, dtype=torch.float64)])
                xi, ei = x[i].double(), (targets[i] - x[i]).double()
                pts = xi[None] + knots.view(-1, *[1] * xi.ndim) * ei[None]
                logit = model(pts.to(dev)).cpu()
                y = int(labels[i])
                gap = logit[:, y : y + 1] - logit  # [K+1, C]: >= 0 where y wins; linear between knots
                found = False
                for k in range(len(b) - 1, -1, -1):
                    g0, g1 = gap[k], gap[k + 1]
                    lo_t, hi_t = 0.0, 1.0  # the winning part of this piece, as a fraction of it
                    for c in range(len(g0)):
                        a0, a1 = float(g0[c]), float(g1[c])
                        if a0 >= 0 and a1 >= 0:
                            continue
                        if a0 < 0 and a1 < 0:
                            lo_t, hi_t = 1.0, 0.0
                            break
                        t = a0 / (a0 - a1)  # the zero of the linear gap
                        if a0 >= 0:
                            hi_t = min(hi_t, t)
                        else:
                            lo_t = max(lo_t, t)
                    if lo_t <= hi_t:
                        left, width = float(knots[k]), float(knots[k + 1] - knots[k])
                        alphas[i] = left + hi_t * width
                        inner[i] = xi + (left + 0.5 * (lo_t + hi_t) * width) * ei
                        found = True
                        break
                if not found:
                    raise ValueError(f"input {i} is not classified as its label {y}: no point of the segment is")
    finally:
        model.to(original)
    return alphas, inner.to(x.dtype)
