"""Running a book notebook with papermill.

Every notebook is a jupytext percent-format ``.py`` file with a cell tagged ``parameters``. It always
declares ``profile`` and ``metrics_path``; the rest are its own knobs. A profile
(``profiles/<name>.yaml``) gives, for each notebook, the parameter values of that scale
(``smoke`` / ``default`` / ``paper``) and the zoo models it needs.

:func:`run` converts the ``.py`` to a notebook, checks the parameters against the ones the notebook
declares, executes it with papermill and moves the result into place atomically. Command line::

    python -m nngeom.book.notebook run notebooks/adversarial_neighborhoods/01_persistence_theory.py \\
        --profile default --output /tmp/out.ipynb -p n_points 200

A page that stops with an error fails well: its partly executed notebook is kept under
``_build/failed/<profile>/<key>.ipynb`` and the failing cell and its traceback are printed. With
``--record-failure`` (what the workflow passes) the runner also writes a failure record in place of the
page's metrics (the scoreboard shows the page's items as *failed*) and stages the partial notebook, then
exits 0 so that the workflow goes on with every other page; ``python -m nngeom.book.notebook failures
--profile P`` lists the failed pages afterwards and exits non-zero if there are any (``make book`` ends
with it).

:func:`check_parameters` runs only the part of a page that checks its parameters, so that a bad value in a
profile is found in seconds and not after hours of computing (``python -m nngeom.book.notebook check
--profile paper`` checks every page of a profile).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import io
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from nngeom.core.io import atomic_path, atomic_write_json
from nngeom.core.profiles import REPO_ROOT, load_profile
from nngeom.core.validation import ParameterError

__all__ = [
    "start_page",
    "notebook_config",
    "notebook_key",
    "run",
    "check_parameters",
    "header",
    "NotebookFailed",
    "failed_dir",
    "failures",
]

# Parameters every notebook declares; the runner fills them in.
COMMON_PARAMETERS = ("profile", "metrics_path")


def notebook_key(path: os.PathLike | str) -> str:
    """A notebook's key in the profiles: its path from the repository root without suffix.

    ``notebooks/adversarial_neighborhoods/01_x.py`` → ``notebooks/adversarial_neighborhoods/01_x``. The
    executed notebook is staged for the book at the same path with ``.ipynb``.
    """
    p = Path(path).resolve()
    try:
        rel = p.relative_to(REPO_ROOT)
    except ValueError:
        rel = Path(path)
    return rel.with_suffix("").as_posix()


def notebook_config(profile: str, key: str) -> dict[str, Any]:
    """``{'parameters': {...}, 'models': [...]}`` of notebook ``key`` in ``profile``."""
    cfg = load_profile(profile)
    nbs = cfg.get("notebooks", {}) or {}
    if key not in nbs:
        raise ParameterError(f"profile {profile!r} has no entry for notebook {key!r}; it configures: {sorted(nbs)}")
    entry = nbs[key] or {}
    return {"parameters": dict(entry.get("parameters", {}) or {}), "models": list(entry.get("models", []) or [])}


def failed_dir(profile: str) -> Path:
    """Where the partly executed notebooks and failure records of ``profile`` are kept."""
    return REPO_ROOT / "_build" / "failed" / profile


class NotebookFailed(RuntimeError):
    """A cell of a page raised. Carries the cell, its traceback and where the partial notebook was kept."""

    def __init__(
        self,
        key: str,
        ename: str,
        evalue: str,
        cell_index: int,
        source: str,
        traceback: list[str],
        partial: Path | None,
    ) -> None:
        self.key, self.ename, self.evalue = key, ename, evalue
        self.cell_index, self.source, self.traceback, self.partial = cell_index, source, traceback, partial
        super().__init__(f"notebook {key} failed in cell {cell_index}: {ename}: {evalue}")

    def report(self) -> str:
        """The failing cell and its traceback, as plain text (ANSI colours removed)."""
        tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(self.traceback))
        kept = f"\npartly executed notebook kept at {self.partial}" if self.partial else ""
        return f"=== {self} ===\n--- cell {self.cell_index} ---\n{self.source}\n--- traceback ---\n{tb}{kept}"


def _inventory_ids_in(src: Path) -> list[str]:
    """The inventory ids a page's source names: the items a failure of that page leaves without a result."""
    from nngeom.book.report import inventory

    text = src.read_text(encoding="utf-8")
    return [it["id"] for it in inventory() if re.search(rf"[\"']{re.escape(it['id'])}[\"']", text)]


def failures(profile: str) -> list[dict[str, Any]]:
    """The failure records of ``profile`` (one per page whose last run failed)."""
    return [json.loads(p.read_text()) for p in sorted(failed_dir(profile).rglob("*.json"))]


def _declared_parameters(ipynb: Path) -> dict[str, Any]:
    import papermill

    return papermill.inspect_notebook(str(ipynb))


def _page_parameters(
    notebook: os.PathLike | str, profile: str, parameters: dict[str, Any] | None
) -> tuple[Path, str, dict[str, Any]]:
    """A page's source, key and parameters: the profile's values for it, then ``parameters``."""
    src = Path(notebook)
    if not src.exists():
        raise FileNotFoundError(f"notebook {src} does not exist")
    key = notebook_key(src)
    params: dict[str, Any] = notebook_config(profile, key)["parameters"]
    params.update(parameters or {})
    return src, key, params


def run(
    notebook: os.PathLike | str,
    profile: str,
    output: os.PathLike | str,
    metrics_path: os.PathLike | str,
    parameters: dict[str, Any] | None = None,
    kernel_name: str = "python3",
    log_output: bool = False,
    keep_failed: os.PathLike | str | None = None,
) -> Path:
    """Execute ``notebook`` (a jupytext ``.py`` or an ``.ipynb``) at ``profile`` into ``output``.

    Parameters are the profile's values for this notebook, then ``parameters``. A parameter the notebook
    does not declare is an error (papermill alone would only warn). The executed notebook appears at
    ``output`` only if every cell ran; if a cell raises, :class:`NotebookFailed` is raised and the
    partly executed notebook is kept at ``keep_failed`` (a path) when given.
    """
    import jupytext
    import papermill

    src, key, params = _page_parameters(notebook, profile, parameters)
    params["profile"] = profile
    params["metrics_path"] = str(Path(metrics_path).resolve())

    with tempfile.TemporaryDirectory(prefix="nngeom-nb-") as tmp:
        ipynb = Path(tmp) / (src.stem + ".ipynb")
        nb = jupytext.read(src)
        nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3", "language": "python"}
        jupytext.write(nb, ipynb)
        declared = _declared_parameters(ipynb)
        if not declared:
            raise ParameterError(f"notebook {src} has no cell tagged 'parameters'")
        missing = [p for p in COMMON_PARAMETERS if p not in declared]
        if missing:
            raise ParameterError(f"notebook {src} must declare {missing} in its parameters cell")
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise ParameterError(f"unknown parameter(s) {unknown} for notebook {key}; it declares: {sorted(declared)}")
        from papermill.exceptions import PapermillExecutionError

        with atomic_path(output) as tmp_out:
            try:
                papermill.execute_notebook(
                    str(ipynb),
                    str(tmp_out),
                    parameters=params,
                    kernel_name=kernel_name,
                    cwd=str(src.resolve().parent),
                    progress_bar=False,
                    log_output=log_output,
                    report_mode=False,
                )
            except PapermillExecutionError as exc:
                partial = None
                if keep_failed is not None and tmp_out.exists():
                    partial = Path(keep_failed)
                    with atomic_path(partial) as tmp_keep:
                        shutil.copyfile(tmp_out, tmp_keep)
                raise NotebookFailed(
                    key, exc.ename, exc.evalue, exc.cell_index, exc.source, list(exc.traceback), partial
                ) from exc
            _tidy_outputs(tmp_out)
    return Path(output)


class _ParametersChecked(Exception):
    """Raised in place of a page's header while :func:`check_parameters` runs the page."""


# Parameters the workflow fills in with its own folders (the scoreboard's and the build report's inputs).
WORKFLOW_FOLDERS = ("metrics_dir", "benchmark_dir")


def check_parameters(notebook: os.PathLike | str, profile: str, parameters: dict[str, Any] | None = None) -> None:
    """Check a page's parameters at ``profile`` (then ``parameters``) without running the page.

    Every page checks its parameters first and then shows its provenance :func:`header` (directly or in
    :func:`start_page`), before it loads a model or computes anything. So the page's parameters cell runs,
    the values are set as papermill would set them, and its code cells run in this process until the
    header is about to be shown: a bad value raises what the page raises (a
    :class:`~nngeom.core.validation.ParameterError` or ``ValueError`` naming the parameter), as it would in
    the first seconds of a real run. A parameter the page does not declare is a
    :class:`~nngeom.core.validation.ParameterError`; the folders the workflow hands to the scoreboard and
    the build report (``WORKFLOW_FOLDERS``) are an empty temporary folder unless given. A page that
    never shows its header is a ``RuntimeError`` (its checks cannot be told apart from its work).
    """
    import jupytext

    src, key, params = _page_parameters(notebook, profile, parameters)
    cells = [c for c in jupytext.read(src).cells if c.cell_type == "code"]
    first = next((i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])), None)
    if first is None:
        raise ParameterError(f"notebook {src} has no cell tagged 'parameters'")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(cells[first].source, f"{key} (parameters)", "exec"), namespace)
    declared = {k for k in namespace if not k.startswith("__")}
    unknown = sorted(set(params) - declared)
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown} for notebook {key}; it declares: {sorted(declared)}")
    namespace.update(params, profile=profile, metrics_path="")

    def stop(*args: Any, **kwargs: Any) -> None:
        raise _ParametersChecked

    import nngeom.book.notebook as module  # the imported module, also when this file runs as __main__

    shown = module.header
    with tempfile.TemporaryDirectory(prefix="nngeom-check-") as tmp, contextlib.redirect_stdout(io.StringIO()):
        for name in WORKFLOW_FOLDERS:
            if name in declared and name not in params:
                namespace[name] = tmp
        module.header = stop  # type: ignore[assignment]
        try:
            for i, cell in enumerate(cells[first + 1 :], start=first + 1):
                exec(compile(cell.source, f"{key} (cell {i})", "exec"), namespace)
        except _ParametersChecked:
            return
        finally:
            module.header = shown  # type: ignore[assignment]
    raise RuntimeError(f"notebook {key} ran to its end without showing its header: its checks could not be isolated")


# Cells whose code a reader need not see first: the parameters, the values the workflow injected. The book
# collapses their input (Jupyter Book's hide-input); outputs stay visible.
COLLAPSED_TAGS = ("parameters", "injected-parameters")


def terminal_text(text: str) -> str:
    """``text`` as a terminal would show it once printed: each carriage return moves back to the start of
    its line and what follows overwrites it, and a line overwritten with blanks (a progress bar cleared on
    closing) is dropped. A progress bar's thousands of updates thus become its final line."""
    lines = []
    for line in text.split("\n"):
        if "\r" not in line:
            lines.append(line)
            continue
        shown: list[str] = []
        for part in line.split("\r"):
            shown[: len(part)] = part
        resolved = "".join(shown).rstrip()
        if resolved:
            lines.append(resolved)
    return "\n".join(lines)


def _tidy_outputs(ipynb: Path) -> None:
    """Collapse the boilerplate cells' input and store each cell's streams as a terminal shows them: one
    output per stream in a row, progress bars at their final state (the executed notebook stays small and
    the page shows one line per bar, with its time, not every update)."""
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t in COLLAPSED_TAGS for t in tags) and "hide-input" not in tags:
            tags.append("hide-input")
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and outputs and outputs[-1].get("output_type") == "stream" \
                    and outputs[-1].get("name") == out.get("name"):  # fmt: skip
                outputs[-1]["text"] += out["text"]
            else:
                outputs.append(out)
        for out in outputs:
            if out.get("output_type") == "stream":
                out["text"] = terminal_text(out["text"])
        if "outputs" in cell:
            cell["outputs"] = [o for o in outputs if o.get("output_type") != "stream" or o["text"].strip()]
    nbformat.write(nb, str(ipynb))


def start_page(key: str, profile: str, metrics_path: str, *, seed: int, device: str, data: str):
    """The common opening of a page: check ``seed`` and ``device``, seed torch, set the plot style, create
    the page's :class:`~nngeom.book.report.Metrics` and show the provenance header. Returns ``(device, metrics)``.
    """
    import torch
    from IPython.display import display

    from nngeom.book.plotting import style
    from nngeom.book.report import Metrics
    from nngeom.core.device import resolve_device
    from nngeom.core.validation import check_choice, check_nonnegative_int

    check_nonnegative_int("seed", seed)
    check_choice("device", device, ["auto", "cpu", "cuda"])
    dev = resolve_device(device)
    torch.manual_seed(seed)
    style()
    metrics = Metrics(key, profile, metrics_path or None)
    display(header(profile, data=data, device=str(dev)))
    return dev, metrics


def header(profile: str, data: str, device: str | None = None, extra: dict[str, Any] | None = None):
    """A one-line provenance note for the top of a page: profile, data set, device, library version."""
    from IPython.display import Markdown

    import nngeom
    from nngeom.core.device import resolve_device

    dev = str(resolve_device(device)) if device != "none" else "n/a"
    parts = [
        f"**Profile:** `{profile}`",
        f"**Data:** {data}",
        f"**Device:** `{dev}`",
        f"**nngeom** {nngeom.__version__}",
        f"**Run:** {_dt.date.today().isoformat()}",
    ]
    for k, v in (extra or {}).items():
        parts.append(f"**{k}:** {v}")
    return Markdown(" · ".join(parts))


def _parse_value(text: str) -> Any:
    """``-p name value`` values are YAML scalars or lists, as in papermill (``-p n 5``, ``-p ks [1,2]``)."""
    return yaml.safe_load(text)


def _record_failure(exc: NotebookFailed, src: Path, profile: str, output: Path, metrics: Path, where: Path) -> Path:
    """Stage the partial notebook and write the failure record in place of the page's metrics."""
    record = {
        "notebook": exc.key,
        "profile": profile,
        "values": {},
        "items": {},
        "failed": {
            "error": f"{exc.ename}: {exc.evalue}",
            "cell": exc.cell_index,
            "items": _inventory_ids_in(src),
            "partial_notebook": str(exc.partial) if exc.partial else "",
        },
    }
    if exc.partial is not None:
        with atomic_path(output) as tmp:
            shutil.copyfile(exc.partial, tmp)
    atomic_write_json(where / f"{exc.key}.json", record)
    return atomic_write_json(metrics, record)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nngeom.book.notebook", description="Run a book notebook with papermill."
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute one notebook at a profile")
    r.add_argument("notebook")
    r.add_argument("--profile", default="default")
    r.add_argument("--output", required=True)
    r.add_argument("--metrics", required=True, help="where the notebook writes its metrics.json")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    r.add_argument("--log-output", action="store_true", help="stream the notebook's output")
    r.add_argument(
        "--record-failure",
        action="store_true",
        help="on a failing cell, stage the partial notebook, write a failure record as the metrics and exit 0",
    )
    c = sub.add_parser("check", help="check the parameters of pages at a profile without running them")
    c.add_argument("notebooks", nargs="*", help="page sources (.py); default: every page the profile configures")
    c.add_argument("--profile", default="default")
    f = sub.add_parser("failures", help="list the pages whose last run at a profile failed; exit 1 if any")
    f.add_argument("--profile", default="default")
    for p in (r, f):
        p.add_argument("--failed-dir", default=None, help="where failures are kept (default _build/failed/<profile>)")
    args = parser.parse_args(argv)
    if args.cmd == "check":
        pages = args.notebooks or [REPO_ROOT / f"{k}.py" for k in load_profile(args.profile)["notebooks"]]
        bad = 0
        for page in pages:
            try:
                check_parameters(page, args.profile)
            except Exception as exc:  # report every page's problem, not only the first
                bad += 1
                print(f"{notebook_key(page)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"{len(pages) - bad} of {len(pages)} pages accept their parameters at profile {args.profile!r}")
        return 1 if bad else 0
    where = Path(args.failed_dir) if args.failed_dir else failed_dir(args.profile)
    if args.cmd == "failures":
        failed = [json.loads(p.read_text()) for p in sorted(where.rglob("*.json"))]
        for rec in failed:
            info = rec["failed"]
            print(
                f"FAILED {rec['notebook']} (cell {info['cell']}): {info['error']}\n"
                f"  partial notebook: {info['partial_notebook']}\n  items left without a result: "
                f"{', '.join(info['items']) or 'none'}",
                file=sys.stderr,
            )
        if failed:
            print(
                f"{len(failed)} page(s) failed at profile {args.profile!r}; every other page was built.",
                file=sys.stderr,
            )
        return 1 if failed else 0
    params = {name: _parse_value(value) for name, value in args.parameter}
    src = Path(args.notebook)
    key = notebook_key(src)
    marker = where / f"{key}.json"
    try:
        run(
            args.notebook,
            args.profile,
            args.output,
            args.metrics,
            params,
            log_output=args.log_output,
            keep_failed=where / f"{key}.ipynb",
        )
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NotebookFailed as exc:
        print(exc.report(), file=sys.stderr)
        if args.record_failure:
            _record_failure(exc, src, args.profile, Path(args.output), Path(args.metrics), where)
            print(f"recorded the failure of {key}; the workflow goes on with the other pages", file=sys.stderr)
            return 0
        return 1
    marker.unlink(missing_ok=True)  # a page that ran again and passed is no longer failed
    print(json.dumps({"notebook": args.notebook, "profile": args.profile, "output": args.output}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
