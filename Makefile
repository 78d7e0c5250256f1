# framework-adoption: the two set-up commands are `make refresh` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
## axe-core (MPL-2.0), for the browser test only: pinned with its sha512 in
## tests/browser/package-lock.json, installed from the npm registry into an ignored folder
AXE     = tests/browser/node_modules/axe-core/axe.min.js
ARGS   ?=

.PHONY: refresh analyze charts report publish notebooks site status test lint bench clean \
        mirrors mutants

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## collect -> analyze -> charts -> scorecard, then execute the notebooks, then build the site
## (once, with the notebooks in it). Writes only untracked outputs (data/charts, data/results,
## data/notebooks, data/site). If the pipeline exits non-zero (1: a source failed, the others
## still ran; 2: usage/config error), make reports it and exits 2; after a usage or
## configuration error (said once) nothing else runs.
refresh: $(STAMP)
	@status=0; $(BIN)/python -m pipeline refresh $(ARGS) || status=$$?; \
	if [ $$status -eq 2 ]; then exit 2; fi; \
	$(MAKE) --no-print-directory notebooks ARGS= || status=1; \
	$(MAKE) --no-print-directory site ARGS= || status=1; \
	exit $$status

## one pipeline command each (ARGS passes options, e.g. make publish ARGS=--force):
## analyze, charts, report, publish (charts + results into the tracked published/ folder and
## README blocks), status, notebooks, site (data/site/index.html, deployed by refresh.yml)
analyze charts report publish status notebooks site: $(STAMP)
	$(BIN)/python -m pipeline $@ $(ARGS)

$(AXE): tests/browser/package-lock.json
	@(npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $@) \
	  || echo "warning: could not install axe-core from npm: the accessibility check will be skipped" >&2

## ruff, then the suite with a line per test file (about 15 minutes on 2 cores). Tests that
## need the real mirrors find them under ADOPTION_SHARED_MIRROR (default ../shared/mirror) and
## are skipped, naming the mirror, where it is absent: `make mirrors` downloads them (online).
test: $(STAMP) $(AXE)
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/python -m pytest $(ARGS)

## download the real mirrors (data/reference/mirrors.toml) from their public origins at pinned
## commits into ADOPTION_SHARED_MIRROR (default ../shared/mirror), each file checked; a mirror
## already there and verified is kept as it is. Needs the internet.
mirrors: $(STAMP)
	$(BIN)/python -m pipeline.get_mirrors $(ARGS)

## break the code in the ways an audit did (tests/mutations.py), each in a temporary copy, and
## check that the part of the suite guarding it fails (a few minutes; one runs in make test)
mutants: $(STAMP)
	$(BIN)/python -m tests.mutations $(ARGS)

## ruff's lint rules (E, F, W, I, B, UP, SIM; also run by make test). The code keeps its compact
## 100-column hand layout, so `ruff format` is not applied (it would grow every module by ~20%).
lint: $(STAMP)
	$(BIN)/ruff check pipeline tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) data/adoption.duckdb data/adoption.duckdb.* data/*.lock data/raw data/notebooks \
	       data/charts data/results data/site data/export data/.site-* \
	       .pytest_cache .ruff_cache *.egg-info tests/browser/node_modules
