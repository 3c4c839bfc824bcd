"""The workflow's dependencies: a notebook depends on the library files it imports, not on the whole library.

The dry-run test builds a copy of the workflow whose every output is up to date, touches one module of one
paper, and asks Snakemake which notebooks it would run: only the pages that import the module, and the
scoreboard (which reads every page's metrics).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nngeom.book.workflow import imported_modules, library_inputs

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"


def _rel(paths):
    return {str(p.relative_to(LIB)) for p in paths}


def test_a_page_depends_on_what_it_imports_and_nothing_else():
    lrg01 = _rel(library_inputs(ROOT / "notebooks/linear_regions/01_regions_in_pictures.py", LIB))
    assert "nngeom/linear_regions/planar.py" in lrg01 and "nngeom/core/zoo.py" in lrg01
    assert "nngeom/book/reference/LRG.yaml" in lrg01  # data files of an imported package
    assert not any(p.startswith(("nngeom/adversarial_neighborhoods", "nngeom/intriguing_properties")) for p in lrg01)
    anx09 = _rel(library_inputs(ROOT / "notebooks/adversarial_neighborhoods/09_decision_boundaries.py", LIB))
    assert "nngeom/adversarial_neighborhoods/boundaries.py" in anx09
    assert not any(p.startswith("nngeom/linear_regions") for p in anx09)
    # the openings are split by paper: the pages of one paper that share an opening do not depend on the others
    nis05 = _rel(library_inputs(ROOT / "notebooks/natural_image_spaces/05_confusion_classes.py", LIB))
    assert "nngeom/book/pages/natural_image_spaces.py" in nis05 and "nngeom/natural_image_spaces/studies.py" in nis05
    assert not any(p.startswith(("nngeom/linear_regions", "nngeom/feature_space", "nngeom/book/pages/linear_regions",
                                 "nngeom/book/pages/feature_space")) for p in nis05)  # fmt: skip
    lrg04 = _rel(library_inputs(ROOT / "notebooks/linear_regions/04_decision_boundaries.py", LIB))
    assert "nngeom/book/pages/linear_regions.py" in lrg04
    assert not any(p.startswith(("nngeom/natural_image_spaces", "nngeom/feature_space")) for p in lrg04)


def test_imports_are_read_from_the_source(tmp_path):
    src = tmp_path / "page.py"
    src.write_text(
        "from nngeom.core import zoo, data as d\n"
        "def f():\n    import nngeom.solvers.polytope\n"
        "from nngeom.core.stats import rate\nimport numpy\n"
    )
    mods = imported_modules(src, LIB)
    assert {"nngeom.core.zoo", "nngeom.core.data", "nngeom.solvers.polytope", "nngeom.core.stats"} <= mods
    assert {"nngeom", "nngeom.core", "nngeom.solvers"} <= mods and "numpy" not in mods
    assert "nngeom.core.stats.rate" not in mods  # a name, not a module


def _touch(path: Path, when: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("{}")
    os.utime(path, (when, when))


def _would_run(workdir: Path) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1", "--rerun-triggers", "mtime",
         "--config", "profile=smoke", "html_dir=_build/site-smoke", "--", "site"],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return set(re.findall(r"wildcards: key=(\S+)", out.stdout))


@pytest.fixture(scope="module")
def up_to_date_workflow(tmp_path_factory):
    """A copy of the workflow (smoke profile) whose outputs all exist and are newer than every input."""
    work = tmp_path_factory.mktemp("workflow")
    for name in ("Snakefile", "_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, work / name)
    for folder in ("profiles", "notebooks", "book"):
        shutil.copytree(ROOT / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    shutil.copytree(LIB / "nngeom", work / "lib" / "nngeom", ignore=shutil.ignore_patterns("__pycache__"))
    prof = yaml.safe_load((ROOT / "profiles/smoke.yaml").read_text())
    later = time.time() + 100
    _touch(work / "_build/data.ok", later)
    for key, cfg in prof["notebooks"].items():
        for out in (f"_build/src/smoke/{key}.ipynb", f"_build/metrics/smoke/{key}.json"):
            _touch(work / out, later + 10)
        for model in (cfg or {}).get("models", []) or []:
            _touch(work / f"_build/models/smoke/{model}.json", later)
    book_files = [f"book/{p.name}" for p in (ROOT / "book").iterdir() if p.suffix in {".md", ".bib", ".png", ".svg"}]
    for f in ["_config.yml", "_toc.yml", *book_files]:  # the staged static sources
        _touch(work / "_build/src/smoke" / f, later + 10)
    _touch(work / "_build/site-smoke/_build/html/index.html", later + 20)
    return work, prof, later


def test_an_up_to_date_workflow_runs_nothing(up_to_date_workflow):
    work, _, _ = up_to_date_workflow
    assert _would_run(work) == set()


@pytest.mark.parametrize(
    "module, pages",
    [
        ("linear_regions/planar.py", {"notebooks/linear_regions/01_regions_in_pictures"}),
        (
            "adversarial_neighborhoods/kernels.py",
            {
                f"notebooks/adversarial_neighborhoods/{p}"
                for p in ("06_path_kernel_2d", "07_path_kernel_mnist", "08_parameter_interpolation")
            },
        ),  # fmt: skip
    ],
)
def test_touching_one_paper_module_reruns_only_the_pages_that_import_it(up_to_date_workflow, module, pages):
    work, prof, later = up_to_date_workflow
    path = work / "lib/nngeom" / module
    before = path.stat().st_mtime
    try:
        _touch(path, later + 30)
        runs = _would_run(work)
    finally:
        os.utime(path, (before, before))
    assert runs == pages | {"book/scoreboard", "book/build_report"}
    # and the expectation is not empty by accident: the page really imports the module
    for page in pages:
        assert path.relative_to(work / "lib") in {p.relative_to(LIB) for p in library_inputs(ROOT / f"{page}.py", LIB)}
