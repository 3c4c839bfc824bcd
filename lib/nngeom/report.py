"""Paper-vs-here tables, computed verdicts, and each notebook's ``metrics.json``.

The papers' numbers live in ``nngeom/reference/<PAPER>.yaml`` keyed by inventory id (``ANX-F8``), with
the claims each item supports. A notebook computes its own numbers, decides each claim with an explicit
comparison (``holds = bool(...)``), and records everything in a :class:`Metrics` object, which

* glues every value for the page's prose (myst-nb ``glue``), and
* writes ``metrics.json`` (atomically) for the regression tests and the scoreboard.

A verdict is never typed by hand: :meth:`Metrics.claim` takes the boolean the notebook computed and the
numbers it was computed from.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import yaml

from nngeom.io import atomic_write_json

__all__ = [
    "STATUSES",
    "reference",
    "inventory",
    "paper_value",
    "Verdict",
    "Metrics",
    "comparison_table",
    "verdict_markdown",
    "load_metrics",
]

STATUSES = ("reproduced", "partial", "needs data", "not started")


@functools.lru_cache(maxsize=None)
def _yaml(name: str) -> Any:
    text = resources.files("nngeom.reference").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def reference(paper: str) -> dict[str, Any]:
    """The paper's numbers and claims, keyed by inventory id (``reference('ANX')['ANX-F8']``)."""
    try:
        return _yaml(f"{paper}.yaml")
    except FileNotFoundError:
        raise ValueError(f"no reference numbers for paper {paper!r} (expected nngeom/reference/{paper}.yaml)") from None


def inventory() -> list[dict[str, Any]]:
    """Every table and figure of the five papers, in the inventory's order."""
    return list(_yaml("inventory.yaml")["items"])


def _item(item_id: str) -> dict[str, Any]:
    paper = item_id.split("-", 1)[0]
    ref = reference(paper)
    if item_id not in ref:
        raise KeyError(f"{item_id} has no entry in nngeom/reference/{paper}.yaml")
    return ref[item_id]


def paper_value(item_id: str, key: str) -> float:
    """A number the paper states for an item, e.g. ``paper_value('ANX-F8', 'persistence_k1_d1_gamma07')``."""
    values = _item(item_id).get("values", {}) or {}
    if key not in values:
        raise KeyError(f"{item_id} states no value {key!r}; it has: {sorted(values)}")
    v = values[key]
    return float(v["value"] if isinstance(v, dict) else v)


def _claim_text(item_id: str, claim_id: str) -> str:
    for c in _item(item_id).get("claims", []) or []:
        if c.get("id") == claim_id:
            return str(c["text"])
    raise KeyError(f"{item_id} has no claim {claim_id!r} in its reference file")


@dataclass
class Verdict:
    item: str
    claim: str
    text: str
    holds: bool
    evidence: str

    def line(self) -> str:
        mark = "holds here" if self.holds else "does NOT hold here"
        return f"**{self.item}** — {self.text}: **{mark}** ({self.evidence})"


def verdict_markdown(verdicts: Iterable[Verdict]):
    """A Markdown list of verdicts, for display in a notebook."""
    from IPython.display import Markdown

    return Markdown("\n".join(f"- {v.line()}" for v in verdicts))


def comparison_table(rows: Sequence[dict[str, Any]]):
    """A "paper vs here" table: rows of ``{'quantity', 'paper', 'here'}`` (+ any extra columns).

    Adds the relative difference ``(here - paper) / |paper|`` where both are numbers.
    """
    import pandas as pd

    df = pd.DataFrame(list(rows))
    for col in ("quantity", "paper", "here"):
        if col not in df.columns:
            raise ValueError(f"comparison_table rows need a {col!r} entry")

    def rel(r: Any) -> Optional[float]:
        try:
            p, h = float(r["paper"]), float(r["here"])
        except (TypeError, ValueError):
            return None
        return (h - p) / abs(p) if p != 0 and math.isfinite(p) and math.isfinite(h) else None

    df["relative difference"] = df.apply(rel, axis=1)
    return df.set_index("quantity")


class Metrics:
    """Collects a notebook's numbers, item statuses and verdicts; writes ``metrics.json``.

    Example (in a notebook):
        >>> m = Metrics("adversarial_neighborhoods/01_persistence_theory", profile, metrics_path)
        >>> m.value("f8_k1_estimate", 1.903)                       # glued as ``f8_k1_estimate``
        >>> m.claim("ANX-F8", "persistence_decreases_with_k", holds=bool(ok), evidence="...")
        >>> m.item("ANX-F8", "reproduced", data="none")
        >>> m.save()
    """

    def __init__(self, notebook: str, profile: str, path: Optional[os.PathLike | str], glue: bool = True) -> None:
        self.notebook = notebook
        self.profile = profile
        self.path = Path(path) if path else None
        self.glue = glue
        self.values: dict[str, Any] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.verdicts: list[Verdict] = []

    def value(self, name: str, value: Any, glue: Optional[bool] = None) -> Any:
        """Record ``value`` under ``name``; glue it for the prose unless ``glue=False``."""
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        self.values[name] = value
        if self.glue if glue is None else glue:
            try:
                from myst_nb import glue as _glue

                _glue(name, value, display=False)
            except ImportError:  # outside the book's environment the numbers are still recorded
                pass
        return value

    def claim(self, item_id: str, claim_id: str, holds: bool, evidence: str) -> Verdict:
        """Record the verdict on a claim of the reference file; ``holds`` is the notebook's computed test."""
        if not isinstance(holds, bool):
            raise TypeError("holds must be a bool computed from the numbers (use bool(...))")
        v = Verdict(item_id, claim_id, _claim_text(item_id, claim_id), holds, evidence)
        self.verdicts.append(v)
        return v

    def item(self, item_id: str, status: str, data: str, note: str = "") -> None:
        """Set the scoreboard status of an inventory item reproduced (or not) by this notebook."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        known = {it["id"] for it in inventory()}
        if item_id not in known:
            raise ValueError(f"{item_id!r} is not an inventory id")
        self.items[item_id] = {"status": status, "data": data, "note": note}

    def as_dict(self) -> dict[str, Any]:
        items = {k: dict(v, verdicts=[asdict(x) for x in self.verdicts if x.item == k]) for k, v in self.items.items()}
        return {"notebook": self.notebook, "profile": self.profile, "values": self.values, "items": items}

    def save(self) -> Optional[Path]:
        if self.path is None:
            return None
        stray = {v.item for v in self.verdicts} - set(self.items)
        if stray:
            raise ValueError(f"verdicts recorded for items without a status: {sorted(stray)}")
        return atomic_write_json(self.path, self.as_dict())


def load_metrics(directory: os.PathLike | str) -> list[dict[str, Any]]:
    """Every ``*.json`` metrics file under ``directory`` (one per executed notebook)."""
    out = []
    for p in sorted(Path(directory).rglob("*.json")):
        out.append(json.loads(p.read_text()))
    return out
