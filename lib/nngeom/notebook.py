"""Profiles, and running a book notebook with papermill.

Every notebook is a jupytext percent-format ``.py`` file with a cell tagged ``parameters``. It always
declares ``profile`` and ``metrics_path``; the rest are its own knobs. A profile
(``profiles/<name>.yaml``) gives, for each notebook, the parameter values of that scale
(``smoke`` / ``default`` / ``paper``) and the zoo models it needs.

:func:`run` converts the ``.py`` to a notebook, checks the parameters against the ones the notebook
declares, executes it with papermill and moves the result into place atomically. Command line::

    python -m nngeom.notebook run notebooks/adversarial_neighborhoods/01_persistence_theory.py \\
        --profile default --output /tmp/out.ipynb -p n_points 200
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import yaml

from nngeom.io import atomic_path
from nngeom.validation import ParameterError

__all__ = [
    "start_page",
    "REPO_ROOT",
    "profile_dir",
    "profile_names",
    "load_profile",
    "notebook_config",
    "notebook_key",
    "run",
    "header",
]

# The repository root when the package is installed in editable mode from a checkout (the book's way).
REPO_ROOT = Path(__file__).resolve().parents[2]

# Parameters every notebook declares; the runner fills them in.
COMMON_PARAMETERS = ("profile", "metrics_path")


def profile_dir() -> Path:
    """``NNGEOM_PROFILES`` if set, else ``profiles/`` of the checkout."""
    env = os.environ.get("NNGEOM_PROFILES")
    return Path(env) if env else REPO_ROOT / "profiles"


def profile_names() -> list[str]:
    return sorted(p.stem for p in profile_dir().glob("*.yaml"))


def load_profile(name: str) -> dict[str, Any]:
    """The parsed profile ``name`` (``smoke``, ``default`` or ``paper``)."""
    path = profile_dir() / f"{name}.yaml"
    if not path.exists():
        raise ParameterError(f"parameter 'profile' must be one of {profile_names()} (files in {profile_dir()}); got {name!r}")
    cfg = yaml.safe_load(path.read_text()) or {}
    cfg.setdefault("name", name)
    return cfg


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


def _declared_parameters(ipynb: Path) -> dict[str, Any]:
    import papermill

    return papermill.inspect_notebook(str(ipynb))


def run(
    notebook: os.PathLike | str,
    profile: str,
    output: os.PathLike | str,
    metrics_path: os.PathLike | str,
    parameters: Optional[dict[str, Any]] = None,
    kernel_name: str = "python3",
    log_output: bool = False,
) -> Path:
    """Execute ``notebook`` (a jupytext ``.py`` or an ``.ipynb``) at ``profile`` into ``output``.

    Parameters are the profile's values for this notebook, then ``parameters``. A parameter the notebook
    does not declare is an error (papermill alone would only warn). The executed notebook appears at
    ``output`` only if every cell ran.
    """
    import jupytext
    import papermill

    src = Path(notebook)
    if not src.exists():
        raise FileNotFoundError(f"notebook {src} does not exist")
    key = notebook_key(src)
    params: dict[str, Any] = notebook_config(profile, key)["parameters"]
    params.update(parameters or {})
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
            raise ParameterError(
                f"unknown parameter(s) {unknown} for notebook {key}; it declares: {sorted(declared)}"
            )
        with atomic_path(output) as tmp_out:
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
    return Path(output)


def start_page(key: str, profile: str, metrics_path: str, *, seed: int, device: str, data: str):
    """The common opening of a page: check ``seed`` and ``device``, seed torch, set the plot style, create
    the page's :class:`~nngeom.report.Metrics` and show the provenance header. Returns ``(device, metrics)``.
    """
    import torch
    from IPython.display import display

    from nngeom.device import resolve_device
    from nngeom.plotting import style
    from nngeom.report import Metrics
    from nngeom.validation import check_choice, check_nonnegative_int

    check_nonnegative_int("seed", seed)
    check_choice("device", device, ["auto", "cpu", "cuda"])
    dev = resolve_device(device)
    torch.manual_seed(seed)
    style()
    metrics = Metrics(key, profile, metrics_path or None)
    display(header(profile, data=data, device=str(dev)))
    return dev, metrics


def header(profile: str, data: str, device: Optional[str] = None, extra: Optional[dict[str, Any]] = None):
    """A one-line provenance note for the top of a page: profile, data set, device, library version."""
    from IPython.display import Markdown

    import nngeom
    from nngeom.device import resolve_device

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


def _main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nngeom.notebook", description="Run a book notebook with papermill.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute one notebook at a profile")
    r.add_argument("notebook")
    r.add_argument("--profile", default="default")
    r.add_argument("--output", required=True)
    r.add_argument("--metrics", required=True, help="where the notebook writes its metrics.json")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    r.add_argument("--log-output", action="store_true", help="stream the notebook's output")
    args = parser.parse_args(argv)
    params = {name: _parse_value(value) for name, value in args.parameter}
    try:
        run(args.notebook, args.profile, args.output, args.metrics, params, log_output=args.log_output)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # papermill's execution error carries the failing cell's message
        name = type(exc).__name__
        if name == "PapermillExecutionError":
            print(f"error: notebook {args.notebook} failed: {getattr(exc, 'ename', '')}: {getattr(exc, 'evalue', '')}", file=sys.stderr)
            return 1
        raise
    print(json.dumps({"notebook": args.notebook, "profile": args.profile, "output": args.output}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
