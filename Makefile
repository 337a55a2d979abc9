# Two entry points: `make run` starts the daemon on its embedded default,
# `make test` runs the checks and the whole test suite. Both create or
# refresh the virtual environment in .venv first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/inference-watchdog run $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check watchdog tests migrations bench
	$(BIN)/mypy
	$(BIN)/pytest $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
