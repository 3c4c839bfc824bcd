"""Architectures used across the papers, built from a name and keyword arguments.

The zoo (:mod:`nngeom.core.zoo`) stores a model as ``(arch, arch_kwargs)`` so that a spec is plain data that
can be hashed; :func:`build` turns it into a module.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nngeom.core.validation import check_positive_int, check_value_range

__all__ = [
    "mlp",
    "split_after_hidden",
    "output_width",
    "bell_cnn",
    "strided_cnn",
    "BasicBlock",
    "cifar_resnet",
    "SpatialMean",
    "all_convolutional",
    "build",
    "Builder",
    "ARCHITECTURES",
    "ImageNetClassifier",
    "imagenet_model",
    "WeightsUnavailable",
    "IMAGENET_ARCHS",
]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


_INITS = ("default", "xavier_uniform")


def mlp(
    in_features: int,
    hidden: Sequence[int],
    n_classes: int,
    activation: str = "relu",
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    batch_norm: bool = False,
    init: str = "default",
) -> nn.Sequential:
    """Fully connected network from ``in_features`` through the ``hidden`` widths to ``n_classes`` logits.

    ``hidden=[]`` gives the linear (softmax-regression) model, e.g. the thesis' FC10 nets. Inputs of any
    shape are flattened first, so images can be passed as they are. ``dropout`` is applied after every
    hidden activation and ``input_dropout`` to the input pixels (Hinton et al.'s 0.5 and 0.2 are the
    usual choice); both are inactive in eval mode. ``batch_norm`` puts a ``BatchNorm1d`` on every
    hidden layer's pre-activations (before the activation, as in Zhang & Wu's BN models). ``init``:
    PyTorch's default, or ``"xavier_uniform"`` weights with zero biases (Glorot & Bengio). Without
    dropout and batch norm the model is ``Sequential(Flatten, Linear, ...)``, the form
    :mod:`nngeom.adversarial_neighborhoods.persistence` samples after the first layer.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"parameter 'activation' must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    for name, p in (("dropout", dropout), ("input_dropout", input_dropout)):
        if not (isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p < 1):
            raise ValueError(f"parameter {name!r} must be a probability in [0, 1), got {p!r}")
    if not isinstance(batch_norm, bool):
        raise ValueError(f"parameter 'batch_norm' must be True or False, got {batch_norm!r}")
    if init not in _INITS:
        raise ValueError(f"parameter 'init' must be one of {_INITS}, got {init!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    if input_dropout:
        layers.append(nn.Dropout(input_dropout))
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(_ACTIVATIONS[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, n_classes))
    model = nn.Sequential(*layers)
    if init == "xavier_uniform":
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    return model


def output_width(model: nn.Module) -> int:
    """Number of logits of a network whose last weight layer is a ``Linear`` (the number of classes)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"model {type(model).__name__} has no Linear layer to read the number of classes from")
    return linears[-1].out_features


class UnitBoxInput(nn.Module):
    """``model`` seen through inputs in [0, 1]: ``forward(z) = model(lo + (hi - lo) z)``, with
    ``value_range = (lo, hi)``.

    The attacks (torchattacks) clip to [0, 1]; a net trained on inputs in ``[lo, hi]`` (e.g. the linear
    regions nets, in [-1, 1]) is attacked through this wrapper, and :meth:`to_unit` / :meth:`from_unit`
    move images between the two boxes.
    """

    def __init__(self, model: nn.Module, value_range: tuple[float, float]) -> None:
        super().__init__()
        self.model = model
        self.lo, self.hi = check_value_range("value_range", value_range)
        # a new module is in training mode; mirror the wrapped net's mode instead, or code that restores
        # "the mode it found" would switch the net (and its batch norm) to training
        self.train(model.training)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.lo) / (self.hi - self.lo)

    def from_unit(self, z: torch.Tensor) -> torch.Tensor:
        return self.lo + (self.hi - self.lo) * z

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.from_unit(z))


def split_after_hidden(model: nn.Sequential, layer: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``(head, rest)`` of an :func:`mlp` with ``rest(head(x)) == model(x)``, cut after hidden layer ``layer``.

    ``layer=0`` cuts before the first linear layer (``head`` only flattens, and applies input dropout);
    ``layer=k`` cuts after the k-th hidden activation and its dropout. Both share the model's modules.
    """
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model must be an nn.Sequential built by mlp(), got {type(model).__name__}")
    mods = list(model)
    activations = [i for i, m in enumerate(mods) if isinstance(m, tuple(_ACTIVATIONS.values()))]
    if not isinstance(layer, int) or isinstance(layer, bool) or not 0 <= layer <= len(activations):
        raise ValueError(
            f"parameter 'layer' must be an int from 0 to {len(activations)} (the hidden layers), got {layer!r}"
        )
    if layer == 0:
        cut = next(i for i, m in enumerate(mods) if isinstance(m, nn.Linear))
    else:
        cut = activations[layer - 1] + 1
        while cut < len(mods) and isinstance(mods[cut], nn.Dropout):
            cut += 1
    return nn.Sequential(*mods[:cut]), nn.Sequential(*mods[cut:])


def bell_cnn(
    channels: int, in_channels: int = 1, image_size: int = 28, hidden: int = 256, n_classes: int = 10
) -> nn.Sequential:
    """The C-Ch networks of Bell's thesis (Table 3): four 5x5 convolutions with ``channels`` channels,
    stride 1, no padding, ReLU after each; a 2x2 max pool; a 256-unit ReLU layer; logits.

    On MNIST (28 x 28) the feature maps are 24, 20, 16, 12 and, after pooling, 6 pixels wide, so the
    first fully connected layer has ``channels * 36`` inputs as in the table.
    """
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"parameter 'channels' must be a positive int, got {channels!r}")
    side = (image_size - 4 * 4) // 2
    if side < 1:
        raise ValueError(
            f"parameter 'image_size' must be at least 18 for four 5x5 convolutions and a pool, got {image_size}"
        )
    layers: list[nn.Module] = []
    width = in_channels
    for _ in range(4):
        layers += [nn.Conv2d(width, channels, kernel_size=5), nn.ReLU()]
        width = channels
    layers += [
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * side * side, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_classes),
    ]
    return nn.Sequential(*layers)


def strided_cnn(
    in_channels: int = 3,
    image_size: int = 32,
    channels: Sequence[int] = (32, 64, 128),
    hidden: int = 1024,
    n_classes: int = 10,
    dropout: float = 0.0,
    batch_norm: bool = False,
    init: str = "xavier_uniform",
) -> nn.Sequential:
    """Zhang & Wu's CNN (Appendix E, Table 3): 3x3 convolutions with stride 2 and no padding (strides instead
    of pooling, so the net stays a piecewise linear map that :func:`nngeom.linear_regions.regions.region_constraints`
    handles), ``channels`` filters each, ReLU; a ``hidden``-unit ReLU layer; logits.

    On CIFAR-10 (32 x 32) the feature maps are 15, 7 and 3 pixels wide: 7,200 + 3,136 + 1,152 + 1,024 =
    12,512 hidden units, the hyperplanes of the paper's Figure 10. ``batch_norm`` puts batch norm before
    every ReLU, ``dropout`` follows every ReLU (as in the paper); ``init`` as for :func:`mlp`.
    """
    if not (isinstance(dropout, (int, float)) and not isinstance(dropout, bool) and 0 <= dropout < 1):
        raise ValueError(f"parameter 'dropout' must be a probability in [0, 1), got {dropout!r}")
    if not isinstance(batch_norm, bool):
        raise ValueError(f"parameter 'batch_norm' must be True or False, got {batch_norm!r}")
    if init not in _INITS:
        raise ValueError(f"parameter 'init' must be one of {_INITS}, got {init!r}")
    side = image_size
    for _ in channels:
        side = (side - 3) // 2 + 1
    if side < 1:
        raise ValueError(
            f"parameter 'image_size' is too small for {len(channels)} stride-2 3x3 convolutions: {image_size}"
        )
    layers: list[nn.Module] = []
    width = in_channels
    for ch in channels:
        layers.append(nn.Conv2d(width, ch, kernel_size=3, stride=2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(ch))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = ch
    layers += [nn.Flatten(), nn.Linear(width * side * side, hidden)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(hidden))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, n_classes))
    model = nn.Sequential(*layers)
    if init == "xavier_uniform":
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    return model


class BasicBlock(nn.Module):
    """He et al.'s basic residual block: two 3x3 convolutions with batch norm, ReLU after the sum. A block
    that halves the resolution or changes the width has a 1x1 strided convolution with batch norm on its
    shortcut (He et al.'s option B; their CIFAR runs padded the shortcut with zeros instead, option A, which
    has no weights: the two projections add 2,752 parameters to ResNet-20's 0.27M)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(channels))  # fmt: skip
        # ReLU modules, not torch.relu: code that finds a network's ReLUs by module (the smoothed stages of
        # nngeom.feature_space.inverse) must see these too
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + self.shortcut(x))


def cifar_resnet(
    depth: int = 20, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64), n_classes: int = 10
) -> nn.Sequential:
    """He et al.'s CIFAR ResNet (2016, section 4.2): a 3x3 convolution, three stages of ``(depth - 2) / 6``
    basic blocks with ``widths`` channels (the second and third stage halve the resolution), global average
    pooling and one linear layer. Depth 20 with widths 16/32/64 is the feature-space hulls paper's network:
    its last hidden layer has 64 non-negative features (after a ReLU and averaging), read by a 64 -> 10
    linear layer. An ``nn.Sequential`` whose last module is that layer, so
    :func:`nngeom.feature_space.flips.split_last_linear` finds the feature map."""
    if not (isinstance(depth, int) and depth >= 8 and (depth - 2) % 6 == 0):
        raise ValueError(f"parameter 'depth' must be 6n + 2 for an integer n >= 1 (20, 32, 44, ...), got {depth!r}")
    if len(widths) != 3 or not all(isinstance(w, int) and w >= 1 for w in widths):
        raise ValueError(f"parameter 'widths' must be three positive integers, got {widths!r}")
    n = (depth - 2) // 6
    layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                               nn.ReLU()]  # fmt: skip
    width = widths[0]
    for stage, ch in enumerate(widths):
        for b in range(n):
            layers.append(BasicBlock(width, ch, stride=2 if stage > 0 and b == 0 else 1))
            width = ch
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, n_classes)]
    model = nn.Sequential(*layers)
    for m in model.modules():  # He initialisation, as the paper
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


class SpatialMean(nn.Module):
    """The mean over the spatial dimensions: ``[N, C, H, W] -> [N, C]``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean((2, 3))


def all_convolutional(
    base_filters: int = 64,
    in_channels: int = 3,
    image_size: int = 32,
    n_classes: int = 10,
    negative_slope: float = 0.2,
) -> nn.Sequential:
    """The all-convolutional network of the CleverHans CIFAR-10 tutorial (its ``ModelAllConvolutional``), the
    model of Fan & Yezzi's Table 2. For each of ``round(log2(image_size)) - 2`` scales ``s`` (3 for 32 x 32 and
    for 28 x 28): a 3x3 convolution to ``base_filters * 2^s`` channels, one to ``base_filters * 2^(s+1)``,
    and a 2x2 average pooling; then a 3x3 convolution to ``n_classes`` channels and the spatial mean. Every
    convolution is 'same'-padded and followed by a leaky ReLU (slope ``negative_slope``, TensorFlow's
    default 0.2), the last one included, as in the tutorial; He-normal weights for a ReLU (fan in), zero
    biases. With 64 base
    filters: 64, 128 | 128, 256 | 256, 512 | 10. ``base_filters`` is the width parameter that scales it
    down on a CPU."""
    check_positive_int("base_filters", base_filters)
    check_positive_int("in_channels", in_channels)
    check_positive_int("n_classes", n_classes)
    scales = int(round(math.log2(check_positive_int("image_size", image_size)))) - 2
    if scales < 1:
        raise ValueError(f"parameter 'image_size' must be at least 6 pixels, got {image_size}")
    if not (isinstance(negative_slope, (int, float)) and 0 <= negative_slope < 1):
        raise ValueError(f"parameter 'negative_slope' must lie in [0, 1), got {negative_slope!r}")
    layers: list[nn.Module] = []
    width = in_channels
    for scale in range(scales):
        for out in (base_filters << scale, base_filters << (scale + 1)):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.LeakyReLU(negative_slope)]
            width = out
        layers.append(nn.AvgPool2d(2))
    layers += [nn.Conv2d(width, n_classes, 3, padding=1), nn.LeakyReLU(negative_slope), SpatialMean()]
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")  # the tutorial's He-ReLU init
            nn.init.zeros_(m.bias)
    # channels-last weights make oneDNN's CPU convolutions use its NHWC kernels: training and evaluation of
    # the 8-filter net on Fashion-MNIST ran 1.7-1.9x faster per epoch (one or two threads, bench/README.md);
    # cuDNN takes the same layout on a GPU. The layout follows the weights through state dicts and .to(device).
    return model.to(memory_format=torch.channels_last)


#: The architectures :func:`build` knows, by name.
ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "bell_cnn": bell_cnn,
    "strided_cnn": strided_cnn,
    "cifar_resnet": cifar_resnet,
    "all_convolutional": all_convolutional,
}


def build(arch: str, **kwargs) -> nn.Module:
    """Instantiate architecture ``arch`` (a key of :data:`ARCHITECTURES`) with ``kwargs``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)


@dataclass(frozen=True)
class Builder:
    """Fresh, untrained networks of one architecture: ``Builder(arch, kwargs)()``, or ``(n_classes)`` for another
    number of outputs. Unlike a lambda or a bound method it pickles small, so studies can send it to worker
    processes (:func:`nngeom.core.parallel.run_jobs`).

    Example:
        >>> make = Builder("all_convolutional", {"base_filters": 8, "in_channels": 1, "image_size": 28})
        >>> make(11)  # the same net with an 11th output (e.g. a noise class)
    """

    arch: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self, n_classes: int | None = None) -> nn.Module:
        kwargs = dict(self.kwargs)
        if n_classes is not None:
            kwargs["n_classes"] = n_classes
        return build(self.arch, **kwargs)


# --- Pretrained ImageNet classifiers (Bell, Part I, section 5.2) ------------------------------------

IMAGENET_ARCHS = ("alexnet", "vgg16")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are not on disk and cannot be downloaded here; the message says how to fix it."""


class ImageNetClassifier(nn.Module):
    """A torchvision ImageNet network that takes images in [0, 1] (``[N, 3, 224, 224]``) and normalises
    them itself, so that attacks, their box and their distortion all live in pixel space."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std)


def _weights_enum(arch: str):
    import torchvision

    return {
        "alexnet": torchvision.models.AlexNet_Weights.IMAGENET1K_V1,
        "vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1,
    }[arch]


def imagenet_model(arch: str, pretrained: bool = True) -> ImageNetClassifier:
    """torchvision's ``alexnet`` or ``vgg16`` (the thesis' networks) with its ImageNet weights, eval mode.

    With ``pretrained=False`` the network is randomly initialised (the smoke profile's stand-in). The
    weights come from torchvision's cache (``$TORCH_HOME/hub/checkpoints``); when they are absent and
    ``NNGEOM_OFFLINE`` is set, or the download fails, :class:`WeightsUnavailable` says which file to put
    where.
    """
    import torchvision

    if arch not in IMAGENET_ARCHS:
        raise ValueError(f"parameter 'arch' must be one of {IMAGENET_ARCHS}, got {arch!r}")
    builder = getattr(torchvision.models, arch)
    if not pretrained:
        return ImageNetClassifier(builder(weights=None)).eval()
    weights = _weights_enum(arch)
    target = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    offline = os.environ.get("NNGEOM_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    how = (
        f"download {weights.url} and save it as {target} (or run once online so that torchvision "
        f"caches it there; TORCH_HOME moves the cache)"
    )
    if offline and not target.exists():
        raise WeightsUnavailable(f"pretrained {arch} weights are not on this machine and NNGEOM_OFFLINE is set: {how}")
    try:
        net = builder(weights=weights)
    except Exception as exc:  # network errors come in many types; all mean the same thing to the reader
        raise WeightsUnavailable(f"could not load pretrained {arch} weights ({exc}): {how}") from exc
    return ImageNetClassifier(net).eval()
