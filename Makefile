# framework-adoption: the two set-up commands are `make refresh` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: refresh collect analyze charts report notebooks site status test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## collect -> analyze -> charts -> scorecard, then execute the notebooks.
## Exits 1 if a source failed (charts and notebooks still regenerate from the last good data).
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
	rm -rf $(VENV) data/adoption.duckdb data/adoption.duckdb.wal data/*.lock data/raw data/notebooks \
	       .pytest_cache .ruff_cache *.egg-info
