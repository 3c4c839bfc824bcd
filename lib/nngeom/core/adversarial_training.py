"""Training with a continually refreshed pool of adversarial examples (Szegedy et al., 2014, section 4.3).

The summary of the paper describes the procedure in one sentence: a pool of adversarial examples, a
random part of which is replaced by newly generated ones all the time, is mixed into the training set.
It gives no pool size, refresh rate or attack settings; :class:`AdversarialPool` makes each of them a
parameter. The adversarials are box-constrained L-BFGS examples (:class:`nngeom.core.attacks.LBFGS`) of the
current model, each aimed at a random class other than the image's own, and labelled with the true class.

``layer`` selects where the examples live (the paper's remark that adversarials of higher layers help
more than those of the input): ``layer=0`` perturbs the input image; ``layer=k`` perturbs the output of
the k-th hidden activation and trains the layers above it on the perturbed activations. A sigmoid
layer's outputs lie in [0, 1], the box the attack works in, so ``layer > 0`` needs sigmoid activations.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from nngeom.core.attacks import LBFGS, random_other_targets
from nngeom.core.device import eval_mode, model_device
from nngeom.core.models import output_width, split_after_hidden
from nngeom.core.validation import check_nonnegative_int, check_positive_int

__all__ = ["AdversarialPool"]


class AdversarialPool:
    """An extra loss term for :func:`nngeom.core.training.train_classifier`: cross-entropy on pool examples.

    Called once per training step with the model being trained. Every ``refresh_every`` steps it attacks
    ``refresh`` random training images with the current model and writes the successful adversarials
    over random slots of the pool (appending until the pool holds ``size``); then it returns the mean
    cross-entropy of ``batch_size`` random pool examples (zero while the pool is empty), which the
    training loop adds to its loss. Timing of the attacks is kept in ``attack_seconds``.

    Args:
        model: the network being trained (an :func:`nngeom.core.models.mlp`).
        x_train, y_train: the training set the attacked images are drawn from.
        layer: 0 for input-space adversarials, ``k >= 1`` for adversarials of the k-th hidden layer.
        size: the most examples the pool holds.
        refresh: images attacked at each refresh.
        refresh_every: training steps between refreshes (the first refresh is at step 0).
        batch_size: pool examples in each step's extra loss.
        weight: factor of the extra loss.
        search_steps, max_iter: :class:`~nngeom.core.attacks.LBFGS` settings (cheaper than for measuring
            distortion: the pool needs examples that fool the model, not the smallest ones).
        seed: seeds the choice of images, targets and pool slots.
    """

    def __init__(
        self,
        model: nn.Module,
        x_train: Tensor,
        y_train: Tensor,
        *,
        layer: int = 0,
        size: int = 5000,
        refresh: int = 500,
        refresh_every: int = 469,
        batch_size: int = 64,
        weight: float = 1.0,
        search_steps: int = 3,
        max_iter: int = 20,
        seed: int = 0,
    ) -> None:
        check_nonnegative_int("layer", layer)
        for name, v in (
            ("size", size),
            ("refresh", refresh),
            ("refresh_every", refresh_every),
            ("batch_size", batch_size),
            ("max_iter", max_iter),
        ):
            check_positive_int(name, v)
        check_nonnegative_int("search_steps", search_steps)
        if not (isinstance(weight, (int, float)) and weight > 0):
            raise ValueError(f"parameter 'weight' must be a number > 0, got {weight!r}")
        head, _ = split_after_hidden(model, layer)  # validates layer against the model
        if layer > 0 and not any(isinstance(m, nn.Sigmoid) for m in head):
            raise ValueError(
                "parameter 'layer' > 0 needs sigmoid hidden units: their outputs lie in the attack's box [0, 1]"
            )
        self.model = model
        self.n_classes = output_width(model)
        self.x_train, self.y_train = x_train, y_train
        self.layer = layer
        self.size, self.refresh, self.refresh_every = size, refresh, refresh_every
        self.batch_size, self.weight = batch_size, float(weight)
        self.search_steps, self.max_iter = search_steps, max_iter
        self.generator = torch.Generator().manual_seed(seed)
        self.pool_x: Tensor | None = None
        self.pool_y: Tensor | None = None
        self.attack_seconds = 0.0
        self.attacked = 0
        self.succeeded = 0

    def _refresh(self) -> None:
        start = time.perf_counter()
        head, rest = split_after_hidden(self.model, self.layer)
        idx = torch.randint(len(self.y_train), (self.refresh,), generator=self.generator)
        y = self.y_train[idx]
        targets = random_other_targets(y, self.n_classes, generator=self.generator)
        with eval_mode(self.model):
            with torch.no_grad():
                dev = model_device(self.model)
                inputs = head(self.x_train[idx].to(dev)).clamp(0.0, 1.0)
            attack = LBFGS(rest, search_steps=self.search_steps, max_iter=self.max_iter, batch_size=self.refresh)
            x_adv = attack(inputs, targets.to(dev))
        ok = attack.last_success.to(x_adv.device)
        new_x, new_y = x_adv[ok].detach(), y.to(x_adv.device)[ok]
        self.attacked += self.refresh
        self.succeeded += int(ok.sum())
        if self.pool_x is None:
            self.pool_x, self.pool_y = new_x[: self.size], new_y[: self.size]
        else:
            room = self.size - len(self.pool_x)
            if room > 0:
                self.pool_x = torch.cat([self.pool_x, new_x[:room]])
                self.pool_y = torch.cat([self.pool_y, new_y[:room]])
                new_x, new_y = new_x[room:], new_y[room:]
            if len(new_x):
                slots = torch.randperm(len(self.pool_x), generator=self.generator)[: len(new_x)].to(new_x.device)
                self.pool_x[slots], self.pool_y[slots] = new_x[: len(slots)], new_y[: len(slots)]
        self.attack_seconds += time.perf_counter() - start

    def __call__(self, model: nn.Module, step: int) -> Tensor:
        if step % self.refresh_every == 0:
            self._refresh()
        dev = model_device(model)
        if self.pool_x is None or len(self.pool_x) == 0:
            return torch.zeros((), device=dev)
        pick = torch.randint(len(self.pool_x), (min(self.batch_size, len(self.pool_x)),), generator=self.generator)
        pick = pick.to(self.pool_x.device)
        _, rest = split_after_hidden(model, self.layer)
        logits = rest(self.pool_x[pick].to(dev))
        return self.weight * nn.functional.cross_entropy(logits, self.pool_y[pick].to(dev))

    def stats(self) -> dict:
        """Pool size, attack count, success rate and attack time, for the model's metadata."""
        return {
            "layer": self.layer,
            "pool": 0 if self.pool_x is None else int(len(self.pool_x)),
            "attacked": self.attacked,
            "attack_success_rate": self.succeeded / self.attacked if self.attacked else float("nan"),
            "attack_seconds": self.attack_seconds,
        }
