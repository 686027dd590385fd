# Quảng Ninh IOC lakehouse. Two commands do all set-up: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
SUPERSET_VENV := .venv-superset
export UV_PYTHON := $(PYTHON)

.PHONY: setup demo stop test test-fast lint generate clean help

help:
	@echo "make demo   - set up, generate the province's sources, run the pipeline under Airflow"
	@echo "make test   - set up and run the test suite"
	@echo "make stop   - stop the services make demo left running"
	@echo "make setup  - (idempotent) both locked environments + generated secrets"

$(UV):
	$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv

# Platform env: Airflow 3.3, dbt 1.11, GX, MLflow, Spark, delta-rs, DuckDB... (uv.lock)
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

# Superset 6.1 needs SQLAlchemy 1.4: its own env (infra/superset/uv.lock).
$(SUPERSET_VENV)/.installed: infra/superset/pyproject.toml infra/superset/uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(SUPERSET_VENV) $(UV) sync --frozen --project infra/superset --python $(PYTHON)
	@touch $@

# Secrets are generated here, never committed (.env is git-ignored).
.env: infra/scripts/generate-secrets.sh
	bash infra/scripts/generate-secrets.sh .env

setup: $(VENV)/.installed $(SUPERSET_VENV)/.installed .env

demo: setup
	$(VENV)/bin/ioc demo

stop:
	$(VENV)/bin/ioc stop

test: setup
	bash infra/scripts/ensure-services.sh
	bash infra/scripts/ensure-chromium.sh
	$(VENV)/bin/python -m pytest -q

test-fast: setup
	$(VENV)/bin/python -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check lakehouse dags tests benchmarks

generate: setup
	$(VENV)/bin/ioc catalog generate

clean:
	rm -rf var dbt_project/target dbt_project/logs
