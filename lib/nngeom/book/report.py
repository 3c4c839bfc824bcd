"""Paper-vs-here tables, computed verdicts, and each notebook's ``metrics.json``.

The papers' numbers live in ``nngeom/book/reference/<PAPER>.yaml`` keyed by inventory id (``ANX-F8``), with
the claims each item supports and the counts (``scale``) the paper ran it at. A notebook computes its own
numbers, decides each claim with a test from :mod:`nngeom.core.stats` (three outcomes: holds, does not hold,
undecided) or, for a deterministic check, a computed bool, records for each item the data set, its scale
and its gaps, and keeps everything in a :class:`Metrics` object, which

* glues every value for the page's prose (myst-nb ``glue``), and
* writes ``metrics.json`` (atomically) for the regression tests and the scoreboard.

A verdict is never typed by hand: :meth:`Metrics.claim` takes the decision the notebook computed and the
numbers it was computed from. An item's status is never typed either: :func:`item_status` derives it from
what the page recorded, and :func:`scoreboard_rows` builds the scoreboard from every page's metrics.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nngeom.book import reference as reference_files  # the package holding the papers' numbers (yaml)
from nngeom.core.io import atomic_write_json

__all__ = [
    "STATUSES",
    "DATASETS",
    "reference",
    "paper_scale",
    "item_status",
    "scoreboard_rows",
    "claim_counts",
    "status_summary",
    "inventory",
    "paper_value",
    "Verdict",
    "Metrics",
    "comparison_table",
    "verdict_markdown",
    "load_metrics",
]

#: The scoreboard's statuses, derived by :func:`item_status` from what a page ran (never passed in).
STATUSES = ("reproduced", "partial", "stand-in", "needs data", "failed", "not started")
#: The data sets a page may name; an item run on another data set than the inventory's is a stand-in.
DATASETS = ("none", "toy", "MNIST", "Fashion-MNIST", "CIFAR-10", "ImageNet")
OUTCOMES = {True: "holds", False: "does not hold", None: "undecided"}


@functools.cache
def _yaml(name: str) -> Any:
    text = resources.files(reference_files).joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def reference(paper: str) -> dict[str, Any]:
    """The paper's numbers and claims, keyed by inventory id (``reference('ANX')['ANX-F8']``)."""
    try:
        return _yaml(f"{paper}.yaml")
    except FileNotFoundError:
        expected = f"nngeom/book/reference/{paper}.yaml"
        raise ValueError(f"no reference numbers for paper {paper!r} (expected {expected})") from None


def inventory() -> list[dict[str, Any]]:
    """Every table and figure of the five papers, in the inventory's order."""
    return list(_yaml("inventory.yaml")["items"])


def _item(item_id: str) -> dict[str, Any]:
    paper = item_id.split("-", 1)[0]
    ref = reference(paper)
    if item_id not in ref:
        raise KeyError(f"{item_id} has no entry in nngeom/book/reference/{paper}.yaml")
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


def paper_scale(item_id: str) -> dict[str, float]:
    """The counts the paper ran an item at (test points, samples, runs, epochs), from its reference entry."""
    return dict(_item(item_id).get("scale", {}) or {})


@dataclass
class Verdict:
    """A claim of the paper, decided from our numbers: ``holds`` is True, False or None (undecided)."""

    item: str
    claim: str
    text: str
    holds: bool | None
    evidence: str
    test: str = ""
    criterion: str = ""
    effect: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def outcome(self) -> str:
        return OUTCOMES[self.holds]

    def line(self) -> str:
        mark = {True: "holds here", False: "does NOT hold here", None: "undecided here"}[self.holds]
        how = f" Test: {self.test}." if self.test else ""
        rule = f" Criterion: {self.criterion}." if self.criterion else ""
        return f"**{self.item}** — {self.text}: **{mark}** ({self.evidence}).{how}{rule}"


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

    def rel(r: Any) -> float | None:
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

    def __init__(self, notebook: str, profile: str, path: os.PathLike | str | None, glue: bool = True) -> None:
        self.notebook = notebook
        self.profile = profile
        self.path = Path(path) if path else None
        self.glue = glue
        self.values: dict[str, Any] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.verdicts: list[Verdict] = []

    def value(self, name: str, value: Any, glue: bool | None = None) -> Any:
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

    def claim(self, item_id: str, claim_id: str, holds: Any, evidence: str = "", criterion: str = "") -> Verdict:
        """Record the verdict on a claim of the reference file.

        ``holds`` is what the page computed: a :class:`nngeom.core.stats.Decision` (a test with three outcomes,
        its interval and criterion), a bool for a deterministic check, or None for "undecided".
        ``evidence`` gives the numbers in words; ``criterion`` the rule (taken from the decision if empty).
        """
        from nngeom.core.stats import Decision

        test = ""
        effect = low = high = None
        if isinstance(holds, Decision):
            d = holds
            holds, test, criterion = d.holds, d.summary(), criterion or d.criterion
            effect, low, high = (None if not math.isfinite(x) else float(x) for x in (d.effect, d.low, d.high))
        elif holds is not None and not isinstance(holds, bool):
            raise TypeError("holds must be a Decision, a bool computed from the numbers (use bool(...)), or None")
        v = Verdict(
            item_id, claim_id, _claim_text(item_id, claim_id), holds, evidence, test, criterion, effect, low, high
        )
        self.verdicts.append(v)
        return v

    def item(
        self,
        item_id: str,
        data: str,
        scale: dict[str, float] | None = None,
        gaps: Sequence[str] = (),
        needs_data: bool = False,
        note: str = "",
    ) -> dict[str, Any]:
        """Record what this page ran for an inventory item; the scoreboard derives its status from it.

        ``data`` is the data set the item was run on (one of :data:`DATASETS`); ``scale`` the counts that
        matter (test points, samples, runs, epochs), each set beside the paper's count of the same name
        from the reference file; ``gaps`` the documented differences from the paper's setting (a
        substitute model, a missing part); ``needs_data`` that the data the item needs is absent.
        """
        known = {it["id"]: it for it in inventory()}
        if item_id not in known:
            raise ValueError(f"{item_id!r} is not an inventory id")
        if data not in DATASETS:
            raise ValueError(f"parameter 'data' must be one of {DATASETS}, got {data!r}")
        paper = paper_scale(item_id)
        scale_rec = {}
        for name, ours in (scale or {}).items():
            if name not in paper:
                raise ValueError(
                    f"{item_id}: the reference file gives no paper scale {name!r} "
                    f"(add it under {item_id}.scale in nngeom/book/reference/; it has {sorted(paper)})"
                )
            scale_rec[name] = {"ours": float(ours), "paper": float(paper[name])}
        rec = {
            "data": data,
            "scale": scale_rec,
            "gaps": [str(g) for g in gaps],
            "needs_data": bool(needs_data),
            "note": note,
        }
        rec["status"] = item_status(rec, known[item_id])
        self.items[item_id] = rec
        return rec

    def as_dict(self) -> dict[str, Any]:
        items = {k: dict(v, verdicts=[asdict(x) for x in self.verdicts if x.item == k]) for k, v in self.items.items()}
        return {"notebook": self.notebook, "profile": self.profile, "values": self.values, "items": items}

    def save(self) -> Path | None:
        if self.path is None:
            return None
        stray = {v.item for v in self.verdicts} - set(self.items)
        if stray:
            raise ValueError(f"verdicts recorded for items without a status: {sorted(stray)}")
        return atomic_write_json(self.path, self.as_dict())


def item_status(record: dict[str, Any], inventory_item: dict[str, Any]) -> str:
    """The scoreboard status of an item, derived from what its page recorded (:meth:`Metrics.item`).

    *failed* if its page stopped with an error; *needs data* if the data it needs is absent; *stand-in*
    if it ran on another data set than the paper's; *partial* on the paper's data but at a smaller scale
    than the paper's (any count below the paper's) or with a documented gap; else *reproduced*.
    """
    if record.get("failed"):
        return "failed"
    if record.get("needs_data"):
        return "needs data"
    wanted = inventory_item.get("data", "")
    # an item of no data set is a theoretical statement: checking it on any data is the paper's setting
    if wanted != "none" and record.get("data") != wanted:
        return "stand-in"
    smaller = any(s["ours"] < s["paper"] for s in (record.get("scale") or {}).values())
    if smaller or record.get("gaps"):
        return "partial"
    return "reproduced"


def _scale_text(scale: dict[str, Any]) -> str:
    return "; ".join(f"{k} {v['ours']:g}/{v['paper']:g}" for k, v in scale.items())


def scoreboard_rows(
    metrics: Iterable[dict[str, Any]], profile: str, skip: str = "book/scoreboard"
) -> list[dict[str, Any]]:
    """One row per inventory item, its status derived from the pages' metrics at ``profile``.

    ``metrics`` are the pages' ``metrics.json`` contents. A failed page (written by the notebook runner)
    marks every item its source names as *failed*. Raises if a metrics file is from another profile or
    two pages claim one item.
    """
    claimed: dict[str, dict[str, Any]] = {}
    for m in metrics:
        if m.get("notebook") == skip:
            continue
        if m.get("profile") != profile:
            raise ValueError(f"metrics of {m.get('notebook')} are from profile {m.get('profile')!r}, not {profile!r}")
        if m.get("failed"):
            for item_id in m["failed"].get("items", []):
                claimed[item_id] = {
                    "failed": True,
                    "page": m["notebook"],
                    "data": "",
                    "scale": {},
                    "verdicts": [],
                    "note": f"page failed: {m['failed'].get('error', '')}",
                }
            continue
        for item_id, info in m.get("items", {}).items():
            if item_id in claimed:
                raise ValueError(f"{item_id} is claimed by two pages: {claimed[item_id]['page']} and {m['notebook']}")
            claimed[item_id] = dict(info, page=m["notebook"])
    rows = []
    for it in inventory():
        c = claimed.get(it["id"])
        verdicts = (c or {}).get("verdicts", [])
        status = item_status(c, it) if c else "not started"
        label = " (stand-in)" if status == "stand-in" else ""
        rows.append(
            {
                "id": it["id"],
                "paper": it["paper"],
                "item": it["item"],
                "status": status,
                "data": c.get("data", "") if c else it.get("data", ""),
                "scale (ours/paper)": _scale_text(c.get("scale") or {}) if c else "",
                "gaps": "; ".join(c.get("gaps", [])) if c else "",
                "verdict": "; ".join(f"{v['claim']}: {OUTCOMES[v['holds']]}{label}" for v in verdicts),
                "holds": sum(v["holds"] is True for v in verdicts),
                "fails": sum(v["holds"] is False for v in verdicts),
                "undecided": sum(v["holds"] is None for v in verdicts),
                "page": c["page"] if c else "",
            }
        )
    return rows


def claim_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The scoreboard's totals over :func:`scoreboard_rows`: claims that hold, fail and are undecided on the
    papers' own data sets (every status but *stand-in*), and the claims tested on stand-in data."""
    own = [r for r in rows if r["status"] != "stand-in"]
    stand_in = [r for r in rows if r["status"] == "stand-in"]
    holding, failing = sum(r["holds"] for r in own), sum(r["fails"] for r in own)
    return {
        "claims_decided": holding + failing,
        "claims_holding": holding,
        "claims_failing": failing,
        "claims_undecided": sum(r["undecided"] for r in own),
        "stand_in_claims": sum(r["holds"] + r["fails"] + r["undecided"] for r in stand_in),
    }


def status_summary(rows: Sequence[dict[str, Any]]):
    """Items per paper and status (columns in the order of :data:`STATUSES`), with a total column."""
    import pandas as pd

    board = pd.DataFrame(rows)
    summary = board.pivot_table(index="paper", columns="status", values="id", aggfunc="count", fill_value=0)
    summary = summary.reindex(columns=[s for s in STATUSES if s in summary.columns])
    summary["total"] = summary.sum(axis=1)
    return summary


def load_metrics(directory: os.PathLike | str) -> list[dict[str, Any]]:
    """Every ``*.json`` metrics file under ``directory`` (one per executed notebook)."""
    out = []
    for p in sorted(Path(directory).rglob("*.json")):
        out.append(json.loads(p.read_text()))
    return out
