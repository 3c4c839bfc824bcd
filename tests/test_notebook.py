"""The notebook contract: profiles configure every page, parameters are checked, failures are clear."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from nngeom.book import notebook
from nngeom.core.validation import ParameterError

THEORY = notebook.REPO_ROOT / "notebooks/adversarial_neighborhoods/01_persistence_theory.py"


def toc_files() -> list[str]:
    toc = yaml.safe_load((notebook.REPO_ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


def notebook_pages() -> list[str]:
    return [f for f in toc_files() if (notebook.REPO_ROOT / f"{f}.py").exists()]


def test_every_page_exists_and_every_profile_configures_every_notebook():
    for f in toc_files():
        assert (notebook.REPO_ROOT / f"{f}.py").exists() or (notebook.REPO_ROOT / f"{f}.md").exists(), f
    pages = set(notebook_pages())
    assert pages, "the book has no notebook pages"
    for name in ("smoke", "default", "paper"):
        configured = set(notebook.load_profile(name)["notebooks"])
        assert configured == pages, (name, configured ^ pages)


def test_profile_parameters_are_declared_by_their_notebooks(tmp_path):
    import jupytext
    import papermill

    for page in notebook_pages():
        nb = jupytext.read(notebook.REPO_ROOT / f"{page}.py")
        path = tmp_path / "nb.ipynb"
        jupytext.write(nb, path)
        declared = set(papermill.inspect_notebook(str(path)))
        assert set(notebook.COMMON_PARAMETERS) <= declared, page
        # every assignment of the parameters cell must be one papermill can parse (a comment with "=" or
        # certain punctuation makes it skip the line, and the parameter silently cannot be set)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assigned = set(re.findall(r"^([A-Za-z_]\w*)\s*=", cell.source, flags=re.M))
        assert assigned <= declared, (page, "papermill cannot parse", assigned - declared)
        for name in ("smoke", "default", "paper"):
            given = set(notebook.notebook_config(name, page)["parameters"])
            assert given <= declared, (page, name, given - declared)


@pytest.mark.parametrize("profile", ["smoke", "default", "paper"])
def test_every_page_accepts_its_profile_parameters(profile):
    # each page's own checks, run without the page: a bad value in profiles/paper.yaml is found here, not
    # after hours on a GPU
    for page in notebook_pages():
        notebook.check_parameters(notebook.REPO_ROOT / f"{page}.py", profile)


def test_a_bad_profile_value_is_found_without_running_the_page():
    page = notebook.REPO_ROOT / "notebooks/natural_image_spaces/02_subgroups.py"
    with pytest.raises(ParameterError, match="'runs'"):
        notebook.check_parameters(page, "paper", {"runs": 0})
    with pytest.raises(ValueError, match="'percents' must be increasing"):  # a check written in the page itself
        notebook.check_parameters(page, "paper", {"percents": [75, 25]})
    with pytest.raises(ValueError, match="'model_width'"):  # a check in the page's opener, before its header
        notebook.check_parameters(page, "paper", {"model_width": 16})
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['n_runs'\]"):
        notebook.check_parameters(page, "paper", {"n_runs": 5})
    notebook.check_parameters(page, "paper", {"runs": 3})  # a good value passes
    assert notebook.header.__name__ == "header"  # the page's header is restored after every check


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ParameterError, match="'profile' must be one of"):
        notebook.load_profile("fast")


def test_unknown_parameter_is_refused_before_running(tmp_path):
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['n_sample'\]"):
        notebook.run(THEORY, "smoke", tmp_path / "out.ipynb", tmp_path / "m.json", {"n_sample": 10})
    assert not (tmp_path / "out.ipynb").exists()


def test_bad_parameter_value_stops_the_notebook_with_its_name(tmp_path):
    with pytest.raises(notebook.NotebookFailed) as info:
        notebook.run(
            THEORY,
            "smoke",
            tmp_path / "out.ipynb",
            tmp_path / "m.json",
            {"mc_samples": -5},
            keep_failed=tmp_path / "failed" / "theory.ipynb",
        )
    assert info.value.ename == "ParameterError"
    assert "'mc_samples'" in info.value.evalue and "positive integer" in info.value.evalue
    # nothing half-written: neither the notebook nor its metrics; the partial notebook is kept aside
    assert not (tmp_path / "out.ipynb").exists()
    assert not (tmp_path / "m.json").exists()
    kept = json.loads((tmp_path / "failed" / "theory.ipynb").read_text())
    assert any(o.get("ename") == "ParameterError" for c in kept["cells"] for o in c.get("outputs", []))
    assert "mc_samples" in info.value.source or info.value.cell_index >= 0


def test_command_line_prints_the_failing_cell_and_traceback(tmp_path, capsys):
    rc = notebook._main(
        [
            "run",
            str(THEORY),
            "--profile",
            "smoke",
            "--output",
            str(tmp_path / "o.ipynb"),
            "--metrics",
            str(tmp_path / "m.json"),
            "-p",
            "gamma",
            "1.5",
            "--failed-dir",
            str(tmp_path / "failed"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "'gamma'" in err and "--- traceback ---" in err and "--- cell" in err
    assert "\x1b[" not in err  # colour codes stripped
    assert not (tmp_path / "o.ipynb").exists() and not (tmp_path / "m.json").exists()


def test_a_failed_page_is_recorded_and_the_workflow_goes_on(tmp_path, capsys):
    failed = tmp_path / "failed"
    args = [
        "run",
        str(THEORY),
        "--profile",
        "smoke",
        "--output",
        str(tmp_path / "o.ipynb"),
        "--metrics",
        str(tmp_path / "m.json"),
        "-p",
        "gamma",
        "1.5",
        "--failed-dir",
        str(failed),
    ]
    assert notebook._main(args + ["--record-failure"]) == 0
    record = json.loads((tmp_path / "m.json").read_text())
    key = notebook.notebook_key(THEORY)
    assert record["failed"]["error"].startswith("ParameterError") and "ANX-F8" in record["failed"]["items"]
    assert (failed / f"{key}.json").exists() and (failed / f"{key}.ipynb").exists()
    assert (tmp_path / "o.ipynb").exists()  # the partial notebook is staged, so the site shows the failure
    capsys.readouterr()
    assert notebook._main(["failures", "--profile", "smoke", "--failed-dir", str(failed)]) == 1
    assert key in capsys.readouterr().err
    # the scoreboard marks every item the page names as failed
    from nngeom.book.report import scoreboard_rows

    rows = {r["id"]: r for r in scoreboard_rows([record], "smoke")}
    assert rows["ANX-F8"]["status"] == "failed" and rows["ANX-T1"]["status"] == "not started"


def test_progress_bars_are_stored_at_their_final_state(tmp_path):
    # a bar's updates overwrite one line; a bar cleared on closing (leave=False) leaves nothing
    assert notebook.terminal_text("a\nbar  0%\rbar 50%\rbar 100%\ndone\n") == "a\nbar 100%\ndone\n"
    assert notebook.terminal_text("ab\rx\n") == "xb\n"
    assert notebook.terminal_text("inner 10%\r          \rafter\n") == "after\n"
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="t  1%\r"),
                    nbformat.v4.new_output("stream", name="stderr", text="t 99%\rt100%\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="x\r   \r")]  # fmt: skip
    nb.cells = [cell]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    notebook._tidy_outputs(path)
    outputs = nbformat.read(str(path), as_version=4).cells[0].outputs
    assert [(o.name, o.text) for o in outputs] == [("stderr", "t100%\n")]
