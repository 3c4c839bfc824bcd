"""Mutation check: does the regression suite catch realistic bugs in the core algorithms?

Each mutation below is one small, plausible bug (a dropped mask, a flipped sign, a skipped step, a
scale off by 5 %, ...) written as an exact snippet of a library file and its replacement, with the
fast unit tests that should catch it. For every mutation the script copies the repository's tracked
and untracked-but-not-ignored files (``git ls-files -co --exclude-standard``) into a fresh temporary
directory, applies the mutation there, and runs the mutation's pytest selection in that copy with
``PYTHONPATH=<copy>/lib`` (a pytest plugin checks, before any test runs, that ``nngeom`` is imported
from the copy and not from the editable install of the real tree). The real tree is never written.

Outcomes: ``killed`` (some selected test failed: the bug is caught), ``survived`` (all passed: the
tests miss it), ``stale`` (the old snippet no longer occurs exactly once: the code moved and the
mutation needs updating), ``timeout``, ``error`` (pytest could not run the selection). First the
union of all selections runs on an unmutated copy; if anything fails there the script stops.

    .venv/bin/python tests/mutations.py                   # every mutation, then the table
    .venv/bin/python tests/mutations.py --list            # what each mutation does, and its tests
    .venv/bin/python tests/mutations.py --only ID [--only ID2]
    .venv/bin/python tests/mutations.py --markdown FILE   # also write the table as Markdown

Exit status: 0 when every mutation run is killed, 1 when one survived, timed out, errored or is
stale, 2 when the unmutated baseline fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    breaks: str  # what the bug breaks, in words
    tests: tuple[str, ...]  # pytest node ids (relative to the repository root) expected to kill it


T = "tests/"

MUTATIONS: list[Mutation] = [
    Mutation(
        "regions-mask-dropped",
        "lib/nngeom/linear_regions/regions.py",
        "            jac = jac * active.unsqueeze(2).to(dtype)\n            off = off * active.to(dtype)\n",
        "",
        "region_constraints forgets a ReLU layer's activation mask: inactive units keep passing their affine "
        "map on, so the deeper rows and the logits on the region are wrong",
        (
            T + "test_regions.py::test_constraints_match_per_unit_gradients_and_logits[fc]",
            T + "test_regions.py::test_constraints_match_per_unit_gradients_and_logits[cnn]",
        ),
    ),
    Mutation(
        "regions-walk-off-by-one",
        "lib/nngeom/linear_regions/regions.py",
        "            for i, b in zip(idx[go].tolist(), nxt[go].tolist()):\n",
        "            for i, b in zip(idx.tolist(), nxt.tolist()):\n",
        "walk_lines also records the crossing beyond the end of the segment, so every segment counts one "
        "linear region too many",
        (
            T + "test_regions.py::test_walk_lines_matches_fine_sampling_on_a_2d_toy[False]",
            T + "test_regions.py::test_walk_lines_finds_a_region_thinner_than_any_grid",
        ),
    ),
    Mutation(
        "kernels-step-skipped",
        "lib/nngeom/adversarial_neighborhoods/kernels.py",
        'for s in tqdm(range(traj.steps), desc=f"path kernel ({rule})"',
        'for s in tqdm(range(traj.steps - 1), desc=f"path kernel ({rule})"',
        "path_kernel sums the kernel over all gradient-descent steps but the last, so the kernel machine "
        "no longer reproduces the trained model (eq. 15)",
        (T + "test_kernels.py::test_exact_rule_reconstructs_the_trained_model[bce-1]",),
    ),
    Mutation(
        "boundaries-wedge-sign",
        "lib/nngeom/adversarial_neighborhoods/boundaries.py",
        "s = (x1 + (active * t * rest).sum(1)) / (1 + (active * t * t).sum(1))",
        "s = (x1 - (active * t * rest).sum(1)) / (1 + (active * t * t).sum(1))",
        "the closed-form root of the exact wedge projection has a sign flipped: points outside a tipped "
        "wedge are projected to a wrong (not the nearest) point",
        (
            T + "test_boundaries.py::test_wedge_projection_matches_cvxpy[thetas0]",
            T + "test_boundaries.py::test_wedge_projection_matches_cvxpy[thetas1]",
        ),
    ),
    Mutation(
        "persistence-noise-scale",
        "lib/nngeom/adversarial_neighborhoods/persistence.py",
        "        scale = sigma[rows].view(-1, *([1] * len(feature_shape)))\n",
        "        scale = 1.05 * sigma[rows].view(-1, *([1] * len(feature_shape)))\n",
        "the stability sampler (input space) draws N(x, (1.05 sigma)^2 I): stabilities and persistences "
        "are off by 5 % in sigma",
        (
            T + "test_persistence.py::test_stability_matches_closed_form[1-0.5]",
            T + "test_persistence.py::test_stability_matches_closed_form[4-2.0]",
        ),
    ),
    Mutation(
        "persistence-first-layer-scale",
        "lib/nngeom/adversarial_neighborhoods/persistence.py",
        "rest(torch.addmm(pre[rows], sigma[rows].unsqueeze(1) * u, factor_t))",
        "rest(torch.addmm(pre[rows], 1.05 * sigma[rows].unsqueeze(1) * u, factor_t))",
        "the first-layer sampler (the fast path for MLPs) draws its pre-activation noise 5 % too wide",
        (
            T + "test_persistence.py::test_stability_of_a_linear_classifier_matches_the_half_space_formula[True]",
            T + "test_persistence.py::test_first_layer_sampling_resolves_a_5_percent_noise_scale",
        ),
    ),
    Mutation(
        "persistence-bracket-update",
        "lib/nngeom/adversarial_neighborhoods/persistence.py",
        "        lo[idx[above]] = mid[above]\n",
        "        hi[idx[above]] = mid[above]\n",
        "the bisection of Algorithm 1 moves the wrong end of the bracket when the midpoint is still "
        "stable, so the persistence search converges below the true persistence",
        (T + "test_persistence.py::test_persistence_is_batched_over_points",),
    ),
    Mutation(
        "attacks-target-ignored",
        "lib/nngeom/core/attacks.py",
        "        if targeted:\n            self._ta.set_mode_targeted_by_label(quiet=True)\n",
        "",
        "the torchattacks wrappers ignore targeted=True: the given target labels are treated as the true "
        "classes and the attack moves away from them instead of towards them",
        (T + "test_attacks.py::test_torchattacks_wrappers_contract[BIM-kw1]",),
    ),
    Mutation(
        "region-studies-class-mean",
        "lib/nngeom/linear_regions/studies.py",
        "        targets = means.to(dev)[other]\n",
        "        targets = means.to(dev)[pred]\n",
        "the decision-region target is the mean of the test point's own predicted class instead of another "
        "class's mean, so the segments do not head for another class's region",
        (T + "test_region_studies.py::test_decision_targets_are_means_of_other_classes",),
    ),
    Mutation(
        "polytope-rows-not-normalised",
        "lib/nngeom/solvers/polytope.py",
        "    return A[keep] / norms[keep, None], b[keep] / norms[keep]\n",
        "    return A[keep], b[keep]\n",
        "the inradius LP forgets to scale the rows to unit length, so slacks are not distances and the "
        "Chebyshev ball of a region with rows of unequal norms is wrong",
        (
            T + "test_polytope.py::test_chebyshev_ball_equals_the_whole_lp[0]",
            T + "test_polytope.py::test_chebyshev_ball_equals_the_whole_lp[1]",
        ),
    ),
    Mutation(
        "interior-point-upper-bound-sign",
        "lib/nngeom/solvers/interior_point.py",
        "        rd = grad - _rmv(C, z) - zl + zu\n",
        "        rd = grad - _rmv(C, z) - zl - zu\n",
        "the dual residual of the interior-point method has the upper-bound multipliers with the wrong "
        "sign: optima on an upper bound of the box are missed",
        (
            T + "test_class_regions.py::test_interior_point_solves_a_qp_like_scipy",
            T + "test_class_regions.py::test_interior_point_with_binding_upper_bounds_matches_cvxpy_and_highs",
        ),
    ),
    Mutation(
        "class-regions-hessian-sign",
        "lib/nngeom/linear_regions/class_regions.py",
        "return float(u[t] - others.max() - np.log(e.sum())), grad, -(np.diag(q) - np.outer(q, q))",
        "return float(u[t] - others.max() - np.log(e.sum())), grad, (np.diag(q) - np.outer(q, q))",
        "the Hessian of psi_t = z_t - LSE_{j != t} z_j has its sign flipped, so the Newton steps for x^t "
        "(eq. 6) use a concave model of a convex objective",
        (
            T + "test_class_regions.py::test_x_t_matches_cvxpy_exponential_cone[0]",
            T + "test_class_regions.py::test_x_t_matches_cvxpy_exponential_cone[1]",
        ),
    ),
    Mutation(
        "planar-crossing-wrong-end",
        "lib/nngeom/linear_regions/planar.py",
        "            cross = p + (vp / (vp - vq)) * (q - p)\n",
        "            cross = p + (vq / (vq - vp)) * (q - p)\n",
        "the depth-wise exclusion interpolates an edge's crossing with a unit's line from the wrong end, so "
        "the polygons of the plane regions are cut in the wrong places",
        (T + "test_planar.py::test_plane_regions_tile_the_rectangle_and_match_sampled_patterns[2-False]",),
    ),
    Mutation(
        "stats-wilson-half-width",
        "lib/nngeom/core/stats.py",
        "    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)\n",
        "    half = z * math.sqrt(p * (1 - p) / n) / (1 + z * z / n)\n",
        "the Wilson interval loses the z^2 / 4n^2 term of its half-width (a Wald width about the Wilson "
        "centre): too narrow for small n",
        (T + "test_stats.py::test_wilson_interval_hand_cases_and_large_n",),
    ),
    Mutation(
        "stats-mann-whitney-direction",
        "lib/nngeom/core/stats.py",
        "    p_claim = float(mannwhitneyu(a, b, alternative=claim).pvalue)\n",
        "    p_claim = float(mannwhitneyu(b, a, alternative=claim).pvalue)\n",
        "compare_samples tests the claimed direction with the samples swapped: 'a below b' is decided by "
        "the test of 'b below a'",
        (T + "test_stats.py::test_compare_samples_hand_case",),
    ),
    Mutation(
        "qp-one-row-inequalities-unchecked",
        "lib/nngeom/solvers/qp.py",
        "                ok &= r.amin(1) >= -tol * (1.0 + x[chunk].abs().amax(1))\n",
        "                ok &= r.amin(1) >= -float('inf')\n",
        "the one-row pass of the flip-point QPs accepts the projection onto the equality row without checking "
        "the other classes' rows, so flip points that enter a third class's cell are reported as boundary points",
        (
            T + "test_feature_space.py::test_flip_points_match_cvxpy_on_a_random_layer[daqp]",
            T + "test_feature_space.py::test_projections_match_cvxpy_and_meet_their_certificate[False-daqp]",
        ),
    ),
    Mutation(
        "hull-certificate-sign",
        "lib/nngeom/solvers/hull.py",
        "            reach = (P @ diff.T - (Y * diff).sum(1)[None, :]) / dist.clamp_min(1e-300)[None, :]\n",
        "            reach = -(P @ diff.T - (Y * diff).sum(1)[None, :]) / dist.clamp_min(1e-300)[None, :]\n",
        "Wolfe's optimality condition of the hull projection is tested with the sign flipped: the working set "
        "grows by the wrong points and answers of a too-small working set pass as certified",
        (T + "test_feature_space.py::test_hull_projection_matches_cvxpy_and_certifies_every_query",),
    ),
    Mutation(
        "transfer-failed-attacks-counted",
        "lib/nngeom/intriguing_properties/transfer.py",
        "    all_rows = {name: s.successful() for name, s in sets.items()}\n",
        "    all_rows = {name: (s.x_adv, s.y) for name, s in sets.items()}\n",
        "the transfer matrix counts every attacked image, also those whose attack failed on the source "
        "model, so the error rates (the diagonal included) are too low and n too large",
        (
            T + "test_intriguing.py::test_lbfgs_adversarials_and_transfer_matrix_contract",
            T + "test_attacks.py::test_transfer_matrix_counts_only_the_successful_adversarials",
        ),
    ),
    Mutation(
        "subgroup-wrong-end",
        "lib/nngeom/natural_image_spaces/subgroups.py",
        '    return pool[:k] if criterion in ("hc", "hi") else pool[len(pool) - k :]\n',
        '    return pool[:k] if criterion in ("hc", "li") else pool[len(pool) - k :]\n',
        "the low- and high-illusiveness subgroups swap ends of the ranking: every S_hi row of Table 1 trains on "
        "the least illusive samples and every S_li row on the most illusive",
        (
            T + "test_natural_image_spaces.py::test_table1_training_sets_follow_the_papers_rows",
            T + "test_natural_image_spaces.py::test_rankings_and_subgroups_have_equal_sizes_and_the_named_ends",
        ),
    ),
    Mutation(
        "confusion-lookup-to-confused-class",
        "lib/nngeom/natural_image_spaces/studies.py",
        "    lookup = torch.cat([torch.arange(n_classes), torch.tensor([t for t, _ in cells], dtype=torch.long)])\n",
        "    lookup = torch.cat([torch.arange(n_classes), torch.tensor([c for _, c in cells], dtype=torch.long)])\n",
        "the look-up table maps a new class back to the class its samples were confused with instead of their true "
        "class, so every answer of a new class is wrong",
        (T + "test_natural_image_spaces.py::test_confusion_slices_relabel_the_top_confusions_and_map_back",),
    ),
]

GUARD_PLUGIN = '''\
"""Loaded by tests/mutations.py into each pytest run: nngeom must come from the copy under test."""
import os

import pytest


def pytest_configure(config):
    import nngeom

    want = os.path.realpath(os.environ["NNGEOM_MUTATION_COPY"])
    got = os.path.realpath(nngeom.__file__)
    if not got.startswith(want + os.sep):
        raise pytest.UsageError(f"mutation guard: nngeom imported from {got}, not from the copy {want}")
'''


@dataclass
class Result:
    mutation: Mutation
    outcome: str  # killed, survived, stale, timeout, error
    seconds: float = 0.0
    failed: list[str] = field(default_factory=list)
    note: str = ""


def repo_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def make_copy(files: list[str], root: Path) -> Path:
    copy = root / "tree"
    for rel in files:
        src = REPO / rel
        if not src.is_file():  # deleted in the work tree but still tracked
            continue
        dst = copy / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return copy


def apply(m: Mutation, copy: Path) -> str:
    """Apply ``m`` in ``copy``; returns "" or why it is stale."""
    path = copy / m.file
    if not path.is_file():
        return f"{m.file} is missing"
    text = path.read_text()
    n = text.count(m.old)
    if n != 1:
        return f"old snippet occurs {n} times in {m.file}"
    path.write_text(text.replace(m.old, m.new))
    return ""


def run_pytest(copy: Path, root: Path, tests: list[str], timeout: float) -> tuple[str, float, list[str], str]:
    """Run ``tests`` in ``copy``: ``(outcome, seconds, failed node ids, output tail)``, outcome one of
    passed, failed, timeout, error."""
    guard = root / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "_nngeom_mutation_guard.py").write_text(GUARD_PLUGIN)
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(copy / "lib"), str(guard)]),
            "NNGEOM_MUTATION_COPY": str(copy),
            "NNGEOM_OFFLINE": "1",
            "NNGEOM_DEVICE": "cpu",
            "NNGEOM_CACHE": str(root / "model-cache"),  # never the real model cache
            "PYTHONDONTWRITEBYTECODE": "1",
            "TQDM_DISABLE": "1",
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "_nngeom_mutation_guard",
        "-o",
        "addopts=-ra",
        *tests,
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "timeout", time.perf_counter() - start, [], out[-3000:]
    seconds = time.perf_counter() - start
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.M)
    if proc.returncode == 0:
        return "passed", seconds, [], out[-3000:]
    if proc.returncode in (1, 2) and "mutation guard" not in out:  # 2: a collection error (e.g. an import broke)
        return "failed", seconds, failed or [f"pytest exit {proc.returncode}"], out[-3000:]
    return "error", seconds, failed, out[-3000:]


def check_import(copy: Path, root: Path) -> str:
    """The path ``import nngeom`` resolves to with the copy's PYTHONPATH (the same interpreter and cwd)."""
    env = dict(os.environ, PYTHONPATH=str(copy / "lib"), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, "-c", "import nngeom; print(nngeom.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return os.path.realpath(out)


def baseline(files: list[str], mutations: list[Mutation], timeout: float) -> None:
    tests = list(dict.fromkeys(t for m in mutations for t in m.tests))
    with tempfile.TemporaryDirectory(prefix="nngeom-mutation-baseline-") as tmp:
        root = Path(tmp)
        copy = make_copy(files, root)
        where = check_import(copy, root)
        if not where.startswith(os.path.realpath(copy) + os.sep):
            sys.exit(
                f"baseline: with PYTHONPATH=<copy>/lib, nngeom is imported from {where}, not from the copy; "
                "the mutation check cannot run"
            )
        print(
            f"baseline: nngeom imports from the copy ({Path(where).relative_to(os.path.realpath(copy))}); "
            f"running {len(tests)} tests on the unmutated copy ...",
            flush=True,
        )
        outcome, seconds, failed, tail = run_pytest(copy, root, tests, timeout * max(1, len(mutations)))
    if outcome != "passed":
        print(tail)
        print(
            f"\nbaseline FAILED ({outcome}) in {seconds:.0f} s: the selections do not pass on the unmutated tree"
            + (f": {', '.join(failed)}" if failed else "")
            + ". Fix the tests or the code first.",
            file=sys.stderr,
        )
        sys.exit(2)
    print(f"baseline: all {len(tests)} tests pass ({seconds:.0f} s)\n", flush=True)


def run_one(files: list[str], m: Mutation, timeout: float, verbose: bool) -> Result:
    with tempfile.TemporaryDirectory(prefix=f"nngeom-mutation-{m.id}-") as tmp:
        root = Path(tmp)
        copy = make_copy(files, root)
        why = apply(m, copy)
        if why:
            return Result(m, "stale", note=why)
        outcome, seconds, failed, tail = run_pytest(copy, root, list(m.tests), timeout)
    if verbose or outcome == "error":
        print(tail)
    kind = {"passed": "survived", "failed": "killed"}.get(outcome, outcome)
    return Result(m, kind, seconds, failed)


def short(node: str) -> str:
    return node.split("/", 1)[1] if node.startswith("tests/") else node


def table(results: list[Result], markdown: bool) -> str:
    head = ["mutation", "file", "result", "killed by", "s"]
    rows = []
    for r in results:
        tick = "`" if markdown else ""
        who = ", ".join(f"{tick}{short(f)}{tick}" for f in r.failed) if r.outcome == "killed" else (r.note or "-")
        rows.append([r.mutation.id, r.mutation.file.replace("lib/nngeom/", ""), r.outcome, who, f"{r.seconds:.0f}"])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += [
            "| " + " | ".join(f"`{c}`" if i in (0, 1) else c.replace("|", "\\|") for i, c in enumerate(row)) + " |"
            for row in rows
        ]
        lines += ["", "What each mutation breaks:", ""]
        lines += [f"- `{r.mutation.id}`: {r.mutation.breaks}." for r in results]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {:>" + str(widths[-1]) + "}"
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*row) for row in rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", action="append", metavar="ID", help="run only this mutation (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the mutations and their tests, run nothing")
    ap.add_argument("--markdown", metavar="FILE", help="also write the result table as Markdown to FILE")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutation's pytest run (default 300)")
    ap.add_argument("--skip-baseline", action="store_true", help="do not run the selections on an unmutated copy first")
    ap.add_argument("-v", "--verbose", action="store_true", help="print pytest's output for every mutation")
    args = ap.parse_args(argv)

    ids = [m.id for m in MUTATIONS]
    assert len(set(ids)) == len(ids), "mutation ids must be unique"
    chosen = MUTATIONS
    if args.only:
        unknown = sorted(set(args.only) - set(ids))
        if unknown:
            ap.error(f"unknown mutation id(s) {unknown}; --list shows them")
        chosen = [m for m in MUTATIONS if m.id in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.id}  ({m.file})\n    breaks: {m.breaks}\n    tests:  " + "\n            ".join(m.tests) + "\n")
        return 0

    start = time.perf_counter()
    files = repo_files()
    if not args.skip_baseline:
        baseline(files, chosen, args.timeout)
    results = []
    for m in chosen:
        print(f"{m.id} ...", end=" ", flush=True)
        r = run_one(files, m, args.timeout, args.verbose)
        print(f"{r.outcome} ({r.seconds:.0f} s)" + (f": {r.note}" if r.note else ""), flush=True)
        results.append(r)
    total = time.perf_counter() - start
    print()
    print(table(results, markdown=False))
    killed = sum(r.outcome == "killed" for r in results)
    print(f"\n{killed} of {len(results)} mutations killed; {total / 60:.1f} min in all")
    if args.markdown:
        out = Path(args.markdown)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table(results, markdown=True) + f"\n{killed} of {len(results)} mutations killed.\n")
        print(f"wrote {out}")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
