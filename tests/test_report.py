"""Reference files, the inventory, and the metrics/verdict helpers."""

from __future__ import annotations

import json
import re

import pytest

from nngeom.book import report


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
    from nngeom.core.stats import compare_samples

    m = report.Metrics("notebooks/x/01_y", "smoke", tmp_path / "m.json", glue=False)
    m.value("a", 1.5)
    m.claim("ANX-F8", "persistence_decreases_with_k", holds=True, evidence="1.9 > 1.0")
    m.claim("ANX-F8", "k1_value", holds=None, evidence="too few samples")
    m.claim(
        "ANX-F8", "persistence_below_distance_for_large_k", holds=compare_samples([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    )
    m.item("ANX-F8", data="none")
    out = json.loads(m.save().read_text())
    assert out["values"]["a"] == 1.5
    assert [v["holds"] for v in out["items"]["ANX-F8"]["verdicts"]] == [True, None, True]
    assert "Mann-Whitney" in out["items"]["ANX-F8"]["verdicts"][2]["test"]
    assert out["items"]["ANX-F8"]["status"] == "reproduced"
    with pytest.raises(TypeError):
        m.claim("ANX-F8", "persistence_decreases_with_k", holds=1, evidence="")  # a bool, computed
    with pytest.raises(ValueError, match="data"):
        m.item("ANX-F8", data="mnist")
    with pytest.raises(ValueError, match="inventory"):
        m.item("ANX-F999", data="none")
    with pytest.raises(ValueError, match="paper scale"):
        m.item("ANX-F8", data="none", scale={"no such count": 3})


def test_verdict_without_status_is_refused(tmp_path):
    m = report.Metrics("nb", "smoke", tmp_path / "m.json", glue=False)
    m.claim("ANX-F8", "persistence_decreases_with_k", holds=False, evidence="")
    with pytest.raises(ValueError, match="without a status"):
        m.save()


def _page(items: dict, notebook="notebooks/x/01", profile="smoke") -> dict:
    return {"notebook": notebook, "profile": profile, "values": {}, "items": items}


def test_statuses_are_derived_from_data_scale_and_gaps():
    inv = {it["id"]: it for it in report.inventory()}
    t1 = inv["ANX-T1"]  # MNIST
    full = {"data": "MNIST", "scale": {"n": {"ours": 1000, "paper": 1000}}, "gaps": []}
    assert report.item_status(full, t1) == "reproduced"
    smaller = dict(full, scale={"n": {"ours": 100, "paper": 1000}})
    assert report.item_status(smaller, t1) == "partial"
    assert report.item_status(dict(full, gaps=["3 epochs instead of 21"]), t1) == "partial"
    assert report.item_status(dict(full, data="Fashion-MNIST"), t1) == "stand-in"
    assert report.item_status(dict(full, needs_data=True), t1) == "needs data"
    assert report.item_status(dict(full, failed=True), t1) == "failed"


def test_scoreboard_derives_partial_from_metrics_at_a_smaller_scale(tmp_path):
    """A page that ran an item at a smaller scale than the paper's shows up as partial, whatever it says."""
    paper = report.paper_scale("LRG-T2")
    assert paper, "LRG-T2 needs its paper scale in the reference file"
    name, n_paper = next(iter(paper.items()))
    m = report.Metrics("notebooks/linear_regions/04", "smoke", tmp_path / "m.json", glue=False)
    m.item("LRG-T2", data="MNIST", scale={name: n_paper / 100})
    rows = {r["id"]: r for r in report.scoreboard_rows([m.as_dict()], "smoke")}
    assert rows["LRG-T2"]["status"] == "partial"
    assert f"{n_paper / 100:g}/{n_paper:g}" in rows["LRG-T2"]["scale (ours/paper)"]
    m.item("LRG-T2", data="MNIST", scale={name: n_paper})
    rows = {r["id"]: r for r in report.scoreboard_rows([m.as_dict()], "smoke")}
    assert rows["LRG-T2"]["status"] == "reproduced" and rows["LRG-T1"]["status"] == "not started"
    m.item("LRG-T3", data="Fashion-MNIST")
    m.claim("LRG-T3", next(c["id"] for c in report.reference("LRG")["LRG-T3"]["claims"]), holds=True)
    rows = {r["id"]: r for r in report.scoreboard_rows([m.as_dict()], "smoke")}
    assert rows["LRG-T3"]["status"] == "stand-in" and "(stand-in)" in rows["LRG-T3"]["verdict"]


def test_scoreboard_refuses_two_pages_claiming_one_item_and_other_profiles():
    page = _page({"ANX-F8": {"data": "none", "scale": {}, "gaps": [], "verdicts": []}})
    with pytest.raises(ValueError, match="claimed by two pages"):
        report.scoreboard_rows([page, dict(page, notebook="notebooks/x/02")], "smoke")
    with pytest.raises(ValueError, match="profile"):
        report.scoreboard_rows([page], "default")


def test_comparison_table_relative_difference():
    df = report.comparison_table(
        [{"quantity": "q", "paper": 2.0, "here": 3.0}, {"quantity": "r", "paper": "n/a", "here": 1.0}]
    )
    assert df.loc["q", "relative difference"] == pytest.approx(0.5)
    assert df.loc["r", "relative difference"] is None or df["relative difference"].isna()["r"]


def test_claim_counts_keep_stand_in_claims_apart():
    from nngeom.book.report import claim_counts, status_summary

    rows = [
        {"id": "A-1", "paper": "A", "status": "reproduced", "holds": 2, "fails": 1, "undecided": 0},
        {"id": "A-2", "paper": "A", "status": "partial", "holds": 0, "fails": 0, "undecided": 3},
        {"id": "B-1", "paper": "B", "status": "stand-in", "holds": 1, "fails": 1, "undecided": 1},
        {"id": "B-2", "paper": "B", "status": "not started", "holds": 0, "fails": 0, "undecided": 0},
    ]
    assert claim_counts(rows) == {"claims_decided": 3, "claims_holding": 2, "claims_failing": 1,
                                  "claims_undecided": 3, "stand_in_claims": 3}  # fmt: skip
    summary = status_summary(rows)
    assert list(summary.columns) == ["reproduced", "partial", "stand-in", "not started", "total"]
    assert summary.loc["A", "total"] == 2 and summary.loc["B", "stand-in"] == 1
