# Two entry points: `make run` starts the daemon on its embedded default,
# `make test` runs the checks and the whole test suite. Both create or
# refresh the virtual environment in .venv first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# Most tests wait on real processes and servers, so two pytest-xdist workers
# shorten the run even on two cores. PYTEST_PARALLEL= runs them in one process.
PYTEST_PARALLEL ?= -n 2 --dist worksteal

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
	$(BIN)/pytest $(PYTEST_PARALLEL) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
