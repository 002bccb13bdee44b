# Quick start: `make search` runs the default search; `make test` runs the test suite.
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch; set TORCH=torch (or another spec) for a CUDA machine.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: search test test-all install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

search: $(STAMP)
	$(BIN)/hybridnas search $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
