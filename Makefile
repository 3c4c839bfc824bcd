# Two commands do everything on a fresh machine:
#   make book    set-up, data, models, every notebook (profile $(PROFILE)), HTML site in _build/html
#   make test    set-up, data, unit tests, the smoke build of every notebook, jupyter-book build -W
PROFILE ?= default
CORES ?= 2
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nngeom-installed

.PHONY: book test test-cluster data venv clean bench mutations browser cluster-deps

# The venv is (re)installed when the lock or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

data: $(STAMP)
	$(PY) -m nngeom.core.data fetch mnist fashion-mnist

# --keep-going and the runner's failure records: a failing page does not stop the others or the site; the
# failures check at the end lists the failed pages (partial notebooks under _build/failed/) and fails make.
# PAPER=<code> (ANX, FSH, IPN, LRG, NIS) builds that paper's pages only, and no site. Every page's parameters
# at the profile are checked first (seconds), so a bad value stops the build before hours of computing.
book: data
	$(PY) -m nngeom.book.notebook check --profile $(PROFILE)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/snakemake --keep-going --cores $(CORES) --config profile=$(PROFILE) python=$(PY) \
	  $(if $(PAPER),paper=$(PAPER) -- paper); \
	  status=$$?; $(PY) -m nngeom.book.notebook failures --profile $(PROFILE) && exit $$status
	@echo "site: $(if $(filter default,$(PROFILE)),_build/html,_build/site-$(PROFILE)/_build/html)/index.html"

# The browser tests open the built site in Debian's headless Chromium (tests/test_sitecheck.py, test_book.py).
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null || \
	  { echo "make test needs Debian's chromium for its browser tests: apt-get install chromium (as root)"; exit 1; }

# The cluster test starts a single-node Slurm from Debian's packages (tests/slurm_cluster.py).
cluster-deps:
	@command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 || \
	  apt-get install -y -q slurm-wlm munge >/dev/null || \
	  { echo "make test-cluster needs Debian's slurm-wlm and munge: apt-get install slurm-wlm munge (as root)"; exit 1; }

test: data browser
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

# Not part of make test (it adds a second smoke run of one paper, through Slurm): the natural-image-spaces
# paper's smoke workflow through profiles/slurm on a single-node Slurm, checked against the smoke expectations.
test-cluster: data cluster-deps
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -m cluster tests/test_book.py $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py

# Mutation check (not part of make test): applies targeted bugs to the core algorithms in a copy of the
# tree and runs the tests that should catch each one; see tests/README.md for the table.
mutations: data
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tests/mutations.py --markdown _build/mutations.md

clean:
	rm -rf _build .snakemake
