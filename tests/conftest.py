"""Shared test set-up: offline, CPU, quiet; caches in a per-session temporary directory unless CI set them."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("NNGEOM_OFFLINE", "1")
os.environ.setdefault("NNGEOM_DEVICE", "cpu")


@pytest.fixture()
def tmp_model_cache(tmp_path, monkeypatch):
    """A fresh, empty zoo cache."""
    monkeypatch.setenv("NNGEOM_CACHE", str(tmp_path / "models"))
    return tmp_path / "models"
