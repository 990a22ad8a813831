# Thin, self-documenting aliases. `make` alone prints this help.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3
# DVC stages call `pipeline ...`: make the venv's commands visible to them.
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := False

.PHONY: help install run test lint engine

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv (if missing) and install the project with its locked dependencies

run: install ## the main job: `dvc repro` of the whole pipeline on the embedded data, then the report
	$(BIN)/dvc repro
	$(BIN)/pipeline report

engine: ## start the real Docker engine, registry binary and stand-in base images the e2e tests use
	@scripts/ci/docker-engine.sh || { [ "$${CI:-}" != "true" ] && echo "make: no Docker engine; end-to-end tests will skip (run 'sudo make engine')"; }

test: install engine ## the full test suite: unit, integration (real DVC + GX), end-to-end (real Docker)
	$(BIN)/pytest

lint: install ## ruff, mypy and the import contracts
	$(BIN)/ruff check pipeline tests
	$(BIN)/mypy
	$(BIN)/lint-imports
