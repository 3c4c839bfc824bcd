"""Adversarial attacks with one interface: ``attack = Cls(model, ...)``, then ``x_adv = attack(images, labels)``.

* FGSM, BIM (= IGSM), PGD, MIFGSM, R+FGSM and CW are thin wrappers of torchattacks (pinned in
  ``pyproject.toml``), as in Bell's thesis; they add chunking over large batches, a seed for the
  attacks that draw random numbers, and the targeted mode selected by an argument.
* :class:`LBFGS` is the box-constrained L-BFGS attack of Szegedy et al., which torchattacks does not
  have. It is batched: one scipy L-BFGS-B run minimises the sum of the per-image objectives, which is
  separable, so its minimiser is the tuple of the per-image minimisers.

Every attack works on images in the box [0, 1] (any shape ``[N, ...]``), returns images of the same shape
in the box, on the device of the input, and never modifies its input. ``labels`` are the true classes
for an untargeted attack and the target classes for a targeted one. An attack that did not reach its
goal still returns an image (its last attempt); :func:`succeeded` says which ones did, and
:func:`distortion` measures them as the thesis does (Definition 1.8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torchattacks
from torch import Tensor, nn
from tqdm import tqdm

from nngeom.core.device import eval_mode, model_device, predict
from nngeom.core.validation import check_nonnegative_int, check_positive, check_positive_int

__all__ = [
    "Attack",
    "FGSM",
    "BIM",
    "IGSM",
    "PGD",
    "MIFGSM",
    "RFGSM",
    "CW",
    "DeepFool",
    "LBFGS",
    "ATTACKS",
    "make",
    "distortion",
    "succeeded",
    "correctly_classified",
    "every_other_target",
    "random_other_targets",
]


def distortion(x: Tensor, x_adv: Tensor) -> Tensor:
    """``||x_adv - x||_2 / sqrt(n)`` per image (Bell, Definition 1.8; Szegedy et al.'s measure).

    ``x`` and ``x_adv`` have shape ``[N, ...]``; ``n`` is the number of values of one image.
    """
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have the same shape, got {tuple(x.shape)} and {tuple(x_adv.shape)}")
    diff = (x_adv - x).flatten(1)
    return diff.norm(dim=1) / math.sqrt(diff.shape[1])


@torch.no_grad()
def succeeded(model: nn.Module, x_adv: Tensor, labels: Tensor, targeted: bool, batch_size: int = 1024) -> Tensor:
    """Which attacks reached their goal: ``argmax model(x_adv) == labels`` if targeted, ``!=`` otherwise."""
    pred = predict(model, x_adv, batch_size).cpu()
    labels = labels.cpu()
    return pred == labels if targeted else pred != labels


@torch.no_grad()
def correctly_classified(
    model: nn.Module, x: Tensor, y: Tensor, limit: int | None = None, batch_size: int = 1024
) -> Tensor:
    """Indices of the images the model classifies correctly, in order, at most ``limit`` of them.

    Attacks are run on such images only, as is usual, so that "adversarial" means "changed a right answer".
    """
    hit = succeeded(model, x, y, targeted=True, batch_size=batch_size)
    idx = hit.nonzero().squeeze(1)
    return idx if limit is None else idx[:limit]


def random_other_targets(y: Tensor, n_classes: int = 10, generator: torch.Generator | None = None) -> Tensor:
    """One target per label, uniform over the ``n_classes - 1`` classes other than the label."""
    shift = torch.randint(1, n_classes, y.shape, generator=generator)
    return (y.cpu() + shift) % n_classes


def every_other_target(x: Tensor, y: Tensor, n_classes: int = 10) -> tuple[Tensor, Tensor, Tensor]:
    """Each image once per class other than its own: ``(images, true labels, targets)``, each
    ``N * (n_classes - 1)`` long.

    The thesis' MNIST protocol (9 targeted adversarials per image, section 5.1.2); the copies of one image
    are consecutive, with targets in increasing order.
    """
    check_positive_int("n_classes", n_classes)
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), got values from {int(y.min())} to {int(y.max())}")
    others = torch.arange(n_classes, device=y.device).expand(len(y), n_classes)
    mask = others != y.view(-1, 1)
    targets = others[mask]
    reps = n_classes - 1
    return x.repeat_interleave(reps, 0), y.repeat_interleave(reps), targets


class Attack:
    """Base class: validates inputs, moves them to the model's device, chunks them, returns on their device.

    Subclasses implement ``_attack`` on one chunk. ``targeted`` selects what ``labels`` mean.
    """

    name = "attack"
    supports_untargeted = True
    supports_targeted = True

    def __init__(self, model: nn.Module, targeted: bool = False, batch_size: int = 256) -> None:
        if not isinstance(targeted, bool):
            raise ValueError(f"parameter 'targeted' must be True or False, got {targeted!r}")
        if targeted and not self.supports_targeted:
            raise ValueError(f"{self.name} has no targeted mode; use targeted=False")
        if not targeted and not self.supports_untargeted:
            raise ValueError(f"{self.name} is a targeted attack; use targeted=True and pass target classes")
        check_positive_int("batch_size", batch_size)
        self.model = model
        self.targeted = targeted
        self.batch_size = batch_size

    def __call__(self, images: Tensor, labels: Tensor) -> Tensor:
        if images.ndim < 2 or len(images) == 0:
            raise ValueError(f"images must be a non-empty batch [N, ...], got shape {tuple(images.shape)}")
        labels = torch.as_tensor(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape [{len(images)}], got {tuple(labels.shape)}")
        if images.min() < 0 or images.max() > 1:
            raise ValueError("images must lie in the box [0, 1] (got values outside it)")
        dev = model_device(self.model)
        with eval_mode(self.model):
            out = [
                self._attack(xb.to(dev), yb.to(dev).long()).detach().to(images.device)
                for xb, yb in zip(images.split(self.batch_size), labels.split(self.batch_size))
            ]
        return torch.cat(out).clamp_(0.0, 1.0)

    def _attack(self, images: Tensor, labels: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(targeted={self.targeted})"


class _TorchAttack(Attack):
    """An attack delegated to ``torchattacks.<ta_class>``, with an optional seed for its random draws."""

    ta_class: Callable[..., Any]

    def __init__(
        self, model: nn.Module, targeted: bool = False, batch_size: int = 256, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(model, targeted, batch_size)
        self.kwargs = kwargs
        self.seed = seed
        self._ta = self.ta_class(model, **kwargs)
        if targeted:
            self._ta.set_mode_targeted_by_label(quiet=True)

    def __call__(self, images: Tensor, labels: Tensor) -> Tensor:
        if self.seed is None:
            return super().__call__(images, labels)
        dev = model_device(self.model)
        # torchattacks draws from the global generator (PGD's random start, R+FGSM's step): fork it so
        # that a seeded attack gives the same images on rerun without disturbing the caller's stream.
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self.seed)
            return super().__call__(images, labels)

    def _attack(self, images: Tensor, labels: Tensor) -> Tensor:
        return self._ta(images, labels)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{type(self).__name__}(targeted={self.targeted}, {args})"


def _check_iterative(eps: float, alpha: float, steps: int) -> None:
    check_positive("eps", eps)
    check_positive("alpha", alpha)
    check_positive_int("steps", steps)


class FGSM(_TorchAttack):
    """Fast gradient sign method (Goodfellow et al., 2015), one step of size ``eps``. Distance: L-inf.

    Args: ``model``, ``eps`` (step, in [0, 1] units), ``targeted``, ``batch_size``.
    Example: ``FGSM(model, eps=0.1)(images, labels)``.
    """

    name = "FGSM"
    ta_class = torchattacks.FGSM

    def __init__(self, model: nn.Module, eps: float = 0.1, **kw: Any) -> None:
        check_positive("eps", eps)
        super().__init__(model, eps=eps, **kw)


class BIM(_TorchAttack):
    """Basic iterative method / IGSM (Kurakin et al., 2016): ``steps`` sign steps of size ``alpha``,
    clipped to the L-inf ball of radius ``eps`` and to the box. Distance: L-inf.

    With ``early_stop=True`` each image stops at the first iterate that reaches its goal (the target
    class, or any wrong class when untargeted), so it lies just across the decision boundary rather
    than deep inside the adversarial class; images that never get there run all ``steps``. The
    iteration is the same, eq. (5) of the thesis: each step is torchattacks' FGSM of size ``alpha``
    followed by the clip to the ``eps``-ball around the original.

    Example: ``BIM(model, eps=0.2, alpha=0.01, steps=40, targeted=True)(images, targets)``.
    """

    name = "BIM"
    ta_class = torchattacks.BIM

    def __init__(
        self,
        model: nn.Module,
        eps: float = 0.2,
        alpha: float = 0.01,
        steps: int = 40,
        early_stop: bool = False,
        **kw: Any,
    ) -> None:
        _check_iterative(eps, alpha, steps)
        if not isinstance(early_stop, bool):
            raise ValueError(f"parameter 'early_stop' must be True or False, got {early_stop!r}")
        super().__init__(model, eps=eps, alpha=alpha, steps=steps, **kw)
        self.early_stop = early_stop
        if early_stop:
            self._step = torchattacks.FGSM(model, eps=alpha)
            if self.targeted:
                self._step.set_mode_targeted_by_label(quiet=True)

    def _attack(self, images: Tensor, labels: Tensor) -> Tensor:
        if not self.early_stop:
            return self._ta(images, labels)
        eps, steps = self.kwargs["eps"], self.kwargs["steps"]
        x = images.clone()
        active = torch.ones(len(x), dtype=torch.bool, device=x.device)
        for _ in range(steps):
            with torch.no_grad():
                pred = self.model(x).argmax(1)
            active &= (pred != labels) if self.targeted else (pred == labels)
            if not active.any():
                break
            idx = active.nonzero().squeeze(1)
            step = self._step(x[idx], labels[idx])
            x[idx] = torch.min(torch.max(step, images[idx] - eps), images[idx] + eps).clamp(0.0, 1.0)
        return x


IGSM = BIM  # the thesis' name for the same attack


class PGD(_TorchAttack):
    """Projected gradient descent (Madry et al., 2018): BIM from a random start in the L-inf ball.

    Pass ``seed`` for a reproducible random start. Distance: L-inf.
    """

    name = "PGD"
    ta_class = torchattacks.PGD

    def __init__(
        self,
        model: nn.Module,
        eps: float = 0.2,
        alpha: float = 0.01,
        steps: int = 40,
        random_start: bool = True,
        **kw: Any,
    ) -> None:
        _check_iterative(eps, alpha, steps)
        super().__init__(model, eps=eps, alpha=alpha, steps=steps, random_start=random_start, **kw)


class MIFGSM(_TorchAttack):
    """Momentum iterative FGSM (Dong et al., 2018): BIM with a momentum ``decay`` on normalised gradients."""

    name = "MIFGSM"
    ta_class = torchattacks.MIFGSM

    def __init__(
        self, model: nn.Module, eps: float = 0.2, alpha: float = 0.01, steps: int = 40, decay: float = 1.0, **kw: Any
    ) -> None:
        _check_iterative(eps, alpha, steps)
        super().__init__(model, eps=eps, alpha=alpha, steps=steps, decay=decay, **kw)


class RFGSM(_TorchAttack):
    """R+FGSM (Tramèr et al., 2018): a random sign step of size ``alpha``, then gradient-sign steps within
    ``eps``. Pass ``seed`` for reproducible runs."""

    name = "R+FGSM"
    ta_class = torchattacks.RFGSM

    def __init__(self, model: nn.Module, eps: float = 0.2, alpha: float = 0.05, steps: int = 10, **kw: Any) -> None:
        _check_iterative(eps, alpha, steps)
        super().__init__(model, eps=eps, alpha=alpha, steps=steps, **kw)


class _PositiveLogits(nn.Module):
    """Shifts each row of logits so that its smallest entry is 1; argmax, softmax margins and gradients
    of logit differences are unchanged (the shift is detached)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        z = self.model(x)
        return z - z.min(dim=1, keepdim=True).values.detach() + 1.0


class CW(_TorchAttack):
    """Carlini-Wagner L2 (Carlini and Wagner, 2017) with a fixed trade-off ``c`` and margin ``kappa``,
    ``steps`` Adam steps of rate ``lr`` in tanh space. Distance: L2.

    torchattacks 3.5.1 finds the largest non-target logit as ``max((1 - onehot) * z)``, which returns 0
    instead when every other logit is negative, so the margin it minimises is wrong for such models
    (targeted success stalled at 50 % on a small MNIST net). The wrapped model's logits are therefore
    shifted per row to be positive, which leaves every logit difference, and the attack, as intended.
    """

    name = "CW"
    ta_class = torchattacks.CW

    def _attack(self, images: Tensor, labels: Tensor) -> Tensor:
        self._ta.model = _PositiveLogits(self.model)
        try:
            return self._ta(images, labels)
        finally:
            self._ta.model = self.model

    def __init__(
        self, model: nn.Module, c: float = 1.0, kappa: float = 0.0, steps: int = 100, lr: float = 0.01, **kw: Any
    ) -> None:
        check_positive("c", c)
        check_positive_int("steps", steps)
        check_positive("lr", lr)
        super().__init__(model, c=c, kappa=kappa, steps=steps, lr=lr, **kw)


class DeepFool(Attack):
    """DeepFool (Moosavi-Dezfooli et al., 2016), batched. Distance: L2. Untargeted only.

    Each step linearises the logits at the current image, moves it onto the nearest linearised boundary
    with another class, ``(1 + overshoot)`` times that step, and clips to the box; an image stops as soon
    as it is no longer classified as its label, or after ``steps`` steps. These are torchattacks'
    semantics (its ``DeepFool`` applies the overshoot to each step and loops over images one at a time,
    with one backward pass per class and image); here the whole batch moves together and the Jacobian of
    all images takes one backward pass per class, which gives the same images up to rounding
    (``tests/test_attacks.py`` compares the two).

    Args: ``model``, ``steps``, ``overshoot``, ``batch_size``. ``last_steps`` after a call: the steps each
    image took (``steps`` if it never left its class).
    Example: ``DeepFool(model, steps=50)(images, labels)``.
    """

    name = "DeepFool"
    supports_targeted = False

    def __init__(self, model: nn.Module, steps: int = 50, overshoot: float = 0.02, **kw: Any) -> None:
        check_positive_int("steps", steps)
        if not (isinstance(overshoot, (int, float)) and not isinstance(overshoot, bool) and overshoot >= 0):
            raise ValueError(f"parameter 'overshoot' must be a number >= 0, got {overshoot!r}")
        super().__init__(model, **kw)
        self.steps, self.overshoot = steps, float(overshoot)
        self.last_steps = torch.zeros(0, dtype=torch.long)

    def __call__(self, images: Tensor, labels: Tensor) -> Tensor:
        self._taken: list[Tensor] = []
        out = super().__call__(images, labels)
        self.last_steps = torch.cat(self._taken)
        return out

    def _attack(self, images: Tensor, labels: Tensor) -> Tensor:
        x = images.clone()
        active = torch.ones(len(x), dtype=torch.bool, device=x.device)
        taken = torch.full((len(x),), self.steps, dtype=torch.long)
        for step in range(self.steps):
            idx = torch.nonzero(active).squeeze(1)
            if len(idx) == 0:
                break
            xa = x[idx].detach().requires_grad_(True)
            logits = self.model(xa)
            lab = labels[idx]
            still = logits.argmax(1) == lab
            # one backward pass per class gives every image's gradient (the images do not interact in eval mode)
            grads = torch.stack(
                [torch.autograd.grad(logits[:, c].sum(), xa, retain_graph=c + 1 < logits.shape[1])[0]
                 for c in range(logits.shape[1])], 1
            )  # fmt: skip
            rows = torch.arange(len(idx), device=x.device)
            f_prime = (logits - logits[rows, lab][:, None]).detach()
            w_prime = (grads - grads[rows, lab][:, None]).flatten(2)
            norm = w_prime.norm(dim=2)
            # a class whose logit has the same gradient as the label's cannot be reached by a linear step
            # (0/0 would make the step NaN): it is out of the running, and an image with no class left is stuck
            value = torch.where(norm > 0, f_prime.abs() / norm.clamp_min(1e-30), torch.full_like(norm, float("inf")))
            value[rows, lab] = float("inf")
            hat = value.argmin(1)
            stuck = torch.isinf(value[rows, hat])
            w_hat = w_prime[rows, hat]
            delta = (f_prime[rows, hat].abs() / w_hat.norm(dim=1).clamp_min(1e-30) ** 2)[:, None] * w_hat
            moved = (xa.detach() + (1 + self.overshoot) * delta.view_as(xa)).clamp(0.0, 1.0)
            go = still & ~stuck
            x[idx[go]] = moved[go]
            taken[idx[~still].cpu()] = step
            active[idx[~go]] = False
        self._taken.append(taken)
        return x


class LBFGS(Attack):
    """Box-constrained L-BFGS (Szegedy et al., 2014), targeted. Distance: L2.

    For an image ``x`` and target ``l`` it approximately solves

        minimise ``c * ||r||_2^2 + CE(model(x + r), l)``  subject to ``x + r in [0, 1]^n``

    with scipy's L-BFGS-B (the box is an exact bound constraint), and searches ``c`` per image for the
    smallest perturbation that still reaches ``l``. Szegedy et al. phrase the search as the extreme ``c``
    for which the minimiser is classified ``l``: with the weight on ``||r||``, a larger ``c`` gives a
    smaller ``r``, so the search keeps the largest ``c`` that succeeds (bisection in ``log c`` between
    ``c_range``, ``search_steps`` steps). The squared norm keeps the objective smooth at ``r = 0``; it
    has the same family of minimisers as ``c ||r||`` up to a change of ``c``.

    Because the cross-entropy pulls along a softmax-weighted mix of directions, the minimiser at the
    critical ``c`` crosses the decision boundary near, not at, its nearest point: on a linear softmax
    model, where the exact answer is a convex QP, the result is 2-7 % above the optimum (tests).

    All images of a chunk are solved in one L-BFGS-B run on the concatenated variable: the objective is
    a sum of independent terms, so its minimiser is the tuple of per-image minimisers, and one forward
    and backward pass serves every image. Each search step warm-starts from the best perturbation so far.

    Args:
        model: classifier returning logits, evaluated in eval mode.
        c_range: ``(c_min, c_max)`` for the search; ``c_min`` is tried first.
        search_steps: bisection steps on ``log c`` after ``c_min`` (0: ``c_min`` only).
        max_iter: L-BFGS-B iterations per solve.
        batch_size: images per L-BFGS-B run.
        progress: show a progress bar over the search steps.

    Shapes: images ``[N, ...]`` in [0, 1], targets ``LongTensor[N]``; output like images.

    After a call, ``last_c`` holds the ``c`` of each returned example (``nan`` where no ``c`` reached the
    target) and ``last_success`` whether it is classified as its target.

    Example:
        >>> attack = LBFGS(model, c_range=(1e-3, 100.0), search_steps=10)
        >>> x_adv = attack(images, targets)
        >>> rate = succeeded(model, x_adv, targets, targeted=True).float().mean()
    """

    name = "L-BFGS"
    supports_untargeted = False

    def __init__(
        self,
        model: nn.Module,
        c_range: tuple[float, float] = (1e-3, 100.0),
        search_steps: int = 10,
        max_iter: int = 100,
        batch_size: int = 128,
        progress: bool = False,
        targeted: bool = True,
    ) -> None:
        super().__init__(model, targeted, batch_size)
        if not (len(c_range) == 2 and 0 < c_range[0] < c_range[1] and math.isfinite(c_range[1])):
            raise ValueError(f"parameter 'c_range' must be (c_min, c_max) with 0 < c_min < c_max, got {c_range!r}")
        check_nonnegative_int("search_steps", search_steps)
        check_positive_int("max_iter", max_iter)
        self.c_range = (float(c_range[0]), float(c_range[1]))
        self.search_steps = search_steps
        self.max_iter = max_iter
        self.progress = progress
        self.last_c: Tensor | None = None
        self.last_success: Tensor | None = None

    def __call__(self, images: Tensor, labels: Tensor) -> Tensor:
        self._c: list[Tensor] = []
        out = super().__call__(images, labels)
        self.last_c = torch.cat(self._c)
        self.last_success = ~torch.isnan(self.last_c)
        return out

    def _solve(self, x: Tensor, target: Tensor, c: Tensor, r0: Tensor) -> Tensor:
        """One L-BFGS-B run for all images of the chunk at their own ``c``; returns the perturbations."""
        from scipy.optimize import minimize

        shape, dtype = x.shape, x.dtype
        flat_x = x.reshape(len(x), -1)
        c_col = c.to(dtype).view(-1, 1)

        def fun(r_np: np.ndarray) -> tuple[float, np.ndarray]:
            r = torch.from_numpy(r_np).to(device=x.device, dtype=dtype).view_as(flat_x).requires_grad_(True)
            logits = self.model((flat_x + r).view(shape))
            # Sum, not mean, of per-image terms: each image's gradient is then its own problem's gradient.
            loss = nn.functional.cross_entropy(logits, target, reduction="sum") + (c_col * r.pow(2)).sum()
            (grad,) = torch.autograd.grad(loss, r)
            return float(loss.detach()), grad.reshape(-1).double().cpu().numpy()

        lo = (-flat_x).reshape(-1).double().cpu().numpy()
        hi = (1.0 - flat_x).reshape(-1).double().cpu().numpy()
        start = np.clip(r0.reshape(-1).double().cpu().numpy(), lo, hi)
        res = minimize(
            fun,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=np.stack([lo, hi], axis=1),
            options={"maxiter": self.max_iter, "ftol": 1e-12, "gtol": 1e-8},
        )
        r = torch.from_numpy(np.clip(res.x, lo, hi)).to(device=x.device, dtype=dtype)
        return r.view_as(flat_x)

    def _attack(self, images: Tensor, labels: Tensor) -> Tensor:
        n = len(images)
        flat = images.reshape(n, -1)
        log_lo = torch.full((n,), math.log(self.c_range[0]), dtype=torch.float64, device=images.device)
        log_hi = torch.full((n,), math.log(self.c_range[1]), dtype=torch.float64, device=images.device)
        best_r = torch.zeros_like(flat)
        best_norm = torch.full((n,), math.inf, device=images.device)
        best_c = torch.full((n,), math.nan, dtype=torch.float64, device=images.device)
        last_r = torch.zeros_like(flat)
        steps = range(self.search_steps + 1)
        for step in tqdm(steps, desc="L-BFGS c search", disable=not self.progress, leave=False):
            log_c = log_lo if step == 0 else (log_lo + log_hi) / 2
            c = log_c.exp()
            start = torch.where(torch.isfinite(best_norm).view(-1, 1), best_r, last_r)
            r = self._solve(images, labels, c, start)
            last_r = r
            with torch.no_grad():
                ok = self.model((flat + r).view_as(images)).argmax(1) == labels
            norm = r.norm(dim=1)
            better = ok & (norm < best_norm)
            best_r[better], best_norm[better], best_c[better] = r[better], norm[better], c[better]
            if step > 0:
                # success: try a larger c (smaller perturbation); failure: a smaller one
                log_lo = torch.where(ok, log_c, log_lo)
                log_hi = torch.where(ok, log_hi, log_c)
        found = torch.isfinite(best_norm)
        out = torch.where(found.view(-1, 1), flat + best_r, flat + last_r)
        self._c.append(best_c.cpu())
        return out.view_as(images)


#: The attacks by name, for :func:`make`.
ATTACKS: dict[str, type[Attack]] = {
    "fgsm": FGSM,
    "bim": BIM,
    "igsm": BIM,
    "pgd": PGD,
    "mifgsm": MIFGSM,
    "rfgsm": RFGSM,
    "cw": CW,
    "deepfool": DeepFool,
    "lbfgs": LBFGS,
}


def make(name: str, model: nn.Module, **kwargs: Any) -> Attack:
    """The attack called ``name`` (a key of :data:`ATTACKS`, case-insensitive, '+' and '-' ignored)."""
    key = name.lower().replace("+", "").replace("-", "").replace("_", "")
    if key not in ATTACKS:
        raise ValueError(f"parameter 'name' must be one of {sorted(ATTACKS)}, got {name!r}")
    return ATTACKS[key](model, **kwargs)
