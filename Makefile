# creditguard — `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Every distribution of the repository: core, measure packs, adapters. The examples
# are not installed: an installed measure plugin takes part in every check.
DISTS  := $(sort $(dir $(wildcard plugins/*/pyproject.toml adapters/*/pyproject.toml)))
EDITABLE := -e . $(foreach d,$(DISTS),-e $(d))

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.core: $(BIN)/python pyproject.toml $(wildcard plugins/*/pyproject.toml adapters/*/pyproject.toml)
	$(BIN)/pip install -q $(EDITABLE)
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(BIN)/pip install -q -e '.[test,postgres,server,examples,report]'
	touch $@

demo: $(VENV)/.core
	$(BIN)/python examples/demo/run_demo.py

lint: $(VENV)/.test
	$(BIN)/ruff check src plugins adapters examples tests benchmarks
	$(BIN)/ruff format --check src plugins adapters examples tests benchmarks

typecheck: $(VENV)/.test
	$(BIN)/mypy

unit: $(VENV)/.test
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(VENV)/.test
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/bench_check.py

clean:
	rm -rf $(VENV) examples/demo/var
