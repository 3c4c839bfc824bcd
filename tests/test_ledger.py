"""The results ledger: recorded metrics stamped with a hash of their inputs, current until an input changes."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from nngeom.book import ledger
from nngeom.core.profiles import REPO_ROOT

PAGE = "notebooks/natural_image_spaces/01_step_function"


@pytest.fixture
def tree(tmp_path):
    """A copy of the page and the library, and the page's default metrics as a build leaves them."""
    (tmp_path / PAGE).parent.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "profiles", tmp_path / "profiles")
    shutil.copy(REPO_ROOT / f"{PAGE}.py", tmp_path / f"{PAGE}.py")
    shutil.copytree(REPO_ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    built = tmp_path / "_build/metrics/default" / f"{PAGE}.json"
    built.parent.mkdir(parents=True)
    built.write_text(json.dumps({"notebook": PAGE, "profile": "default", "values": {"x": 1.5}, "items": {}}))
    return tmp_path


def test_the_hash_follows_the_page_its_imports_and_its_profile_entry(tree):
    before = ledger.input_hash("default", PAGE, tree)
    assert before == ledger.input_hash("default", PAGE, tree)  # stable
    assert before != ledger.input_hash("smoke", PAGE, tree)  # another profile entry
    unrelated = tree / "lib/nngeom/linear_regions/planar.py"  # not imported by the page
    unrelated.write_text(unrelated.read_text() + "\n# touched\n")
    assert ledger.input_hash("default", PAGE, tree) == before
    imported = tree / "lib/nngeom/natural_image_spaces/toy.py"
    imported.write_text(imported.read_text() + "\n# touched\n")
    assert ledger.input_hash("default", PAGE, tree) != before


def test_a_record_is_current_until_an_input_changes(tree):
    (path,) = ledger.record("default", [PAGE], root=tree)
    assert path == tree / "results/default" / f"{PAGE}.json"
    saved = json.loads(path.read_text())
    assert saved["values"] == {"x": 1.5} and set(saved[ledger.LEDGER_KEY]) == {"inputs", "commit", "recorded"}
    state = ledger.freshness("default", tree)
    assert state[PAGE] == "current" and state["notebooks/linear_regions/06_cnn_appendix"] == "missing"
    page = tree / f"{PAGE}.py"
    page.write_text(page.read_text() + "\n# an edit\n")
    assert ledger.freshness("default", tree)[PAGE] == "stale"


def test_what_cannot_be_recorded_is_refused(tree):
    with pytest.raises(ValueError, match="profile must be one of"):
        ledger.record("smoke", [PAGE], root=tree)
    with pytest.raises(FileNotFoundError, match="build it first"):
        ledger.record("default", ["notebooks/linear_regions/06_cnn_appendix"], root=tree)
    built = tree / "_build/metrics/default" / f"{PAGE}.json"
    built.write_text(json.dumps({"notebook": PAGE, "profile": "default", "failed": {"error": "boom"}}))
    with pytest.raises(ValueError, match="failed"):
        ledger.record("default", [PAGE], root=tree)
    assert not (tree / "results").exists()


def test_a_record_built_in_another_checkout_is_stamped_with_that_checkout(tree, tmp_path_factory):
    here = tmp_path_factory.mktemp("here")
    (path,) = ledger.record("default", [PAGE], root=here, built_in=tree)
    assert path == here / "results/default" / f"{PAGE}.json"
    assert json.loads(path.read_text())[ledger.LEDGER_KEY]["inputs"] == ledger.input_hash("default", PAGE, tree)


def test_the_hash_of_a_page_with_models_follows_their_training_recipe(tree):
    page = "notebooks/natural_image_spaces/02_subgroups"  # trains on the zoo model fashion-allconv-w8
    shutil.copy(REPO_ROOT / f"{page}.py", tree / f"{page}.py")
    before = ledger.input_hash("default", page, tree)
    profile = tree / "profiles/default.yaml"
    text = profile.read_text()
    changed = yaml.safe_load(text)
    changed["zoo"].setdefault("models", {})["fashion-allconv-w8"] = {"epochs": 7}
    profile.write_text(yaml.safe_dump(changed))
    assert ledger.input_hash("default", page, tree) != before
    profile.write_text(text)
    trainer = tree / "lib/nngeom/core/training.py"  # imported by the zoo, not necessarily by the page
    trainer.write_text(trainer.read_text() + "\n# touched\n")
    assert ledger.input_hash("default", page, tree) != before


def _benchmark(path, seconds):
    """A Snakemake benchmark file as the workflow writes one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds}\t0:00:00\t512.0\t900.0\t500.0\t505.0\t0\t0\t90\t{seconds * 0.9}\n"
    )


def test_a_record_keeps_its_build_cost_and_the_parts_add_up(tree):
    other = "notebooks/natural_image_spaces/02_subgroups"  # trains the zoo model fashion-allconv-w8
    shutil.copy(REPO_ROOT / f"{other}.py", tree / f"{other}.py")
    built = tree / "_build/metrics/default" / f"{other}.json"
    built.write_text(json.dumps({"notebook": other, "profile": "default", "values": {}, "items": {}}))
    bench = tree / "_build/benchmarks/default"
    _benchmark(bench / "notebooks" / f"{PAGE}.tsv", 60.0)
    _benchmark(bench / "notebooks" / f"{other}.tsv", 600.0)
    _benchmark(bench / "models/fashion-allconv-w8.tsv", 300.0)
    ledger.record("default", [PAGE, other], root=tree)
    stamp = ledger.load_ledger("default", tree)[other][ledger.LEDGER_KEY]
    assert stamp["build"]["page"]["wall_s"] == 600.0 and stamp["build"]["page"]["cpu_s"] == 540.0
    assert stamp["build"]["models"]["fashion-allconv-w8"]["wall_s"] == 300.0
    assert stamp["build"]["machine"]["cores"] >= 1
    assert ledger.load_ledger("default", tree)[PAGE][ledger.LEDGER_KEY]["build"]["models"] == {}
    timing = ledger.build_timing("default", tree)
    assert (timing["pages_s"], timing["models_s"], timing["total_s"]) == (660.0, 300.0, 960.0)
    assert PAGE not in timing["unmeasured"] and "notebooks/linear_regions/06_cnn_appendix" in timing["unmeasured"]
    # a page built without the workflow (no benchmark file) is recorded without a cost
    (bench / "notebooks" / f"{PAGE}.tsv").unlink()
    ledger.record("default", [PAGE], root=tree)
    assert "build" not in ledger.load_ledger("default", tree)[PAGE][ledger.LEDGER_KEY]
    assert PAGE in ledger.build_timing("default", tree)["unmeasured"]
