# framework-adoption: the two set-up commands are `make refresh` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: refresh collect analyze charts report publish notebooks site status test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## collect -> analyze -> charts -> scorecard, then execute the notebooks. Writes only untracked
## outputs (data/charts, data/results, data/notebooks). If the pipeline exits non-zero (1: a
## source failed, the others still ran; 2: usage/config error), make reports it and exits 2.
refresh: $(STAMP)
	@status=0; $(BIN)/python -m pipeline refresh $(ARGS) || status=$$?; \
	$(MAKE) --no-print-directory notebooks || status=1; \
	$(MAKE) --no-print-directory site || status=1; \
	exit $$status

analyze: $(STAMP)
	$(BIN)/python -m pipeline analyze

charts: $(STAMP)
	$(BIN)/python -m pipeline charts

report: $(STAMP)
	$(BIN)/python -m pipeline report

## copy the current charts and results into the tracked published/ folder and README blocks
publish: $(STAMP)
	$(BIN)/python -m pipeline publish $(ARGS)

status: $(STAMP)
	$(BIN)/python -m pipeline status

notebooks: $(STAMP)
	$(BIN)/python -m pipeline notebooks

## the report page data/site/index.html (open it in a browser; deployed by refresh.yml)
site: $(STAMP)
	$(BIN)/python -m pipeline site

test: $(STAMP)
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/ruff format --check pipeline tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) data/adoption.duckdb data/adoption.duckdb.* data/*.lock data/raw data/notebooks \
	       data/charts data/results data/site \
	       .pytest_cache .ruff_cache *.egg-info
