"""Is the inverse problem's residual the solver's fault or the target's? (FSH-F3, FSH-F5)

For the first test images of the Fashion-MNIST stand-in, take each one's closest flip point (a feature
vector) and look for an image whose features equal it three ways: the penalty continuation of
``nngeom.feature_space.inverse.images_for_features``; then, from its answer, feasibility alone
(``min |N_phi(x) - t|^2`` over the box by projected Adam, ignoring the distance to the test image); and
L-BFGS on feasibility alone from the test image, in a sigmoid parametrisation of the box. If the two
feasibility-only runs cannot push the residual much below the continuation's, the continuation is not what
keeps it up: the flip point is (at least locally) not the feature vector of any image in the box.

    .venv/bin/python bench/inverse_residual_floor.py [--profile smoke] [--images 8]
"""

from __future__ import annotations

import argparse
import time

import torch

from nngeom.core import data, zoo
from nngeom.core.device import default_device
from nngeom.feature_space.flips import flip_points, split_last_linear
from nngeom.feature_space.inverse import images_for_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke", choices=("smoke", "default", "paper"))
    parser.add_argument("--images", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    dev = default_device()  # CUDA when present
    print(f"device: {dev}; torch {torch.__version__}")
    model = zoo.load("fashion-resnet20", profile=args.profile, device=dev).eval()
    x, _ = data.tensors("fashion-mnist", "test", limit=args.images)
    x = x.to(dev)
    body, last = split_last_linear(model)
    with torch.no_grad():
        f = body(x).flatten(1)
    fp = flip_points(last.weight.double(), last.bias.double(), f.double())
    t = fp.points[torch.arange(len(x)), fp.nearest_class].float()
    margin = fp.min_distance.float()

    def report(name: str, images: torch.Tensor, seconds: float) -> None:
        with torch.no_grad():
            r = (body(images).flatten(1) - t).norm(dim=1) / margin
            d = (images - x).flatten(1).norm(dim=1)
        r, d = r.cpu().numpy().round(3), d.cpu().numpy().round(2)
        print(f"{name:<38} {seconds:5.0f} s  residual / margin {r}  |x - x_0| {d}")

    print(f"margins {margin.cpu().numpy().round(3)}")
    t0 = time.perf_counter()
    inv = images_for_features(model, t, x, steps=200)
    report("continuation, 6 x 200 steps + 8 AL rounds", inv.images, time.perf_counter() - t0)

    t0 = time.perf_counter()
    xx = inv.images.clone().requires_grad_(True)
    opt = torch.optim.Adam([xx], lr=0.003)
    for _ in range(1000):
        opt.zero_grad()
        ((body(xx).flatten(1) - t) ** 2).sum().backward()
        opt.step()
        with torch.no_grad():
            xx.clamp_(0, 1)
    report("then feasibility only (Adam, 1000)", xx.detach(), time.perf_counter() - t0)

    t0 = time.perf_counter()
    z = torch.logit(x.clamp(1e-3, 1 - 1e-3)).requires_grad_(True)
    lbfgs = torch.optim.LBFGS([z], lr=1, max_iter=500, history_size=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        lbfgs.zero_grad()
        loss = ((body(torch.sigmoid(z)).flatten(1) - t) ** 2).sum()
        loss.backward()
        return loss

    lbfgs.step(closure)
    report("feasibility only (L-BFGS, from x_0)", torch.sigmoid(z).detach(), time.perf_counter() - t0)


if __name__ == "__main__":
    main()
