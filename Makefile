# Quick start: `make search` runs the default search; `make test` runs the test suite.
# Both create .venv and install what they need on first use. `make docs` builds the site into site/.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch; set TORCH=torch (or another spec) for a CUDA machine.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
CORE := $(VENV)/.installed-core
DEV := $(VENV)/.installed-dev
DOCS := $(VENV)/.installed-docs
ARGS ?=
PYTEST_ARGS ?=

.PHONY: search test test-slow test-all lint install docs clean

# what a search needs: torch and the package's own dependencies
$(CORE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e .
	touch $(CORE)

# the tests add the dev extra (pytest, the ONNX packages, ray)
$(DEV): $(CORE)
	$(BIN)/pip install -q -e ".[dev]"
	touch $(DEV)

# the site adds the docs extra (mkdocs, Material, gen-files, mkdocstrings)
$(DOCS): $(CORE)
	$(BIN)/pip install -q -e ".[docs]"
	touch $(DOCS)

install: $(DEV)

search: $(CORE)
	$(BIN)/hybridnas search $(ARGS)

test: $(DEV)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# the tests marked slow (over about 20 s each: kills, a whole search on Ray), which CI runs after `make test`
test-slow: $(DEV)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# ruff, configured in pyproject.toml ([tool.ruff]); the dev extra pins its version
lint: $(DEV)
	$(BIN)/ruff check .

test-all: $(DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# --strict: a broken link or anchor, or a page left out of the nav, fails the build
docs: $(DOCS)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache site
