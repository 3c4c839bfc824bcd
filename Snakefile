# The book's workflow: data -> zoo models -> notebooks (papermill) -> staged sources -> HTML.
#
#   snakemake --cores 2 --config profile=default          # what `make book` runs
#   snakemake --cores 2 --config profile=smoke html_dir=_build/site-smoke -- site
#
# One rule per zoo model (a marker json per profile; the weights live in the zoo cache) and one job per
# notebook, so `--cores N` or a cluster executor never trains a model twice and a rerun only redoes
# what changed: a notebook reruns when its source, its profile, or a library file it imports changes. A page that fails
# is recorded as failed (its partial notebook under _build/failed/<profile>/) and the rest is still built;
# `python -m nngeom.book.notebook failures --profile P` then exits non-zero (make book ends with it).
import os
import sys
from pathlib import Path

import yaml

PROFILE = config.get("profile", "default")
_profile_file = f"profiles/{PROFILE}.yaml"
if not os.path.exists(_profile_file):
    raise ValueError(
        f"config 'profile' must name a file in profiles/ ({sorted(p.stem for p in Path('profiles').glob('*.yaml'))}); got {PROFILE!r}"
    )
PROF = yaml.safe_load(open(_profile_file))
NOTEBOOKS = PROF["notebooks"]                       # key (path without .py) -> {parameters, models}
SCOREBOARD = "book/scoreboard"
BUILD_REPORT = "book/build_report"                   # reads every other job's benchmark file, so runs last
STAGE = f"_build/src/{PROFILE}"                      # the book's sources at this profile
METRICS = f"_build/metrics/{PROFILE}"
MODELS = f"_build/models/{PROFILE}"
BENCH = f"_build/benchmarks/{PROFILE}"               # Snakemake's benchmark of every model and notebook job
# The default profile's site is the README's _build/html; other profiles build beside it.
HTML_PARENT = config.get("html_dir", "." if PROFILE == "default" else f"_build/site-{PROFILE}")
JB_FLAGS = config.get("jb_flags", "")
# Each job's library inputs are the lib/nngeom files its code imports, transitively (nngeom.book.workflow), so
# that editing one paper's subpackage reruns only the pages that import it, and the scoreboard.
sys.path.insert(0, str(Path("lib").resolve()))
from nngeom.book.workflow import library_inputs  # noqa: E402  (the checkout's library, installed or not)

ZOO_LIB = sorted({"lib/nngeom/core/zoo.py", *(str(p) for p in library_inputs(Path("lib/nngeom/core/zoo.py"), Path("lib")))})
STATIC = ["_config.yml", "_toc.yml"] + sorted(str(p) for p in Path("book").glob("*") if p.suffix in {".md", ".bib", ".png", ".svg"}) + sorted(str(p) for p in Path("book/_ext").glob("*.py"))
PY = config.get("python", "python")
FAILED = f"_build/failed/{PROFILE}"                  # partial notebooks and failure records of failed pages

# A page whose last run failed was staged with its partial notebook and a failure record as its metrics, so
# that every other page and the site could still be built. Remove those outputs so that this run retries it;
# the record itself goes only when the page passes (the runner deletes it).
for _key in NOTEBOOKS:
    if os.path.exists(f"{FAILED}/{_key}.json"):
        for _out in (f"{STAGE}/{_key}.ipynb", f"{METRICS}/{_key}.json"):
            if os.path.exists(_out):
                os.remove(_out)

# One paper's pages (`make book PAPER=NIS`, or `snakemake ... --config paper=NIS -- paper`): a build that
# can be measured and resumed in parts. The codes are those of the papers' README.
PAPER_DIRS = {"ANX": "adversarial_neighborhoods", "FSH": "feature_space", "IPN": "intriguing_properties",
              "LRG": "linear_regions", "NIS": "natural_image_spaces"}
PAPER = config.get("paper", "")
if PAPER and PAPER not in PAPER_DIRS:
    raise ValueError(f"config 'paper' must be one of {sorted(PAPER_DIRS)}; got {PAPER!r}")


# Light jobs that stay on the submitting machine under a cluster executor (profiles/slurm): the data fetch
# needs the registries, the rest copies files or renders HTML.
localrules: data, static, mathjax, site, paper


wildcard_constraints:
    key="|".join(k.replace(".", r"\.") for k in NOTEBOOKS),
    name="[A-Za-z0-9_.@-]+",


def models_of(key):
    return [f"{MODELS}/{m}.json" for m in (NOTEBOOKS[key] or {}).get("models", []) or []]


# Pages that read runs another page trains and caches: they run after it, so that two jobs (two Slurm
# nodes) never train the same runs at once. NIS 04's 15-epoch runs and NIS 05's regular runs are page 03's.
READS_RUNS_OF = {
    "notebooks/natural_image_spaces/04_fgsm_robustness": "notebooks/natural_image_spaces/03_illusive_samples",
    "notebooks/natural_image_spaces/05_confusion_classes": "notebooks/natural_image_spaces/03_illusive_samples",
}


def others_metrics(key):
    # The scoreboard summarises every page, so it runs after them; the build report reads every job's
    # benchmark file, the scoreboard's included, so it runs last.
    if key in READS_RUNS_OF:
        return [f"{METRICS}/{READS_RUNS_OF[key]}.json"]
    if key == SCOREBOARD:
        return [f"{METRICS}/{k}.json" for k in NOTEBOOKS if k not in (SCOREBOARD, BUILD_REPORT)]
    if key == BUILD_REPORT:
        return [f"{METRICS}/{k}.json" for k in NOTEBOOKS if k != BUILD_REPORT]
    return []


rule site:
    input:
        [f"{STAGE}/{k}.ipynb" for k in NOTEBOOKS],
        [f"{STAGE}/{f}" for f in STATIC],
        f"{STAGE}/_assets/mathjax",
    output:
        f"{HTML_PARENT}/_build/html/index.html",
    shell:
        "jupyter-book build {STAGE} --path-output {HTML_PARENT} {JB_FLAGS}"


rule paper:
    input:
        [f"{METRICS}/{k}.json" for k in NOTEBOOKS if PAPER and k.startswith(f"notebooks/{PAPER_DIRS[PAPER]}/")],


rule data:
    output:
        "_build/data.ok",
    shell:
        "{PY} -m nngeom.core.data fetch mnist fashion-mnist && touch {output}"


rule model:
    input:
        _profile_file,
        ZOO_LIB,
        "_build/data.ok",
    output:
        f"{MODELS}/{{name}}.json",
    benchmark:
        f"{BENCH}/models/{{name}}.tsv"
    threads: workflow.cores
    shell:
        "OMP_NUM_THREADS={threads} {PY} -m nngeom.core.zoo build {wildcards.name} --profile {PROFILE} --marker {output}"


rule notebook:
    input:
        src="{key}.py",
        profile=_profile_file,
        lib=lambda wc: [str(p) for p in library_inputs(Path(f"{wc.key}.py"), Path("lib"))],
        data="_build/data.ok",
        models=lambda wc: models_of(wc.key),
        others=lambda wc: others_metrics(wc.key),
    output:
        nb=f"{STAGE}/{{key}}.ipynb",
        metrics=f"{METRICS}/{{key}}.json",
    benchmark:
        f"{BENCH}/notebooks/{{key}}.tsv"
    params:
        extra=lambda wc: {SCOREBOARD: f"-p metrics_dir {os.path.abspath(METRICS)}",
                          BUILD_REPORT: f"-p benchmark_dir {os.path.abspath(BENCH)}"}.get(wc.key, ""),
    threads: workflow.cores
    shell:
        "OMP_NUM_THREADS={threads} {PY} -m nngeom.book.notebook run {input.src} --profile {PROFILE} "
        "--output {output.nb} --metrics {output.metrics} --record-failure {params.extra}"


# MathJax served from the site itself (_config.yml's mathjax_path), so that formulas typeset offline.
rule mathjax:
    output:
        directory(f"{STAGE}/_assets/mathjax"),
    shell:
        "{PY} -m nngeom.book.assets mathjax {output}"


rule static:
    input:
        "{file}",
    output:
        f"{STAGE}/{{file}}",
    wildcard_constraints:
        file="|".join(f.replace(".", r"\.") for f in STATIC),
    shell:
        "cp {input} {output}"
