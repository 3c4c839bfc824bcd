"""Benchmarks, each quoted as a ratio against a baseline measured in the same run.

    make bench            # or: .venv/bin/python bench/run.py [--quick]

1. persistence, batched over points vs a naive Python loop calling it one point at a time (the way
   Algorithm 1 is written), on an MNIST-sized MLP (784-200-200-10, random weights: speed does not
   depend on training) and on an exact wedge classifier.
2. stability throughput (samples/s) vs the model's raw forward throughput on pre-drawn inputs: the
   overhead of sampling and bookkeeping, with and without sampling after the first layer.
3. persistence in images/s at the thesis' 1,000 samples for the 784-100-20-10 net and for C-32, against
   the limit set by the model's raw forward throughput (forward rows/s divided by the rows persistence
   actually sent through the model per image, counted), and against a per-image loop over the same images
   (time per row sent through the model; ``--only persistence``). For the MLP the
   default path samples after the first layer (same law, fewer numbers), so it can beat that limit;
   the input-space path is timed too.
4. box-constrained L-BFGS examples/s, batched vs one image per L-BFGS-B problem.
5. linear regions of a 3 x 1024 ReLU net (Zhang & Wu): region constraints composed layer by layer vs
   one gradient per hidden unit (the paper's eq. 2-3); the inradius LP by row generation vs the whole
   LP in HiGHS' interior-point method and in cvxpy (Clarabel); the programs of section 3.4 (x^t, an
   exponential-cone program, and the class-region LP) by nngeom's interior-point method vs cvxpy and
   HiGHS, and a whole region of Table 2; and the LP throughput with two worker processes.
6. the discrete path kernel (Bell, Part II): kernel entries per second (queries x training points x
   steps) of ``nngeom.adversarial_neighborhoods.kernels.path_kernel`` (per-sample gradients and Jacobians with
   torch.func.vmap)
   against a loop of per-sample autograd calls computing the same numbers (checked to agree).
9. the batched torch interior-point method (``nngeom.solvers.interior_point``, ``--only ipm``) on the
   default device (CUDA when present): random dense LPs of one shape, all at once, vs one call of the numpy
   wrapper per LP (the same code, a batch of one on the CPU) and vs HiGHS (scipy) per LP; the inradius LPs
   of random polytopes, all at once, vs the row-generation LP of ``nngeom.solvers.polytope`` (HiGHS); at the
   size of a 3 x 1024 MNIST region, the Newton matrix as its lower block triangle vs the whole product, and a
   program with a numpy objective with numpy's BLAS on one thread vs as it is.
Sections 3-4 use zoo models trained briefly (1 epoch on 10,000 images, cached): speed does not depend
on accuracy, but persistence's work does depend on the network having real decision boundaries.
Results are printed as a table and written to bench/results.json.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

from nngeom.adversarial_neighborhoods.persistence import orthant_classifier, persistence, stability
from nngeom.core import data, zoo
from nngeom.core.attacks import LBFGS, every_other_target
from nngeom.core.device import default_device
from nngeom.core.io import atomic_write_json
from nngeom.core.models import mlp


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


class _RowCounter(nn.Module):
    """Counts the rows (samples) sent through a model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows = 0

    def forward(self, x):
        self.rows += len(x)
        return self.model(x)


def _per_unit_gradients(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The paper's eq. (2)-(3): one autograd call per hidden unit for the rows ``w_n`` of one input."""
    from nngeom.linear_regions.regions import _layers

    layers = _layers(model)
    rows = []
    x = x.detach().clone().requires_grad_(True)
    pre, h = [], x
    for m in layers:
        if isinstance(m, nn.ReLU):
            pre.append(h)
        h = m(h)
    for p in pre:
        for unit in range(p.shape[1]):
            (g,) = torch.autograd.grad(p[0, unit], x, retain_graph=True)
            rows.append(g.reshape(-1))
    return torch.stack(rows)


def _regions(quick: bool) -> list[dict]:
    import cvxpy as cp
    import numpy as np
    from scipy import sparse
    from scipy.optimize import linprog

    from nngeom.core.parallel import run_jobs
    from nngeom.linear_regions.regions import region_constraints
    from nngeom.solvers.polytope import chebyshev_ball

    rows = []
    model = zoo.load(
        "mnist-lrg-vanilla-lr1e-3",
        device="cpu",
        progress=False,
        epochs=1,
        train_limit=10000,
        trainer_kwargs={"validation": 1000, "patience": 0},
    )
    x_test, _ = data.tensors("mnist", "test", value_range=(-1.0, 1.0), flatten=True, limit=16)
    n = 4 if quick else 16
    t_ours = timed(lambda: region_constraints(model, x_test[:n]), repeat=3)
    m_grad = 1 if quick else 2
    t_grad = timed(lambda: [_per_unit_gradients(model, x_test[i : i + 1]) for i in range(m_grad)])
    rows.append(
        {
            "benchmark": f"region constraints of a 3 x 1024 net, {n} inputs (per region)",
            "nngeom_s": t_ours / n,
            "baseline": "one gradient per unit, eq. (2)-(3) (per region)",
            "baseline_s": t_grad / m_grad,
            "speedup": (t_grad / m_grad) / (t_ours / n),
        }
    )
    reg = region_constraints(model, x_test[:n])
    W, b = reg.W[0].numpy(), reg.b[0].numpy()
    norms = np.linalg.norm(W, axis=1)
    d = W.shape[1]
    t_rg = timed(lambda: chebyshev_ball(W, b, (-1.0, 1.0), hint=x_test[0].double().numpy()))
    a_ub = sparse.vstack(
        [
            sparse.csr_matrix(np.hstack([-W, norms[:, None]])),
            sparse.hstack([sparse.identity(d), np.ones((d, 1))]),
            sparse.hstack([-sparse.identity(d), np.ones((d, 1))]),
        ],
        format="csr",
    )
    b_ub = np.concatenate([b, np.ones(d), np.ones(d)])
    t_ipm = timed(
        lambda: linprog(
            np.r_[np.zeros(d), -1.0], A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * (d + 1), method="highs-ipm"
        )
    )
    rows.append(
        {
            "benchmark": "inradius LP of one region (4,640 rows, 785 variables): row generation",
            "nngeom_s": t_rg,
            "baseline": "whole LP, HiGHS interior point (scipy)",
            "baseline_s": t_ipm,
            "speedup": t_ipm / t_rg,
        }
    )
    c, r = cp.Variable(d), cp.Variable()
    prob = cp.Problem(cp.Maximize(r), [W @ c - r * norms + b >= 0, c + r <= 1, c - r >= -1])
    t_cvx = timed(lambda: prob.solve(solver=cp.CLARABEL))
    rows.append(
        {
            "benchmark": "the same LP",
            "nngeom_s": t_rg,
            "baseline": "whole LP, cvxpy + Clarabel",
            "baseline_s": t_cvx,
            "speedup": t_cvx / t_rg,
        }
    )
    # section 3.4: x^t (eq. 6) and the class-region LP, interior point (nngeom.linear_regions.class_regions)
    # vs cvxpy and HiGHS
    from nngeom.linear_regions.class_regions import RegionProgram, class_margin, class_regions, most_likely_point

    lw, lb = reg.logit_W[0].numpy(), reg.logit_b[0].numpy()
    x0 = x_test[0].double().numpy()
    target = int(np.argsort(lw @ x0 + lb)[-2])  # the runner-up class
    prog = RegionProgram(W, b, lw, lb, (-1.0, 1.0), x0)
    t_xt = timed(lambda: most_likely_point(prog, target))
    xv = cp.Variable(d)
    u = lw @ xv + lb
    others = [j for j in range(10) if j != target]
    p_xt = cp.Problem(
        cp.Maximize(u[target] - cp.log_sum_exp(cp.hstack([u[j] for j in others]))), [W @ xv + b >= 0, xv >= -1, xv <= 1]
    )
    t_xt_cvx = timed(lambda: p_xt.solve(solver=cp.CLARABEL))
    gap = abs(most_likely_point(prog, target).psi - p_xt.value)
    rows.append(
        {
            "benchmark": f"x^t of one region and class (exponential cone; optima differ by {gap:.1e})",
            "nngeom_s": t_xt,
            "baseline": "cvxpy + Clarabel, the same program",
            "baseline_s": t_xt_cvx,
            "speedup": t_xt_cvx / t_xt,
        }
    )
    G, g = lw[target] - lw[others], lb[target] - lb[others]
    t_mm = timed(lambda: class_margin(prog, target))
    a2 = np.vstack([np.hstack([-G, np.ones((9, 1))]), np.hstack([-W, np.zeros((len(b), 1))])])
    t_mm_ipm = timed(
        lambda: linprog(
            np.r_[np.zeros(d), -1.0],
            A_ub=a2,
            b_ub=np.r_[g, b],
            bounds=[(-1, 1)] * d + [(None, None)],
            method="highs-ipm",
        )
    )
    rows.append(
        {
            "benchmark": "class-region LP of one region (runner-up class)",
            "nngeom_s": t_mm,
            "baseline": "whole LP, HiGHS interior point (scipy)",
            "baseline_s": t_mm_ipm,
            "speedup": t_mm_ipm / t_mm,
        }
    )
    sv = cp.Variable()
    p_mm = cp.Problem(cp.Maximize(sv), [G @ xv + g >= sv, W @ xv + b >= 0, xv >= -1, xv <= 1])
    t_mm_cvx = timed(lambda: p_mm.solve(solver=cp.CLARABEL))
    rows.append(
        {
            "benchmark": "the same LP",
            "nngeom_s": t_mm,
            "baseline": "cvxpy + Clarabel",
            "baseline_s": t_mm_cvx,
            "speedup": t_mm_cvx / t_mm,
        }
    )
    # a whole region of Table 2: x^t and its nearest maximiser for all 10 classes, margin LPs where needed;
    # the baseline is 10 x^t programs in cvxpy (its cost per program measured above), which gives no
    # nearest maximiser and no margins
    t0 = time.perf_counter()
    res = class_regions(W, b, lw, lb, (-1.0, 1.0), x0)
    t_region = time.perf_counter() - t0
    programs = 20 + res.info["margin_lps"]
    rows.append(
        {
            "benchmark": f"one region of Table 2 ({programs} programs, {programs / t_region:.2f} programs/s)",
            "nngeom_s": t_region,
            "baseline": "10 x^t programs in cvxpy (10 x the time above)",
            "baseline_s": 10 * t_xt_cvx,
            "speedup": 10 * t_xt_cvx / t_region,
        }
    )
    k = 2 if quick else 8
    jobs = [((reg.W[i].numpy(), reg.b[i].numpy(), (-1.0, 1.0)), {"hint": x_test[i].double().numpy()}) for i in range(k)]
    t1 = timed(lambda: run_jobs(chebyshev_ball, jobs, workers=1, progress=False))
    t2 = timed(lambda: run_jobs(chebyshev_ball, jobs, workers=2, progress=False))
    rows.append(
        {
            "benchmark": f"inradius LPs/s, {k} regions, 2 worker processes",
            "nngeom_s": t2 / k,
            "baseline": "one process (per LP)",
            "baseline_s": t1 / k,
            "speedup": t1 / t2,
        }
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run of the benchmark)")
    parser.add_argument(
        "--only",
        choices=("persistence", "regions", "kernels", "feature-space", "natural-image", "ipm"),
        help="one section: 3 (persistence throughput), 5 (linear regions), 6 (path kernel), 7 (feature space), "
        "8 (natural-image spaces) or 9 (batched interior point); written to results-<section>.json",
    )
    args = parser.parse_args()
    dev = default_device()
    torch.manual_seed(0)
    if args.only:
        sections = {"persistence": lambda quick: _persistence_throughput(dev, quick), "regions": _regions,
                    "kernels": _kernels, "feature-space": _feature_space, "natural-image": _natural_image,
                    "ipm": _ipm}  # fmt: skip
        rows = sections[args.only](args.quick)
        return _report(rows, dev, args.quick, f"results-{args.only}.json")
    n_points = 16 if args.quick else 64
    n_samples = 200 if args.quick else 1000
    rows = []

    for label, model, dim in (
        ("MLP 784-200-200-10", mlp(784, [200, 200], 10).to(dev).eval(), 784),
        ("wedge W_3^784", orthant_classifier(784, 3).to(dev), 784),
    ):
        x = torch.rand(n_points, dim, device=dev) if "MLP" in label else torch.full((n_points, dim), 0.5, device=dev)
        g = torch.Generator(device=dev)
        t_batched = timed(lambda: persistence(model, x, n_samples=n_samples, generator=g.manual_seed(0)))

        # one generator for the whole loop (re-seeding per point would give every point the same draws)
        def loop():
            g.manual_seed(0)
            return [persistence(model, x[i : i + 1], n_samples=n_samples, generator=g) for i in range(n_points)]

        t_loop = timed(loop)
        rows.append(
            {
                "benchmark": f"persistence, {n_points} points, {n_samples} samples, {label}",
                "nngeom_s": t_batched,
                "baseline": "naive loop over points",
                "baseline_s": t_loop,
                "speedup": t_loop / t_batched,
            }
        )

    model = mlp(784, [200, 200], 10).to(dev).eval()
    x = torch.rand(n_points, 784, device=dev)
    total = n_points * n_samples
    pre = torch.rand(total, 784, device=dev)
    with torch.no_grad():
        t_forward = timed(lambda: [model(c).argmax(1) for c in pre.split((1 << 24) // 784)], repeat=3)
    t_stab = timed(
        lambda: stability(model, x, 0.3, n_samples=n_samples, generator=torch.Generator(device=dev).manual_seed(0)),
        repeat=3,
    )
    rows.append(
        {
            "benchmark": f"stability, {total:,} samples, MLP 784-200-200-10",
            "nngeom_s": t_stab,
            "baseline": "raw forward on pre-drawn inputs",
            "baseline_s": t_forward,
            "speedup": t_forward / t_stab,
        }
    )
    t_stab_input = timed(
        lambda: stability(
            model,
            x,
            0.3,
            n_samples=n_samples,
            sample_first_layer=False,
            generator=torch.Generator(device=dev).manual_seed(0),
        ),
        repeat=3,
    )
    rows.append(
        {
            "benchmark": "the same, sampled in input space (sample_first_layer=False)",
            "nngeom_s": t_stab_input,
            "baseline": "raw forward on pre-drawn inputs",
            "baseline_s": t_forward,
            "speedup": t_forward / t_stab_input,
        }
    )

    # 3. persistence vs the forward-throughput limit and a per-image loop
    rows += _persistence_throughput(dev, args.quick)

    # 4. L-BFGS examples/s
    x_test, y_test = data.tensors("mnist", "test")
    model = zoo.load("mnist-fc100-20-10", device=dev, progress=False, epochs=1, train_limit=10000)
    n_lb = 4 if args.quick else 16
    xl, _, tl = every_other_target(x_test[:n_lb], y_test[:n_lb])
    t_batch = timed(lambda: LBFGS(model, search_steps=6, max_iter=50, batch_size=len(xl))(xl.to(dev), tl.to(dev)))
    one = min(len(xl), 18)
    t_single = timed(
        lambda: LBFGS(model, search_steps=6, max_iter=50, batch_size=1)(xl[:one].to(dev), tl[:one].to(dev))
    )
    rows.append(
        {
            "benchmark": f"L-BFGS examples/s, mnist-fc100-20-10, {len(xl)} examples in one problem",
            "nngeom_s": t_batch / len(xl),
            "baseline": "one L-BFGS-B problem per example (per example)",
            "baseline_s": t_single / one,
            "speedup": (t_single / one) / (t_batch / len(xl)),
        }
    )

    rows.extend(_regions(args.quick))
    rows.extend(_kernels(args.quick))
    rows.extend(_feature_space(args.quick))
    rows.extend(_natural_image(args.quick))
    rows.extend(_ipm(args.quick))
    return _report(rows, dev, args.quick)


def _kernels(quick: bool) -> list[dict]:
    """Kernel entries/s of the vmap path kernel vs a per-sample autograd loop, same nodes, same numbers."""
    import numpy as np

    from nngeom.adversarial_neighborhoods.kernels import (
        Trajectory,
        path_kernel,
        sample_loss,
        train_full_batch,
        zero_last_layer,
    )

    x, y = data.tensors("mnist", "train", limit=100 if quick else 400, flatten=True)
    xq, _ = data.tensors("mnist", "test", limit=10 if quick else 20, flatten=True)
    x, xq = x.double(), xq.double()
    torch.manual_seed(0)
    net = zero_last_layer(nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))).double()
    steps = 2 if quick else 5
    traj = train_full_batch(net, x, y, loss="cross_entropy", lr=1e-3, steps=steps, progress=False)
    nodes = 4
    rep = None

    def ours():
        nonlocal rep
        rep = path_kernel(traj, xq, rule="gauss", nodes=nodes, progress=False)

    t_ours = timed(ours)
    tn, wn = np.polynomial.legendre.leggauss(nodes)
    tn, wn = (tn + 1) / 2, wn / 2
    loop_steps = 1

    def loop():
        out = torch.zeros(len(xq), len(x), 10, dtype=torch.float64)
        for s in range(loop_steps):
            w0, dw = traj.weights[s], traj.weights[s + 1] - traj.weights[s]
            V = []
            for i in range(len(x)):  # per-sample gradient of -lr * loss_i, one autograd call each
                w = w0.clone().requires_grad_(True)
                li = -traj.lr * sample_loss("cross_entropy", traj.forward(w, x[i : i + 1]), y[i : i + 1])[0]
                V.append(torch.autograd.grad(li, w)[0])
            V = torch.stack(V)
            for q in range(len(xq)):
                Jbar = torch.zeros(10, w0.numel(), dtype=torch.float64)
                for t, wt in zip(tn, wn):  # one backward pass per output and node
                    w = (w0 + float(t) * dw).requires_grad_(True)
                    o = traj.forward(w, xq[q : q + 1])[0]
                    Jbar += float(wt) * torch.stack(
                        [torch.autograd.grad(o[k], w, retain_graph=True)[0] for k in range(10)]
                    )
                out[q] += V @ Jbar.T
        return out

    t_loop = timed(loop)
    entries = len(xq) * len(x) * steps
    entries_loop = len(xq) * len(x) * loop_steps
    # the loop's numbers against the library's on the same first step
    first = Trajectory(
        traj.model,
        traj.names,
        traj.shapes,
        traj.weights[: loop_steps + 1],
        traj.x,
        traj.y,
        traj.loss,
        traj.lr,
        traj.scale,
    )
    one_step = path_kernel(first, xq, rule="gauss", nodes=nodes, progress=False).contributions
    agree = float((loop() - one_step).abs().max() / one_step.abs().max())
    return [
        {
            "benchmark": f"path kernel entries/s, 784-32-10 net (25,450 weights), {len(xq)} queries x {len(x)} "
            f"training images x {steps} steps, 10 outputs, {nodes} Gauss nodes (agree to {agree:.0e})",
            "nngeom_s": t_ours / entries,
            "baseline": "per-sample autograd loop (per entry)",
            "baseline_s": t_loop / entries_loop,
            "speedup": (t_loop / entries_loop) / (t_ours / entries),
        },
        {
            "benchmark": f"  (entries per second: nngeom {entries / t_ours:,.0f}, loop {entries_loop / t_loop:,.0f}; "
            f"error of the 4-point rule in this run {rep.quadrature_error:.1e}; "
            "the exact rule is timed on the MNIST kernel page)",
            "nngeom_s": t_ours,
            "baseline": "whole run, seconds",
            "baseline_s": t_loop,
            "speedup": (t_loop / entries_loop) / (t_ours / entries),
        },
    ]


def _feature_space(quick: bool) -> list[dict]:
    """Flip-point QPs and hull projections per second against cvxpy (Clarabel), DAQP one problem at a time
    and scipy's nnls on the whole set, on the same problems; each comparison also checks the answers."""
    import cvxpy as cp
    import daqp
    import numpy as np
    from scipy.optimize import nnls

    from nngeom.feature_space.flips import flip_points
    from nngeom.solvers.hull import hull_projection

    rng = np.random.default_rng(0)
    n_classes, f = 10, 64
    # a random 64 -> 10 layer and ReLU-like features (the sizes of the paper's ResNet-20 head)
    W = torch.tensor(rng.standard_normal((n_classes, f)) * 0.3)
    b = torch.tensor(rng.standard_normal(n_classes) * 0.1)
    feats = torch.tensor(np.maximum(rng.standard_normal((200 if quick else 4000, f)), 0) * 2)
    flip_points(W, b, feats[:5])  # warm-up: first calls pay for imports and kernel set-up
    flip_points(W, b, feats[:5], method="newton")
    t_ours = timed(lambda: flip_points(W, b, feats))
    t_newton = timed(lambda: flip_points(W, b, feats, method="newton"))
    fp = flip_points(W, b, feats)
    n_qp = len(feats) * (n_classes - 1)
    # the same problems, one at a time: the first k feature vectors, every other class
    k = 20 if quick else 100
    problems = []
    for n in range(k):
        i = int(fp.predicted[n])
        for j in range(n_classes):
            if j != i:
                rows = [j] + [r for r in range(n_classes) if r not in (i, j)]
                problems.append((n, j, (W[i] - W[rows]).numpy(), (b[i] - b[rows]).numpy()))

    def daqp_one(x, A, c):
        """One flip-point QP as a user would pose it to DAQP: bounds, the equality row, the other rows."""
        up = np.r_[np.full(f, 1e30), -c[0], np.full(len(c) - 1, 1e30)]
        lo = np.r_[np.zeros(f), -c]
        sense = np.r_[np.zeros(f), 5, np.zeros(len(c) - 1)].astype(np.int32)
        y, _, flag, _ = daqp.solve(np.eye(f), -x, A, up, lo, sense)
        return y if flag == 1 else None

    def daqp_all():
        return [daqp_one(feats[n].numpy(), A, c) for n, _, A, c in problems]

    t_daqp = timed(daqp_all)
    worst = max(
        abs(float(np.linalg.norm(y - feats[n].numpy())) - float(fp.distance[n, j]))
        for (n, j, _, _), y in zip(problems, daqp_all()) if y is not None
    )  # fmt: skip
    m = 20 if quick else 90

    def cvxpy_some():
        out = []
        for n, _, A, c in problems[:m]:
            y = cp.Variable(f)
            prob = cp.Problem(
                cp.Minimize(cp.sum_squares(y - feats[n].numpy())),
                [A[:1] @ y + c[:1] == 0, A[1:] @ y + c[1:] >= 0, y >= 0],
            )
            prob.solve(solver=cp.CLARABEL)
            out.append(prob.value)
        return out

    t_cvx = timed(cvxpy_some)
    per = t_ours / n_qp
    rows = [
        {
            "benchmark": f"flip-point QPs (64 features, 10 classes), {n_qp:,} at once: {1 / per:,.0f} QPs/s, "
            f"{fp.by_one_row:,} by the one-row pass (max |d - d_DAQP| {worst:.1e})",
            "nngeom_s": per,
            "baseline": "DAQP, one problem at a time (s per QP)",
            "baseline_s": t_daqp / len(problems),
            "speedup": t_daqp / len(problems) / per,
        },
        {
            "benchmark": "the same flip-point QPs, method='newton' (batched dual Newton on the CPU) vs 'daqp'",
            "nngeom_s": t_newton / n_qp,
            "baseline": "nngeom, method='daqp' (s per QP)",
            "baseline_s": per,
            "speedup": per / (t_newton / n_qp),
        },
        {
            "benchmark": "the same flip-point QPs (s per QP)",
            "nngeom_s": per,
            "baseline": "cvxpy (Clarabel), one problem at a time",
            "baseline_s": t_cvx / m,
            "speedup": t_cvx / m / per,
        },
    ]
    n_points, n_queries = (6000, 20) if quick else (60000, 100)
    P = torch.tensor(np.maximum(rng.standard_normal((n_points, f)), 0))
    Xq = torch.tensor(np.maximum(rng.standard_normal((n_queries, f)), 0))
    t_hull = timed(lambda: hull_projection(P, Xq))
    h = hull_projection(P, Xq)
    few = 2
    Pn = P.numpy()

    def nnls_full():
        out = []
        for q in range(few):
            M = np.vstack([(Pn - Xq[q].numpy()).T, np.ones((1, n_points))])
            e = np.zeros(f + 1)
            e[-1] = 1.0
            u, _ = nnls(M, e, maxiter=50 * n_points)
            out.append(float(np.linalg.norm((u / u.sum()) @ Pn - Xq[q].numpy())))
        return out

    t_nnls = timed(nnls_full)
    worst_nnls = max(abs(d - float(h.distance[q])) for q, d in enumerate(nnls_full()))

    def cvxpy_hull():
        for q in range(few):
            a = cp.Variable(n_points)
            cp.Problem(cp.Minimize(cp.sum_squares(Pn.T @ a - Xq[q].numpy())), [a >= 0, cp.sum(a) == 1]).solve(
                solver=cp.CLARABEL
            )

    t_cvx_hull = timed(cvxpy_hull)
    per_q = t_hull / n_queries
    rows += [
        {
            "benchmark": f"hull projections in 64-d over {n_points:,} points: {1 / per_q:.0f} queries/s, "
            f"{int(h.certified.sum())}/{n_queries} certified (max |d - d_nnls| {worst_nnls:.1e})",
            "nngeom_s": per_q,
            "baseline": "scipy nnls on the whole set (s per query)",
            "baseline_s": t_nnls / few,
            "speedup": t_nnls / few / per_q,
        },
        {
            "benchmark": "the same hull projections (s per query)",
            "nngeom_s": per_q,
            "baseline": "cvxpy (Clarabel) on the whole set",
            "baseline_s": t_cvx_hull / few,
            "speedup": t_cvx_hull / few / per_q,
        },
    ]
    rows += _feature_space_pixels(quick)
    return rows


def _feature_space_pixels(quick: bool) -> list[dict]:
    """Pixel-space hull projections (Fashion-MNIST test images onto the training set, 784-d) against scipy's
    nnls on the whole set, and the inverse problem's images per second on the smoke ResNet-20 against the
    model's raw forward-and-backward throughput (what one Adam step of the continuation costs at least)."""
    import numpy as np
    from scipy.optimize import nnls

    from nngeom.core import data, zoo
    from nngeom.feature_space.flips import features
    from nngeom.feature_space.inverse import images_for_features
    from nngeom.solvers.hull import hull_projection

    x_train, _ = data.tensors("fashion-mnist", "train", limit=6000 if quick else None)
    x_test, _ = data.tensors("fashion-mnist", "test", limit=200)
    P, n_q = x_train.flatten(1).double(), 10 if quick else 100
    Xq = x_test[:n_q].flatten(1).double()
    t_pix = timed(lambda: hull_projection(P, Xq))
    h = hull_projection(P, Xq)
    Pn, few = P.numpy(), 1

    def nnls_full():
        M = np.vstack([(Pn - Xq[0].numpy()).T, np.ones((1, len(Pn)))])
        e = np.zeros(M.shape[0])
        e[-1] = 1.0
        u, _ = nnls(M, e, maxiter=50 * len(Pn))
        return float(np.linalg.norm((u / u.sum()) @ Pn - Xq[0].numpy()))

    t_nnls = timed(nnls_full)
    gap = abs(nnls_full() - float(h.distance[0]))
    model = zoo.load("fashion-resnet20", profile="smoke", progress=False)
    n_img, steps = 8, 20 if quick else 100
    targets = features(model, x_test[100 : 100 + n_img])
    refs = x_test[:n_img]
    t_inv = timed(lambda: images_for_features(model, targets, refs, steps=steps))
    inv = images_for_features(model, targets, refs, steps=steps)
    stages = len(inv.penalties)
    xr = refs.clone().requires_grad_(True)

    def raw_steps():
        for _ in range(stages * steps):
            model[:-1](xr).sum().backward()

    t_raw = timed(raw_steps)
    return [
        {
            "benchmark": f"hull projections in pixel space (784-d) over {len(P):,} Fashion-MNIST training images: "
            f"{n_q / t_pix:.1f} queries/s, {int(h.certified.sum())}/{n_q} certified (|d - d_nnls| {gap:.1e})",
            "nngeom_s": t_pix / n_q,
            "baseline": "scipy nnls on the whole set (s per query)",
            "baseline_s": t_nnls / few,
            "speedup": t_nnls / few / (t_pix / n_q),
        },
        {
            "benchmark": f"inverse problem (eqs. 17-18), smoke ResNet-20, {n_img} images x {stages} stages x {steps} "
            f"steps: {n_img / t_inv:.2f} images/s, median residual {float(inv.residual.median()):.3g} "
            f"(|target| {float(targets.norm(dim=1).median()):.3g})",
            "nngeom_s": t_inv,
            "baseline": "the same number of raw forward + backward passes of the feature map (s)",
            "baseline_s": t_raw,
            "speedup": t_raw / t_inv,
        },
    ]


def _persistence_throughput(dev: torch.device, quick: bool) -> list[dict]:
    """Section 3: persistence in images/s against the forward-throughput limit, and batched against a
    per-image loop over the same images, compared per row (sample) sent through the model."""
    rows = []
    x_test, _ = data.tensors("mnist", "test")
    for name, n_img in (("mnist-fc100-20-10", 8 if quick else 64), ("mnist-c-32", 2 if quick else 8)):
        model = zoo.load(name, device=dev, progress=False, epochs=1, train_limit=10000)
        counter = _RowCounter(model)
        xs = x_test[:n_img].to(dev)
        g = torch.Generator(device=dev)
        # The counter hides the model's layers, so this run samples in input space; it counts the rows.
        t_input_space = timed(lambda: persistence(counter, xs, n_samples=1000, generator=g.manual_seed(0)))
        rows_batched = counter.rows
        rows_per_image = rows_batched / n_img
        # The default path: MLPs are sampled after their first layer (same law, fewer numbers drawn).
        t_batched = timed(lambda: persistence(model, xs, n_samples=1000, generator=g.manual_seed(0)))
        chunk = max(1, (1 << 18 if dev.type == "cpu" else 1 << 24) // 784)
        pre = torch.rand(min(int(rows_per_image * n_img), 20_000), 1, 28, 28, device=dev)
        with torch.no_grad():
            t_fwd = timed(lambda: [model(c).argmax(1) for c in pre.split(chunk)], repeat=2)
        limit = (len(pre) / t_fwd) / rows_per_image  # images/s if sampling and bookkeeping were free
        achieved = n_img / t_batched
        rows.append(
            {
                "benchmark": f"persistence images/s, {name}, 1,000 samples ({rows_per_image:,.0f} rows/image)",
                "nngeom_s": t_batched,
                "baseline": "forward-throughput limit (images/s ratio)",
                "baseline_s": n_img / limit,
                "speedup": achieved / limit,
            }
        )
        if t_input_space != t_batched and name.startswith("mnist-fc"):
            rows.append(
                {
                    "benchmark": "the same, sampled in input space (sample_first_layer=False)",
                    "nngeom_s": t_input_space,
                    "baseline": "forward-throughput limit (images/s ratio)",
                    "baseline_s": n_img / limit,
                    "speedup": (n_img / t_input_space) / limit,
                }
            )
        # Batched against a loop over the same images, both through the counter (the same sampling path).
        # Each point's search stops on its own noisy estimates, so the two runs send different numbers of
        # rows; time per row is the like-for-like measure of what batching changes (an earlier version
        # timed the loop on the first quarter of the images only, and per image: other work, not batching).
        counter.rows = 0
        t_loop = timed(
            lambda: [
                persistence(counter, xs[i : i + 1], n_samples=1000, generator=g.manual_seed(i)) for i in range(n_img)
            ]
        )
        rows_loop = counter.rows
        rows.append(
            {
                "benchmark": f"persistence, {name}: batched vs per-image loop, same {n_img} images, time per "
                f"row ({rows_batched:,} and {rows_loop:,} rows)",
                "nngeom_s": t_input_space / rows_batched,
                "baseline": "per-image loop",
                "baseline_s": t_loop / rows_loop,
                "speedup": (t_loop / rows_loop) / (t_input_space / rows_batched),
            }
        )
    return rows


def _natural_image(quick: bool) -> list[dict]:
    """The natural-image-spaces training loop: train_classifier with the per-sample recorder
    (SampleRecorder: every training sample at every epoch, from the logits the step computes anyway, and the
    test set after every epoch) against the same training with a plain test-accuracy pass after every epoch
    (the evaluation any test-accuracy curve needs: what the recorder adds is then its own cost), against the
    same training without any test pass, and that against a plain hand-written loop; and the net's
    channels-last weights (what all_convolutional builds) against the same net in PyTorch's default NCHW
    layout, one plain loop each."""
    from nngeom.core.data import tensors
    from nngeom.core.models import all_convolutional
    from nngeom.core.training import accuracy, train_classifier
    from nngeom.natural_image_spaces.statistics import SampleRecorder

    n, epochs = (1000, 1) if quick else (5000, 3)
    x, y = tensors("fashion-mnist", "train", limit=n)
    xt, yt = tensors("fashion-mnist", "test", limit=n // 5)

    def fresh():
        torch.manual_seed(0)
        return all_convolutional(base_filters=8, in_channels=1, image_size=28)

    def plain_loop(layout=torch.channels_last):
        model = fresh().to(memory_format=layout)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            model.train()
            for idx in torch.randperm(n, generator=g).split(128):
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()

    def ours(mode: str):
        hooks = {}
        if mode == "record":
            rec = SampleRecorder(y, epochs, test=(xt, yt))
            hooks = {"observe": rec.observe, "after_epoch": rec.after_epoch}
        elif mode == "evaluate":
            # in the recorder's batches, so that the two differ only by what the recorder keeps
            batch = SampleRecorder(y, 1).batch_size
            hooks = {"after_epoch": lambda epoch, model: accuracy(model, xt, yt, batch_size=batch)}
        train_classifier(fresh(), (x, y), (xt, yt), epochs=epochs, batch_size=128, lr=1e-3, progress=False, **hooks)

    # interleaved repeats, each variant's best: load that comes and goes hits all of them alike
    times: dict[str, float] = {}
    for _ in range(3):
        for name, fn in (("plain", plain_loop), ("nchw", lambda: plain_loop(torch.contiguous_format)),
                         ("bare", lambda: ours("bare")),
                         ("evaluate", lambda: ours("evaluate")), ("record", lambda: ours("record"))):  # fmt: skip
            times[name] = min(times.get(name, float("inf")), timed(fn))
    t_plain, t_bare, t_eval, t_rec = times["plain"], times["bare"], times["evaluate"], times["record"]
    t_nchw = times["nchw"]
    images = n * epochs
    what = f"the 8-filter all-conv net, {n:,} Fashion-MNIST images x {epochs} epochs, test set of {len(yt):,}"
    return [
        {
            "benchmark": f"per-sample statistics (SampleRecorder) while training {what} each epoch: overhead "
            f"{100 * (t_rec / t_eval - 1):+.1f} %",
            "nngeom_s": t_rec,
            "baseline": "the same training with a plain test-accuracy pass after every epoch",
            "baseline_s": t_eval,
            "speedup": t_eval / t_rec,
        },
        {
            "benchmark": f"the same, recorder and test passes together: {100 * (t_rec / t_bare - 1):+.1f} %",
            "nngeom_s": t_rec,
            "baseline": "the same training without any test pass",
            "baseline_s": t_bare,
            "speedup": t_bare / t_rec,
        },
        {
            "benchmark": f"train_classifier without the recorder: {images / t_bare:,.0f} images/s",
            "nngeom_s": t_bare,
            "baseline": "a plain loop (forward, loss, backward, step), no evaluation",
            "baseline_s": t_plain,
            "speedup": t_plain / t_bare,
        },
        {
            "benchmark": f"a plain loop with the channels-last weights all_convolutional builds: "
            f"{images / t_plain:,.0f} images/s",
            "nngeom_s": t_plain,
            "baseline": "the same loop and net with PyTorch's default NCHW weights",
            "baseline_s": t_nchw,
            "speedup": t_nchw / t_plain,
        },
    ]


def _ipm(quick: bool) -> list[dict]:
    """The batched interior-point method on the default device: ``B`` random dense LPs of one shape
    (``min cost x`` over ``{A x + b >= 0} ∩ [-1, 1]^n``, unit rows, a random point strictly inside) in one call,
    against one call of the numpy wrapper per LP and against HiGHS (scipy, dual simplex) per LP; then the
    inradius LPs of ``B`` such polytopes in one call against ``nngeom.solvers.polytope.chebyshev_ball`` (HiGHS,
    row generation) per polytope. The optima are checked against HiGHS'."""
    import numpy as np
    from scipy.optimize import linprog

    from nngeom.solvers.interior_point import chebyshev_ball_batch, minimize_convex, minimize_convex_batch
    from nngeom.solvers.polytope import chebyshev_ball

    dev = default_device()
    B, m, n = (8, 300, 40) if quick else (32, 800, 80)
    g = np.random.default_rng(0)
    inside = g.uniform(-0.6, 0.6, size=(B, n))
    A = g.normal(size=(B, m, n))
    A /= np.linalg.norm(A, axis=2, keepdims=True)
    offsets = np.abs(g.normal(size=(B, m)))  # the rows' distances from the point inside, up to a scale
    b = -np.einsum("bmn,bn->bm", A, inside) + offsets * 0.3
    cost = g.normal(size=(B, n))
    A_d, b_d, cost_d = (torch.tensor(v, device=dev) for v in (A, b, cost))

    def batched():
        return minimize_convex_batch(lambda x: ((cost_d * x).sum(1), cost_d, None), A_d, b_d, -1.0, 1.0, inside)

    def one_at_a_time():
        return [
            minimize_convex(lambda x, i=i: (float(cost[i] @ x), cost[i], None), A[i], b[i], -1.0, 1.0, inside[i])
            for i in range(B)
        ]

    def highs():
        return [linprog(cost[i], A_ub=-A[i], b_ub=b[i], bounds=(-1.0, 1.0), method="highs") for i in range(B)]

    batched()  # CUDA's first kernels and cuSOLVER's set-up are not part of the method's cost
    t_batch, t_one, t_highs = timed(batched, repeat=2), timed(one_at_a_time), timed(highs)
    sol, ref = batched(), highs()
    worst = max(abs(float(sol.value[i]) - r.fun) / (1 + abs(r.fun)) for i, r in enumerate(ref))
    iters = sol.iterations.double()
    label = (
        f"{B} LPs ({m} dense rows, {n} variables, box) at once on {dev.type}: {B / t_batch:.1f} LPs/s, "
        f"{int(sol.converged.sum())}/{B} converged, {iters.mean():.1f} iterations, max rel |f - f_HiGHS| {worst:.1e}"
    )
    rows = [
        {
            "benchmark": label,
            "nngeom_s": t_batch / B,
            "baseline": "the numpy wrapper (the same method, a batch of one, CPU), one LP per call (s per LP)",
            "baseline_s": t_one / B,
            "speedup": t_one / t_batch,
        },
        {
            "benchmark": "the same LPs (s per LP)",
            "nngeom_s": t_batch / B,
            "baseline": "HiGHS (scipy linprog, method='highs'), one LP per call",
            "baseline_s": t_highs / B,
            "speedup": t_highs / t_batch,
        },
    ]
    Bc = B // 2
    # polytopes of different sizes around their points
    b_c = b[:Bc] + offsets[:Bc] * g.uniform(-0.2, 0.5, size=(Bc, 1))

    def balls():
        return chebyshev_ball_batch(A_d[:Bc], torch.tensor(b_c, device=dev), (-1.0, 1.0), hint=inside[:Bc])

    def balls_highs():
        return [chebyshev_ball(A[i], b_c[i], (-1.0, 1.0), hint=inside[i]) for i in range(Bc)]

    balls()
    t_balls, t_balls_highs = timed(balls, repeat=2), timed(balls_highs)
    ours, theirs = balls(), balls_highs()
    worst = max(abs(float(ours.radius[i]) - r.radius) / r.radius for i, r in enumerate(theirs))
    rows.append(
        {
            "benchmark": f"inradius LPs of {Bc} polytopes ({m} rows, {n} dimensions) at once on {dev.type}: "
            f"{int(ours.converged.sum())}/{Bc} converged, max rel |r - r_HiGHS| {worst:.1e}",
            "nngeom_s": t_balls / Bc,
            "baseline": "nngeom.solvers.polytope.chebyshev_ball (HiGHS, row generation), one per call (s per LP)",
            "baseline_s": t_balls_highs / Bc,
            "speedup": t_balls_highs / t_balls,
        }
    )
    rows += _ipm_region_scale(quick)
    return rows


def _ipm_region_scale(quick: bool) -> list[dict]:
    """Two measurements at the size of a 3 x 1024 MNIST region (3,072 unit rows, 784 variables; smaller with
    ``quick``), on the CPU where the LRG pages run: the Newton matrix as its lower block triangle
    (``_normal_matrix``) against the whole product from a scaled transposed view (the solver's earlier
    form), and one least-squares program whose objective is numpy code (as the class-region programs' is)
    solved by ``minimize_convex`` (numpy's BLAS on one thread while it runs) against the same batch-of-one
    call with numpy's BLAS threads left as they are."""
    import numpy as np

    from nngeom.solvers.interior_point import _normal_matrix, minimize_convex, minimize_convex_batch

    m, n = (1024, 256) if quick else (3072, 784)
    g = np.random.default_rng(1)
    A = g.normal(size=(m, n))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    inside = g.uniform(-0.5, 0.5, size=n)
    b = -A @ inside + np.abs(g.normal(size=m)) * 0.05
    C = torch.tensor(A)[None]
    d = torch.tensor(10.0 ** g.uniform(-8, 8, size=(1, m)))
    Ct = C.mT.contiguous()
    t_lower = timed(lambda: _normal_matrix(Ct, d), repeat=5)
    t_full = timed(lambda: (C.mT * d[:, None, :]) @ C, repeat=5)
    K = _normal_matrix(Ct, d)[0]
    full = ((C.mT * d[:, None, :]) @ C)[0]
    err = float((torch.tril(K) - torch.tril(full)).abs().max() / full.abs().max())
    target = g.uniform(-1.0, 1.0, size=n)
    L = g.normal(size=(10, n))  # a small dense map, like the 10 logits of a region

    def F(x):  # ||L (x - target)||^2 + |x - target|^2 / 100, in numpy
        r = x - target
        u = L @ r
        return float(u @ u + r @ r / 100), 2 * (L.T @ u) + r / 50, 2 * (L.T @ L) + np.eye(n) / 50

    def batch_F(x):
        value, grad, hess = F(x[0].numpy())
        return torch.tensor([value]), torch.as_tensor(grad)[None], torch.as_tensor(hess)[None]

    def limited():
        return minimize_convex(F, A, b, -1.0, 1.0, inside)

    def unlimited():
        return minimize_convex_batch(batch_F, torch.tensor(A), torch.tensor(b)[None], -1.0, 1.0, inside[None])

    t_lim, t_unlim = timed(limited, repeat=2), timed(unlimited, repeat=2)
    its = limited().iterations
    return [
        {
            "benchmark": f"Newton matrix C^T diag(d) C, {m} x {n}, as its lower block triangle (what the Cholesky "
            f"factorisation reads; max rel. difference {err:.0e})",
            "nngeom_s": t_lower,
            "baseline": "the whole product from a scaled transposed view of C (the solver's earlier form)",
            "baseline_s": t_full,
            "speedup": t_full / t_lower,
        },
        {
            "benchmark": f"one QP with a numpy objective ({m} rows, {n} variables, {its} iterations): minimize_convex, "
            "numpy's BLAS on one thread while it runs",
            "nngeom_s": t_lim,
            "baseline": "the same solve with numpy's BLAS threads as they are (they spin between calls)",
            "baseline_s": t_unlim,
            "speedup": t_unlim / t_lim,
        },
    ]


def _report(rows: list[dict], dev, quick: bool, name: str = "results.json") -> int:
    print(f"device: {dev}; torch {torch.__version__}; python {platform.python_version()}")
    print(f"{'benchmark':<70} {'nngeom s':>9} {'baseline s':>11} {'ratio':>7}  baseline")
    for r in rows:
        print(f"{r['benchmark']:<70} {r['nngeom_s']:9.3f} {r['baseline_s']:11.3f} {r['speedup']:7.2f}  {r['baseline']}")
    out = Path(__file__).with_name(name)
    atomic_write_json(out, {"device": str(dev), "torch": torch.__version__, "quick": quick, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
