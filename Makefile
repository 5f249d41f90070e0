# Oodaloo — every target installs what it needs first (a virtualenv in .venv, pinned by requirements.lock).
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= auto

.PHONY: install run test lint bench sandbox clean

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@bash scripts/ensure-browser.sh
	@touch $(STAMP)

install: $(STAMP)

## Start Oodaloo in the embedded default: SQLite under ./var, jobs in-process, the QBO sandbox with a demo company.
run: install
	$(BIN)/oodaloo run

## The whole suite: lint, types, layer contracts, migrations check, tests.
test: install lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

## Benchmarks: figures printed and written as flat JSON under var/bench/.
bench: install
	$(BIN)/python -m benchmarks

## The QBO sandbox alone, on 127.0.0.1:8765.
sandbox: install
	$(BIN)/oodaloo sandbox

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
