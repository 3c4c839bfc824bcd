"""Reference files, the inventory, and the metrics/verdict helpers."""

from __future__ import annotations

import json
import re

import pytest

from nngeom import report


def test_inventory_ids_are_unique_and_well_formed():
    items = report.inventory()
    ids = [it["id"] for it in items]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"(NIS|FSH|ANX|IPN|LRG)-(T|F|X|A)[0-9A-Z]+", i) for i in ids)
    for needed in ("ANX-F7", "ANX-F8", "ANX-F19", "ANX-T1", "LRG-T1", "FSH-T1", "NIS-T1", "IPN-X5", "LRG-F12"):
        assert needed in ids


def test_reference_values_are_read_from_the_paper_file():
    assert report.paper_value("ANX-F8", "persistence_k1_d1_gamma07") == pytest.approx(1.91)
    with pytest.raises(KeyError):
        report.paper_value("ANX-F8", "no_such_value")


def test_metrics_round_trip_and_verdict_validation(tmp_path):
    m = report.Metrics("notebooks/x/01_y", "smoke", tmp_path / "m.json", glue=False)
    m.value("a", 1.5)
    m.claim("ANX-F8", "persistence_decreases_with_k", holds=True, evidence="1.9 > 1.0")
    m.item("ANX-F8", "reproduced", data="none")
    out = json.loads(m.save().read_text())
    assert out["values"]["a"] == 1.5
    assert out["items"]["ANX-F8"]["verdicts"][0]["holds"] is True
    with pytest.raises(TypeError):
        m.claim("ANX-F8", "persistence_decreases_with_k", holds=1, evidence="")  # a bool, computed
    with pytest.raises(ValueError, match="status"):
        m.item("ANX-F8", "done", data="none")
    with pytest.raises(ValueError, match="inventory"):
        m.item("ANX-F999", "reproduced", data="none")


def test_verdict_without_status_is_refused(tmp_path):
    m = report.Metrics("nb", "smoke", tmp_path / "m.json", glue=False)
    m.claim("ANX-F8", "persistence_decreases_with_k", holds=False, evidence="")
    with pytest.raises(ValueError, match="without a status"):
        m.save()


def test_comparison_table_relative_difference():
    df = report.comparison_table([{"quantity": "q", "paper": 2.0, "here": 3.0}, {"quantity": "r", "paper": "n/a", "here": 1.0}])
    assert df.loc["q", "relative difference"] == pytest.approx(0.5)
    assert df.loc["r", "relative difference"] is None or df["relative difference"].isna()["r"]
