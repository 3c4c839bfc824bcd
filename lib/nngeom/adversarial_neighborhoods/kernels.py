"""The discrete path kernel of a model trained by full-batch gradient descent (Bell, thesis Part II).

A model ``y_w`` trained by N forward-Euler steps ``w_{s+1} = w_s - eps * grad_w L(w_s)`` on a training
set ``{(x_i, y_i)}`` changes its output at any input ``x`` over step ``s`` by exactly

    y_{s+1}(x) - y_s(x) = int_0^1 J(x; w_s(t)) dt . (w_{s+1} - w_s),   w_s(t) = w_s + t (w_{s+1} - w_s)

(the fundamental theorem of calculus along the straight step; ``J`` is the Jacobian of the outputs in
the weights). Since ``w_{s+1} - w_s = sum_i J(x_i; w_s)^T a_{i,s}`` with ``a_{i,s} = -eps dL/dy(x_i)``
(eq. 12), the output is a sum over training points and steps of kernel values (Theorem 14.5):

    y_N(x) = y_0(x) + sum_i sum_s  < int_0^1 J(x; w_s(t)) dt ,  J(x_i; w_s) >  a_{i,s}     (eq. 15)

which is a kernel machine when ``y_0`` is a constant ``b`` (Remark 2: a last layer of zeros). Nothing
here is approximate except the integral over ``t``; :func:`path_kernel` offers three rules for it:

- ``"exact"``: for a one-hidden-layer ReLU net the integrand is piecewise linear in ``t``, with kinks
  where a hidden pre-activation changes sign; those are roots of linear functions of ``t``, so the
  integral is computed exactly (two Gauss points per piece) and the reconstruction matches the trained
  model to floating-point level;
- ``"gauss"``: Gauss-Legendre with ``nodes`` points on [0, 1], for any differentiable model;
- ``"uniform"``: the mean over ``nodes`` equally spaced values of ``t`` from 0 to 1, as in the thesis
  (which used 100).

Definition 14.3 maps a *training* input through the gradient at ``w_s`` instead of the integral; that
``symmetric`` kernel is a kernel (Lemma 14.4) but reconstructs the outputs at training inputs only up
to the gap between the discrete step and the gradient flow (Remark 1). The ``asymmetric`` kernel of
eq. (16) integrates for every query and is exact everywhere. Both are offered (``variant``).
Multi-class outputs follow section 17.4 (a scalar loss of a vector output): ``a_{i,s}`` is a K-vector
and each kernel value a K x K block. Per-sample gradients and Jacobians use ``torch.func`` (vmap).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jacrev, vmap
from tqdm import tqdm

from nngeom.core.device import eval_mode
from nngeom.core.io import atomic_path, atomic_write_json
from nngeom.core.validation import check_choice, check_positive, check_positive_int

__all__ = [
    "LOSSES",
    "RULES",
    "VARIANTS",
    "Trajectory",
    "PathKernel",
    "zero_last_layer",
    "train_full_batch",
    "path_kernel",
    "kernel_matrix",
    "self_kernel",
    "sample_loss",
    "InterpolationPath",
    "parameter_interpolation",
]

LOSSES = ("bce", "cross_entropy", "mse")
RULES = ("exact", "gauss", "uniform")
VARIANTS = ("asymmetric", "symmetric")


def zero_last_layer(model: nn.Module) -> nn.Module:
    """Set the last ``Linear`` layer's weights and bias to zero, so the initial output is the constant 0
    for every input (the condition of Theorem 14.5). Returns the model."""
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError("parameter 'model' has no nn.Linear layer to zero")
    with torch.no_grad():
        linear[-1].weight.zero_()
        if linear[-1].bias is not None:
            linear[-1].bias.zero_()
    return model


def sample_loss(loss: str, out: Tensor, y: Tensor) -> Tensor:
    """Per-sample loss of outputs ``out`` [n, K] against labels ``y``: ``"bce"`` (one logit, labels 0/1,
    sigmoid inside), ``"cross_entropy"`` (K logits, integer labels) or ``"mse"`` (``(y_hat - y)^2`` summed
    over outputs, the thesis' eq. 65)."""
    if loss == "bce":
        return nn.functional.binary_cross_entropy_with_logits(out[..., 0], y.to(out.dtype), reduction="none")
    if loss == "cross_entropy":
        return nn.functional.cross_entropy(out, y.long(), reduction="none")
    if loss == "mse":
        return ((out - y.to(out.dtype).reshape(out.shape)) ** 2).sum(-1)
    raise ValueError(f"parameter 'loss' must be one of {LOSSES}, got {loss!r}")


@dataclass
class Trajectory:
    """Every weight state of full-batch gradient descent: ``weights[s]`` is ``w_s`` flattened (s = 0..N).

    ``model`` supplies the architecture (its own parameters are not used); ``x``, ``y`` are the training
    set, ``lr`` the step size and ``scale`` the factor of the summed loss (1 for ``reduction="sum"``,
    ``1/M`` for ``"mean"``), so that ``w_{s+1} = w_s - lr * scale * sum_i grad l_i(w_s)``.
    """

    model: nn.Module
    names: list[str]
    shapes: list[torch.Size]
    weights: Tensor
    x: Tensor
    y: Tensor
    loss: str
    lr: float
    scale: float
    losses: list[float] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return self.weights.shape[0] - 1

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        out, k = {}, 0
        for name, shape in zip(self.names, self.shapes):
            n = math.prod(shape)
            out[name] = flat[k : k + n].reshape(shape)
            k += n
        return out

    def forward(self, flat: Tensor, x: Tensor) -> Tensor:
        """Outputs [n, K] of the model with flattened weights ``flat`` on inputs ``x`` [n, ...], in eval mode
        (the model's own mode is restored)."""
        with eval_mode(self.model):
            out = functional_call(self.model, self.unflatten(flat), (x,))
        return out.reshape(out.shape[0], -1)

    def outputs(self, s: int, x: Tensor, batch_size: int = 4096) -> Tensor:
        """The model's outputs at step ``s`` ([n, K])."""
        w = self.weights[s].to(x.device)
        with torch.no_grad():
            return torch.cat([self.forward(w, c) for c in x.split(batch_size)])


def _flat(model: nn.Module) -> tuple[list[str], list[torch.Size], Tensor]:
    names, shapes, flats = [], [], []
    for name, p in model.named_parameters():
        names.append(name)
        shapes.append(p.shape)
        flats.append(p.detach().reshape(-1))
    if not names:
        raise ValueError("parameter 'model' has no parameters")
    return names, shapes, torch.cat(flats)


def train_full_batch(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    loss: str,
    lr: float,
    steps: int,
    reduction: str = "sum",
    path: os.PathLike | str | None = None,
    progress: bool = True,
) -> Trajectory:
    """Train ``model`` by ``steps`` forward-Euler steps of size ``lr`` on the whole training set, keeping
    every weight state.

    The model must be deterministic in eval mode (no dropout; batch norm would use its running
    statistics); its parameters are read as ``w_0`` and left unchanged. ``reduction`` is ``"sum"`` (the
    thesis: the gradient is a sum over the training data) or ``"mean"``. With ``path``, the weights go
    to a ``.npy`` file written atomically (with a ``.json`` beside it); a later call with the same
    initial weights, data and settings loads it instead of training again.
    """
    check_choice("loss", loss, LOSSES)
    check_choice("reduction", reduction, ("sum", "mean"))
    lr = check_positive("lr", lr)
    steps = check_positive_int("steps", steps)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"parameters 'x' and 'y' must be non-empty and of equal length, got {len(x)} and {len(y)}")
    names, shapes, w0 = _flat(model)
    scale = 1.0 if reduction == "sum" else 1.0 / len(x)
    traj = Trajectory(model, names, shapes, torch.empty(0), x, y, loss, float(lr), scale)
    meta = {
        "steps": steps,
        "lr": float(lr),
        "loss": loss,
        "reduction": reduction,
        "parameters": int(w0.numel()),
        "dtype": str(w0.dtype),
        "data": _fingerprint(x, y),
        "w0": _fingerprint(w0),
    }
    if path is not None:
        path = Path(path)
        cached = _load_cached(path, meta)
        if cached is not None:
            traj.weights, traj.losses = torch.from_numpy(cached[0]).to(w0.device), cached[1]
            return traj
    weights = torch.empty(steps + 1, w0.numel(), dtype=w0.dtype, device=w0.device)
    weights[0] = w0

    def total_loss(flat: Tensor) -> Tensor:
        return scale * sample_loss(loss, traj.forward(flat, x), y).sum()

    w = w0.clone()
    for s in tqdm(range(steps), desc="gradient descent", disable=not progress, leave=False):
        w = w.detach().requires_grad_(True)
        value = total_loss(w)
        (g,) = torch.autograd.grad(value, w)
        traj.losses.append(float(value.detach()))
        w = (w - lr * g).detach()
        weights[s + 1] = w
    with torch.no_grad():
        traj.losses.append(float(total_loss(w)))
    traj.weights = weights
    if path is not None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, weights.cpu().numpy())
        atomic_write_json(path.with_suffix(".json"), dict(meta, losses=traj.losses))
    return traj


def _fingerprint(*tensors: Tensor) -> str:
    import hashlib

    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _load_cached(path: Path, meta: dict) -> tuple[np.ndarray, list[float]] | None:
    side = path.with_suffix(".json")
    if not (path.exists() and side.exists()):
        return None
    saved = json.loads(side.read_text())
    if any(saved.get(k) != v for k, v in meta.items()):
        return None
    return np.load(path), saved["losses"]


@dataclass
class PathKernel:
    """The kernel representation (eq. 15) of a trained model at ``Q`` query inputs.

    ``contributions[q, i]`` is what training point ``i`` adds to query ``q``'s ``K`` outputs over all
    steps, ``sum_s <int J(x_q), J(x_i; w_s)> a_{i,s}``; ``kernel[q, i]`` (if asked for) is the kernel
    value summed over steps, ``sum_s trace <int J(x_q), J(x_i; w_s)>`` (the trace of the K x K block).
    ``initial`` and ``final`` are the model's outputs at ``w_0`` and ``w_N``; ``b`` is the constant of
    the kernel machine, the mean initial output over the training set. ``step_mismatch`` is the largest
    ``|sum_i J(x_i; w_s)^T a_{i,s} - (w_{s+1} - w_s)|`` over the steps: zero up to rounding when the
    trajectory is plain gradient descent on the stored training set.
    """

    contributions: Tensor
    kernel: Tensor | None
    initial: Tensor
    final: Tensor
    b: Tensor
    rule: str
    variant: str
    nodes_per_step: float
    step_mismatch: float

    @property
    def prediction(self) -> Tensor:
        """The kernel machine's output ``b + sum_i contributions`` ([Q, K])."""
        return self.b + self.contributions.sum(1)

    @property
    def error(self) -> float:
        """Largest ``|y_N(x) - prediction(x)|``: the representation's whole error."""
        return float((self.final - self.prediction).abs().max())

    @property
    def quadrature_error(self) -> float:
        """Largest ``|y_N(x) - y_0(x) - sum_i contributions|``: the error of the integral over ``t`` (and of
        the symmetric variant at training inputs), without the non-constant initial output."""
        return float((self.final - self.initial - self.contributions.sum(1)).abs().max())

    @property
    def initial_spread(self) -> float:
        """Largest ``|y_0(x) - b|``: how far the initial output is from a constant (Remark 2)."""
        return float((self.initial - self.b).abs().max())


def _one_hidden_layer(traj: Trajectory) -> tuple[str, str]:
    """Names of the first Linear layer's weight and bias, if the model is Linear-ReLU-Linear (a Flatten
    in front allowed); otherwise a ValueError naming the rule."""
    mods = [m for m in traj.model.children()] if isinstance(traj.model, nn.Sequential) else []
    kinds = [type(m) for m in mods if not isinstance(m, nn.Flatten)]
    if kinds != [nn.Linear, nn.ReLU, nn.Linear] or isinstance(mods[-1], nn.Flatten):
        raise ValueError(
            "rule 'exact' needs an nn.Sequential([Flatten,] Linear, ReLU, Linear) (one hidden ReLU layer, "
            "whose kinks along a step are roots of linear functions); use rule 'gauss' or 'uniform'"
        )
    first = next(i for i, m in enumerate(mods) if isinstance(m, nn.Linear))
    if mods[first].bias is None:
        raise ValueError("rule 'exact' needs a bias in the first Linear layer")
    return f"{first}.weight", f"{first}.bias"


def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1) / 2, w / 2


def _fixed_nodes(rule: str, nodes: int) -> tuple[Tensor, Tensor]:
    """Nodes and weights on [0, 1] of the rules that are the same for every query ("gauss", "uniform")."""
    t, w = _gauss_legendre(nodes) if rule == "gauss" else (np.linspace(0.0, 1.0, nodes), np.full(nodes, 1.0 / nodes))
    return torch.from_numpy(t), torch.from_numpy(w)


def _nodes(traj: Trajectory, s: int, x: Tensor, rule: str, nodes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Quadrature nodes of step ``s`` for every query: ``(query index, t, weight)``, each [n]."""
    q = len(x)
    if rule in ("gauss", "uniform"):
        t, w = _fixed_nodes(rule, nodes)
        return torch.arange(q).repeat_interleave(len(t)), t.repeat(q), w.repeat(q)
    wname, bname = _one_hidden_layer(traj)
    p0, p1 = traj.unflatten(traj.weights[s]), traj.unflatten(traj.weights[s + 1])
    flat = x.reshape(q, -1)
    z0 = (flat @ p0[wname].T + p0[bname]).cpu().double()
    z1 = (flat @ p1[wname].T + p1[bname]).cpu().double()
    g_t, g_w = (torch.from_numpy(a).to(z0) for a in _gauss_legendre(2))  # linear between kinks: 2 points are exact
    cross = (z0 > 0) != (z1 > 0)
    kinks = torch.where(cross, z0 / torch.where(cross, z0 - z1, torch.ones_like(z0)), torch.ones_like(z0))
    kinks = kinks.clamp(0.0, 1.0)  # a unit that does not change sign contributes a piece of width 0
    edges = torch.sort(torch.cat([torch.zeros(q, 1).to(z0), kinks, torch.ones(q, 1).to(z0)], 1), 1).values
    width = edges.diff(dim=1)
    keep = width > 0
    rows = torch.nonzero(keep)
    start, w = edges[:, :-1][keep], width[keep]
    t = (start[:, None] + w[:, None] * g_t[None]).reshape(-1)
    wt = (w[:, None] * g_w[None]).reshape(-1)
    return rows[:, 0].repeat_interleave(len(g_t)), t, wt


def _dict_forward(traj: Trajectory, params: dict[str, Tensor], xn: Tensor) -> Tensor:
    """Outputs [K] of one input under a dict of parameters (differentiating by the dict, not by the flat
    vector, keeps the backward pass from scattering every layer's gradient into a zero vector of P)."""
    return functional_call(traj.model, params, (xn[None],)).reshape(-1)


def _cat(grads: dict[str, Tensor], lead: int) -> Tensor:
    """A dict of per-parameter gradients with ``lead`` leading dims, flattened into [..., P] in order."""
    return torch.cat([g.reshape(*g.shape[:lead], -1) for g in grads.values()], -1)


def _jacobians(traj: Trajectory, w: Tensor, dw: Tensor, x: Tensor, t: Tensor) -> Tensor:
    """``J(x_n; w + t_n dw)`` for rows ``n`` ([n, K, P]): one weight vector per row."""

    def one(tn: Tensor, xn: Tensor) -> dict[str, Tensor]:
        return jacrev(_dict_forward, argnums=1)(traj, traj.unflatten(w + tn * dw), xn)

    return _cat(vmap(one)(t.to(w), x), 2)


def _integrated(
    traj: Trajectory, s: int, x: Tensor, rule: str, nodes: int, at_start: Tensor, chunk: int
) -> tuple[Tensor, int]:
    """``int_0^1 J(x_q; w_s(t)) dt`` for every query ([Q, K, P]); rows of ``at_start`` take ``J(x_q; w_s)``
    instead (the symmetric kernel's map of a training input). Returns the number of nodes used too."""
    w, dw = traj.weights[s], traj.weights[s + 1] - traj.weights[s]
    out = None

    def add(rows: Tensor, J: Tensor) -> None:
        nonlocal out
        if out is None:
            out = torch.zeros(len(x), *J.shape[1:], dtype=J.dtype, device=J.device)
        out.index_add_(0, rows.to(J.device), J)

    integrate = torch.nonzero(~at_start).reshape(-1)
    used = 0
    # Nodes that differ per query (rule "exact"), or a problem so small that per-call overhead dominates:
    # one weight vector per row, many rows per vectorised call. Otherwise one call per node, its weights
    # shared by a batch of queries (2-3x faster for an MNIST-sized net).
    if rule == "exact" or len(integrate) * w.numel() < (1 << 16):
        idx, t, wt = _nodes(traj, s, x[integrate], rule, nodes) if len(integrate) else (integrate,) * 3
        idx = integrate[idx]
        for lo in range(0, len(idx), chunk):
            sl = slice(lo, lo + chunk)
            add(idx[sl], _jacobians(traj, w, dw, x[idx[sl]], t[sl]) * wt[sl].to(w)[:, None, None])
        used += len(idx)
    else:  # the same nodes for every query: one weight vector per node, shared by a batch of queries
        t, wt = _fixed_nodes(rule, nodes)
        for tn, wn in zip(t.tolist(), wt.tolist()):
            for rows in integrate.split(chunk) if len(integrate) else ():
                add(rows, wn * _shared_jacobians(traj, w + tn * dw, x[rows]))
        used += len(t) * len(integrate)
    fixed = torch.nonzero(at_start).reshape(-1)
    for rows in fixed.split(chunk) if len(fixed) else ():
        add(rows, _shared_jacobians(traj, w, x[rows]))
    used += len(fixed)
    return out, used


def _shared_jacobians(traj: Trajectory, w: Tensor, x: Tensor) -> Tensor:
    """``J(x_n; w)`` for rows ``n`` at one weight vector ([n, K, P])."""
    jac = vmap(jacrev(_dict_forward, argnums=1), in_dims=(None, None, 0))(traj, traj.unflatten(w), x)
    return _cat(jac, 2)


def _training_vectors(traj: Trajectory, s: int) -> Tensor:
    """``J(x_i; w_s)^T a_{i,s}`` = ``-lr * scale * grad l_i(w_s)`` for every training point ([M, P])."""

    def one(params: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        out = functional_call(traj.model, params, (xi[None],)).reshape(1, -1)
        return -traj.lr * traj.scale * sample_loss(traj.loss, out, yi[None])[0]

    return _cat(vmap(grad(one), in_dims=(None, 0, 0))(traj.unflatten(traj.weights[s]), traj.x, traj.y), 1)


def _in_training_set(traj: Trajectory, x: Tensor, chunk: int = 64) -> Tensor:
    """Which rows of ``x`` equal a training input exactly ([Q] bool), compared a batch of queries at a time."""
    xt = traj.x.reshape(len(traj.x), -1)
    xq = x.reshape(len(x), -1)
    return (
        torch.cat([(c[:, None, :] == xt[None]).all(-1).any(1) for c in xq.split(chunk)])
        if len(x)
        else torch.zeros(0, dtype=torch.bool)
    )


def path_kernel(
    traj: Trajectory,
    x: Tensor,
    *,
    rule: str = "exact",
    nodes: int = 100,
    variant: str = "asymmetric",
    kernel: bool = False,
    chunk: int = 256,
    progress: bool = True,
) -> PathKernel:
    """The discrete path kernel representation of the trained model at queries ``x`` [Q, ...].

    Args:
        traj: the gradient-descent trajectory (:func:`train_full_batch`).
        x: query inputs, shaped like the training inputs.
        rule: the integral over ``t`` in each step: ``"exact"`` (one-hidden-layer ReLU nets),
            ``"gauss"`` (``nodes``-point Gauss-Legendre) or ``"uniform"`` (mean of ``nodes`` equally
            spaced values of ``t`` from 0 to 1, the thesis' rule).
        nodes: points per step for ``"gauss"`` and ``"uniform"``.
        variant: ``"asymmetric"`` (eq. 16: every query integrated; exact) or ``"symmetric"``
            (Definition 14.3: a query equal to a training input uses the gradient at ``w_s``).
        kernel: also return the kernel values ``[Q, M]`` (costs a Jacobian of every training point
            per step).
        chunk: Jacobians evaluated per vectorised call (memory: ``chunk x K x P`` numbers).

    Returns a :class:`PathKernel`; ``.error`` is the largest difference between the trained model and
    its kernel machine, ``.quadrature_error`` the part that the rule for ``t`` causes.

    Example::

        net = zero_last_layer(nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))).double()
        traj = train_full_batch(net, x, y, loss="bce", lr=1e-3, steps=200)
        rep = path_kernel(traj, x_test)          # rep.error is at rounding level
    """
    check_choice("rule", rule, RULES)
    check_choice("variant", variant, VARIANTS)
    nodes = check_positive_int("nodes", nodes)
    chunk = check_positive_int("chunk", chunk)
    if rule == "uniform" and nodes < 2:
        raise ValueError("parameter 'nodes' must be at least 2 for rule 'uniform' (both ends of the step)")
    if rule == "exact":
        _one_hidden_layer(traj)
    dev = traj.weights.device
    x = x.to(dev, traj.weights.dtype)
    at_start = _in_training_set(traj, x.to(traj.x)) if variant == "symmetric" else torch.zeros(len(x), dtype=torch.bool)
    initial, final = traj.outputs(0, x), traj.outputs(traj.steps, x)
    b = traj.outputs(0, traj.x).mean(0)
    Q, M, K = len(x), len(traj.x), initial.shape[1]
    contributions = torch.zeros(Q, M, K, dtype=initial.dtype, device=dev)
    kern = torch.zeros(Q, M, dtype=initial.dtype, device=dev) if kernel else None
    mismatch, used = 0.0, 0
    for s in tqdm(range(traj.steps), desc=f"path kernel ({rule})", disable=not progress, leave=False):
        Jbar, n = _integrated(traj, s, x, rule, nodes, at_start, chunk)
        used += n
        V = _training_vectors(traj, s)
        mismatch = max(mismatch, float((V.sum(0) - (traj.weights[s + 1] - traj.weights[s])).abs().max()))
        contributions += torch.einsum("qkp,mp->qmk", Jbar, V)
        if kern is not None:
            for lo in range(0, M, max(1, chunk // K)):
                xi = traj.x[lo : lo + max(1, chunk // K)]
                Jt = _shared_jacobians(traj, traj.weights[s], xi)
                kern[:, lo : lo + len(xi)] += torch.einsum("qkp,mkp->qm", Jbar, Jt)
    return PathKernel(contributions, kern, initial, final, b, rule, variant, used / max(1, traj.steps * Q), mismatch)


def self_kernel(traj: Trajectory, x: Tensor, *, at_start: bool = False) -> Tensor:
    """The kernel of each input with itself, summed over steps and traced over the outputs ([Q]).

    ``at_start=False`` (an input outside the training set, eq. 14): ``sum_s int_0^1 ||J(x; w_s(t))||_F^2 dt``;
    ``at_start=True`` (a training input, mapped through its gradient at ``w_s``): ``sum_s ||J(x; w_s)||_F^2``.
    With the ``kernel`` of a :class:`PathKernel` these give the kernel-induced distance
    ``d(x, x_i)^2 = K(x, x) - 2 K(x, x_i) + K(x_i, x_i)``, which is ``sum_s int ||J(x; w_s(t)) - J(x_i; w_s)||_F^2 dt``
    and so never negative. Only for one-hidden-layer ReLU nets (Linear, ReLU, Linear), where
    ``||J||_F^2 = K (||h||^2 + 1) + (||x||^2 + 1) sum_j [z_j > 0] ||W2[:, j]||^2`` (h the hidden activations,
    z their pre-activations; the ones for the biases) is piecewise quadratic in ``t`` with kinks where a
    ``z_j`` changes sign, so two Gauss points per piece integrate it exactly.
    """
    wname, bname = _one_hidden_layer(traj)
    mods = list(traj.model.children())
    last = max(i for i, m in enumerate(mods) if isinstance(m, nn.Linear))
    w2name, b2name = f"{last}.weight", f"{last}.bias"
    dev = traj.weights.device
    x = x.to(dev, traj.weights.dtype)
    q = len(x)
    flat = x.reshape(q, -1)
    xnorm = (flat * flat).sum(1) + 1.0  # the first layer's weights and bias
    out = torch.zeros(q, dtype=traj.weights.dtype, device=dev)
    for s in range(traj.steps):
        p0, p1 = traj.unflatten(traj.weights[s]), traj.unflatten(traj.weights[s + 1])
        k_out = p0[w2name].shape[0]
        b2 = 1.0 if b2name in p0 else 0.0
        z0 = flat @ p0[wname].T + p0[bname]
        if at_start:
            rows, t, wt = (
                torch.arange(q, device=dev),
                torch.zeros(q, device=dev, dtype=x.dtype),
                torch.ones(q, device=dev, dtype=x.dtype),
            )
            dz = torch.zeros_like(z0)
        else:
            rows, t, wt = (a.to(dev) for a in _nodes(traj, s, x, "exact", 2))
            t, wt = t.to(x.dtype), wt.to(x.dtype)
            dz = flat @ p1[wname].T + p1[bname] - z0
        a = (p0[w2name] ** 2).sum(0)  # ||W2[:, j]||^2 at t = 0
        d2 = p1[w2name] - p0[w2name]
        bb, cc = 2 * (p0[w2name] * d2).sum(0), (d2**2).sum(0)  # + t bb + t^2 cc along the step
        z = z0[rows] + t[:, None] * dz[rows]
        h = torch.relu(z)
        col = a[None] + t[:, None] * bb[None] + (t**2)[:, None] * cc[None]
        val = k_out * ((h * h).sum(1) + b2) + xnorm[rows] * ((z > 0).to(x.dtype) * col).sum(1)
        out.index_add_(0, rows, wt * val)
    return out


def kernel_matrix(
    traj: Trajectory, x: Tensor, *, variant: str = "symmetric", nodes: int = 8, progress: bool = True
) -> Tensor:
    """The kernel matrix ``[n, n]`` of inputs ``x`` (none of them a training input), summed over steps
    and traced over outputs.

    ``"symmetric"``: ``sum_s int_0^1 <J(x_a; w_s(t)), J(x_b; w_s(t))> dt`` (Lemma 14.4: symmetric and
    positive semi-definite; with a rule of positive weights, as Gauss-Legendre, the computed matrix is
    too). ``"asymmetric"``: ``sum_s int_0^1 <J(x_a; w_s(t)), J(x_b; w_s)> dt`` (eq. 16), which is not
    symmetric in general. The integral uses ``nodes``-point Gauss-Legendre.
    """
    check_choice("variant", variant, VARIANTS)
    nodes = check_positive_int("nodes", nodes)
    x = x.to(traj.weights.device, traj.weights.dtype)
    t, wt = _fixed_nodes("gauss", nodes)
    n = len(x)
    out = torch.zeros(n, n, dtype=traj.weights.dtype, device=x.device)
    for s in tqdm(range(traj.steps), desc="kernel matrix", disable=not progress, leave=False):
        w, dw = traj.weights[s], traj.weights[s + 1] - traj.weights[s]
        J0 = _shared_jacobians(traj, w, x).reshape(n, -1)
        for tn, wn in zip(t.tolist(), wt.tolist()):
            Jt = _shared_jacobians(traj, w + tn * dw, x).reshape(n, -1)
            out += wn * (Jt @ (Jt if variant == "symmetric" else J0).T)
    return out


@dataclass
class InterpolationPath:
    """Quantities along ``w(t) = w_0 + t (w_1 - w_0)`` (the thesis' Figure 24), each [len(t)]: accuracy,
    mean loss, the weights' L2 norm, and the loss gradient's component along the unit direction
    ``(w_1 - w_0) / |w_1 - w_0|`` (the slope of the loss along the path, per unit of weight distance)."""

    t: Tensor
    accuracy: Tensor
    loss: Tensor
    weight_norm: Tensor
    projection: Tensor
    distance: float
    per_sample_loss: Tensor | None = None  # [len(t), n] with per_sample=True
    per_sample_correct: Tensor | None = None  # [len(t), n] bool with per_sample=True (classification losses)


def parameter_interpolation(
    start: nn.Module,
    end: nn.Module,
    x: Tensor,
    y: Tensor,
    t: Sequence[float],
    *,
    loss: str = "cross_entropy",
    batch_size: int = 2048,
    progress: bool = True,
    per_sample: bool = False,
) -> InterpolationPath:
    """Evaluate the models on the straight line between the weights of ``start`` and ``end`` (the same
    architecture) on data ``x``, ``y``: accuracy (NaN for ``"mse"``), mean loss, weight norm and the projection of the
    aggregated loss gradient on the line's direction. Buffers (batch-norm statistics) are taken from
    ``end``; both models are used in eval mode. ``per_sample=True`` also keeps every input's loss and
    whether it is classified correctly at every ``t`` (for intervals over the inputs)."""
    check_choice("loss", loss, LOSSES)
    names, shapes, w0 = _flat(start)
    names1, _, w1 = _flat(end)
    if names != names1 or w0.shape != w1.shape:
        raise ValueError("parameters 'start' and 'end' must be the same architecture")
    traj = Trajectory(end, names, shapes, torch.stack([w0, w1]), x, y, loss, 1.0, 1.0)
    direction = w1 - w0
    distance = float(direction.norm())
    unit = direction / max(distance, 1e-300)
    ts = torch.as_tensor(list(t), dtype=torch.float64)
    out = {k: [] for k in ("accuracy", "loss", "weight_norm", "projection")}
    keep_loss, keep_correct = [], []
    for tn in tqdm(ts.tolist(), desc="parameter interpolation", disable=not progress, leave=False):
        w = (w0 + tn * direction).detach().requires_grad_(True)
        total, correct, n = 0.0, 0, len(x)
        g = torch.zeros_like(w)
        row_loss, row_correct = [], []
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            o = traj.forward(w, xb.to(w.device, w.dtype))
            each = sample_loss(loss, o, yb.to(w.device))
            li = each.sum()
            g += torch.autograd.grad(li, w)[0]
            total += float(li.detach())
            if per_sample:
                row_loss.append(each.detach().reshape(len(xb), -1).sum(1).double().cpu())
            if loss != "mse":
                pred = (o[:, 0] > 0).long() if loss == "bce" else o.argmax(1)
                hit = pred == yb.to(w.device).long()
                correct += int(hit.sum())
                if per_sample:
                    row_correct.append(hit.cpu())
        if per_sample:
            keep_loss.append(torch.cat(row_loss))
            if row_correct:
                keep_correct.append(torch.cat(row_correct))
        out["accuracy"].append(correct / n if loss != "mse" else float("nan"))  # no classes under MSE
        out["loss"].append(total / n)
        out["weight_norm"].append(float(w.detach().norm()))
        out["projection"].append(float((g / n) @ unit))
    return InterpolationPath(
        ts,
        *(torch.tensor(out[k], dtype=torch.float64) for k in out),
        distance,
        torch.stack(keep_loss) if keep_loss else None,
        torch.stack(keep_correct) if keep_correct else None,
    )
