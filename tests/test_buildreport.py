"""The build report reads Snakemake's benchmark files back (tests/test_book.py checks the real ones)."""

from __future__ import annotations

import pytest

from nngeom.book import buildreport

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_benchmark_files_become_rows_totals_and_a_table(tmp_path):
    (tmp_path / "notebooks/notebooks/paper").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    (tmp_path / "notebooks/notebooks/paper/01_page.tsv").write_text(
        HEADER + "120.0\t0:02:00\t350.5\t1\t1\t1\t0\t0\t90\t100\n"
    )
    # two repeats average; "NA" (not measured) is no number
    (tmp_path / "models/net.tsv").write_text(HEADER + "600\t0:10:00\tNA\t1\t1\t1\t0\t0\t90\t500\n"
                                             "660\t0:11:00\tNA\t1\t1\t1\t0\t0\t90\t560\n")  # fmt: skip
    rows = buildreport.read_benchmarks(tmp_path)
    assert [(r["kind"], r["name"]) for r in rows] == [("model", "net"), ("page", "notebooks/paper/01_page")]
    assert rows[0]["wall_s"] == pytest.approx(630.0) and rows[0]["max_rss_mb"] is None and rows[0]["cpu_s"] == 530
    assert rows[1]["max_rss_mb"] == pytest.approx(350.5)
    t = buildreport.totals(rows)
    assert t == {"models_s": 630.0, "pages_s": 120.0, "all_s": 750.0, "max_rss_mb": 350.5, "jobs": 2}
    table = buildreport.markdown_table(rows, buildreport.machine_summary())
    assert "| notebooks/paper/01_page | page | 2.0 | 350 |" in table and "**12.5**" in table and "cores" in table


def test_the_command_says_when_there_is_nothing_to_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(buildreport, "benchmark_dir", lambda profile: tmp_path / profile)
    assert buildreport._main(["--profile", "smoke"]) == 1
    assert "no benchmark files" in capsys.readouterr().err
