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
# DVC forks an analytics daemon per command otherwise (CI machines cannot reach it; it only costs CPU).
export DVC_NO_ANALYTICS := 1

.PHONY: help install run test lint lock engine repro hadolint ci ci-steps

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# pip bootstraps uv (pinned in the lock), uv installs the locked set: on this project's 2-core CI machine a
# fresh venv took 2 min 41 s with pip, 47 s with uv from a cold cache and 32 s warm; uv hard-links from its cache, so
# every workflow job of the test tier (tests/e2e/workflows) gets its own venv in seconds and without 1.5 GB of
# copies. UV_SYSTEM_CERTS: trust what the machine trusts (proxies that intercept TLS), as pip does.
#
# Three locked packages ship only as sdists (pyspark among them). Where the package index answers without HTTP
# cache headers (a proxy or mirror), uv builds each again on every install and keeps every build: 1.3 GB of sources
# and unpacked wheel per venv for pyspark alone, so the workflow tier's dozen `make install`s filled a CI disk. pip
# builds their wheels once into WHEELS (in a temporary directory, then moved: jobs running side by side never read
# half a file); uv installs those wheels. tests/e2e/workflows checks that the jobs' installs build no sdist.
WHEELS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mlops-ci/wheels
SDIST_PINS := $(shell grep -E '^(pyspark|antlr4-python3-runtime|www-authenticate)==' requirements/lock.txt)
WHEELS_STAMP := $(WHEELS)/.built-$(shell echo '$(SDIST_PINS)' | sha256sum | cut -c1-16)
$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/lock.txt uv
	@test -e $(WHEELS_STAMP) || { mkdir -p $(WHEELS) && tmp=$$(mktemp -d $(WHEELS)/.build.XXXXXX) && \
	  $(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps -w $$tmp $(SDIST_PINS) && \
	  mv $$tmp/*.whl $(WHEELS)/ && touch $(WHEELS_STAMP); status=$$?; rm -rf $$tmp; exit $$status; }
	VIRTUAL_ENV=$(abspath $(VENV)) UV_SYSTEM_CERTS=1 $(BIN)/uv pip install --quiet --python $(BIN)/python \
	  --find-links $(WHEELS) -c requirements/lock.txt -e '.[dev]'
	@# Every Python of the venv bounds what DVC parses: a bare `dvc repro` refuses an alias bomb (pipeline/dvc_guard.py).
	$(BIN)/python -c 'from pipeline.dvc_guard import write_pth; write_pth()'
	@touch $(STAMP)

install: $(STAMP) ## create .venv (if missing) and install the project with its locked dependencies
	@# Inside GitHub Actions, the workflow's later steps call `pipeline ...` directly.
	@if [ -n "$${GITHUB_PATH:-}" ]; then echo "$(BIN)" >> "$$GITHUB_PATH"; fi

# `pipeline check` first: DVC parses params.yaml without bounds, and an alias bomb in it would hang `dvc repro`.
# The report is written even when a stage or gate fails (it says why); make still exits non-zero then.
run: install ## the main job: `dvc repro` of the whole pipeline on the example data, then the report
	$(BIN)/pipeline check
	@status=0; $(BIN)/dvc repro || status=$$?; \
	  $(BIN)/pipeline report; exit $$status

engine: ## start the real Docker engine, registry binary and stand-in base images the e2e tests use; install Prometheus
	@scripts/ci/docker-engine.sh || { [ "$${CI:-}" != "true" ] && echo "make: no Docker engine; end-to-end tests will skip (run 'sudo make engine')"; }
	@scripts/ci/prometheus.sh || { [ "$${CI:-}" != "true" ] && echo "make: no Prometheus; monitoring tests will skip (run 'sudo make engine')"; }

test: install engine ## the full test suite: unit, integration (real DVC + GX), end-to-end (real Docker)
	$(BIN)/pytest

repro: install ## `dvc repro`: rerun only the stages whose code, params or data changed
	$(BIN)/pipeline check
	$(BIN)/dvc repro

hadolint: install ## hadolint on the Dockerfile (the scan gate repeats it with its policy)
	$(BIN)/hadolint Dockerfile

# The pull-request workflow's pipeline job, step for step (.github/workflows/reusable-pr.yml); the Trivy
# report exists only where the workflow's Trivy step ran. The report is written even when a step fails.
ci: install ## the pull-request pipeline locally: DVC, gates, Dockerfile lint, image, scan, smoke test, report
	@status=0; $(MAKE) --no-print-directory ci-steps || status=$$?; \
	  $(BIN)/pipeline report; exit $$status

# Extra `pipeline image build` flags, e.g. on machines without Docker Hub:
#   make ci IMAGE_BUILD_FLAGS="--build-arg PYTHON_IMAGE=local/python-base:3.11-ca --network host"
IMAGE_BUILD_FLAGS ?=
# Trivy runs in the workflow; locally its report is used when present, else the scan report says it did not run.
TRIVY_REPORT ?= reports/trivy.json
SCAN_FLAGS ?= $(if $(wildcard $(TRIVY_REPORT)),--trivy-report $(TRIVY_REPORT),--allow-missing trivy)

# `pipeline track log` says "tracking: off" unless MLFLOW_TRACKING_URI is set; an unreachable server only warns.
ci-steps:
	$(BIN)/pipeline ci pull
	$(MAKE) --no-print-directory repro
	$(BIN)/pipeline track log
	$(BIN)/pipeline gate data
	$(BIN)/pipeline gate metrics
	$(MAKE) --no-print-directory hadolint
	$(BIN)/pipeline image build $(IMAGE_BUILD_FLAGS)
	$(BIN)/pipeline scan $(SCAN_FLAGS)
	$(BIN)/pipeline image run --smoke

lock: install ## re-pin requirements/lock.txt from the current .venv (after changing dependencies)
	@{ echo '# Pinned versions of every dependency (pip freeze of a resolved .venv with the dev extra). Regenerate with `make lock`.'; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^mlops-ci-pipeline'; } > requirements/lock.txt

lint: install ## ruff, mypy and the import contracts
	$(BIN)/ruff check pipeline model_server heroku_local tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
