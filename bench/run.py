"""Benchmarks, each quoted as a ratio against a baseline measured in the same run.

    make bench            # or: .venv/bin/python bench/run.py [--quick]

1. persistence, batched over points vs a naive Python loop calling it one point at a time (the way
   Algorithm 1 is written), on an MNIST-sized MLP (784-200-200-10, random weights: speed does not
   depend on training) and on an exact wedge classifier.
2. stability throughput (samples/s) vs the model's raw forward throughput on pre-drawn inputs: the
   overhead of sampling and bookkeeping.
Results are printed as a table and written to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from nngeom.device import default_device
from nngeom.io import atomic_write_json
from nngeom.models import mlp
from nngeom.persistence import persistence, stability, wedge_classifier


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run of the benchmark)")
    args = parser.parse_args()
    dev = default_device()
    torch.manual_seed(0)
    n_points = 16 if args.quick else 64
    n_samples = 200 if args.quick else 1000
    rows = []

    for label, model, dim in (
        ("MLP 784-200-200-10", mlp(784, [200, 200], 10).to(dev).eval(), 784),
        ("wedge W_3^784", wedge_classifier(784, 3).to(dev), 784),
    ):
        x = torch.rand(n_points, dim, device=dev) if "MLP" in label else torch.full((n_points, dim), 0.5, device=dev)
        g = torch.Generator(device=dev)
        t_batched = timed(lambda: persistence(model, x, n_samples=n_samples, generator=g.manual_seed(0)))
        # one generator for the whole loop (re-seeding per point would give every point the same draws)
        def loop():
            g.manual_seed(0)
            return [persistence(model, x[i : i + 1], n_samples=n_samples, generator=g) for i in range(n_points)]

        t_loop = timed(loop)
        rows.append({"benchmark": f"persistence, {n_points} points, {n_samples} samples, {label}",
                     "nngeom_s": t_batched, "baseline": "naive loop over points", "baseline_s": t_loop,
                     "speedup": t_loop / t_batched})

    model = mlp(784, [200, 200], 10).to(dev).eval()
    x = torch.rand(n_points, 784, device=dev)
    total = n_points * n_samples
    pre = torch.rand(total, 784, device=dev)
    with torch.no_grad():
        t_forward = timed(lambda: [model(c).argmax(1) for c in pre.split((1 << 24) // 784)], repeat=3)
    t_stab = timed(lambda: stability(model, x, 0.3, n_samples=n_samples, generator=torch.Generator(device=dev).manual_seed(0)), repeat=3)
    rows.append({"benchmark": f"stability, {total:,} samples, MLP 784-200-200-10",
                 "nngeom_s": t_stab, "baseline": "raw forward on pre-drawn inputs", "baseline_s": t_forward,
                 "speedup": t_forward / t_stab})

    print(f"device: {dev}; torch {torch.__version__}; python {platform.python_version()}")
    print(f"{'benchmark':<70} {'nngeom s':>9} {'baseline s':>11} {'ratio':>7}  baseline")
    for r in rows:
        print(f"{r['benchmark']:<70} {r['nngeom_s']:9.3f} {r['baseline_s']:11.3f} {r['speedup']:7.2f}  {r['baseline']}")
    out = Path(__file__).with_name("results.json")
    atomic_write_json(out, {"device": str(dev), "torch": torch.__version__, "quick": args.quick, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
