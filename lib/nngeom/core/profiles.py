"""The profiles: ``profiles/<name>.yaml`` gives, per scale (``smoke`` / ``default`` / ``paper``), each
notebook's parameters and models, and the zoo's training overrides. Read by the zoo (its overrides) and by
the book's runner (the notebooks' parameters)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from nngeom.core.validation import ParameterError

__all__ = ["REPO_ROOT", "profile_dir", "profile_names", "load_profile"]

# The repository root when the package is installed in editable mode from a checkout (the book's way).
REPO_ROOT = Path(__file__).resolve().parents[3]


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
        raise ParameterError(
            f"parameter 'profile' must be one of {profile_names()} (files in {profile_dir()}); got {name!r}"
        )
    cfg = yaml.safe_load(path.read_text()) or {}
    cfg.setdefault("name", name)
    return cfg
