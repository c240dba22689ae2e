# The whole set-up on a machine with Python 3.11+ and make: `make up`, `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: help install up down clean status test openapi gateway-config lint format seed bench screenshot
JOBS ?= 1000000
FORCE ?=

help:
	@echo "make up       start PostgreSQL, both services and the gateway (http://127.0.0.1:8080)"
	@echo "make down     stop everything 'make up' started; the data stays"
	@echo "make clean    stop and remove all local state (data, logs, the test stack)"
	@echo "make status   show what is running"
	@echo "make test     lint, service tests, contract tests through the gateway"
	@echo "make openapi  regenerate shared/openapi.yaml (and the dashboard's contract.js) from the code, then the gateway's config"
	@echo "make gateway-config  regenerate gateway/generated/ from the problem catalogue and openapi.yaml"
	@echo "make seed     fill the running stack with JOBS jobs (default 1000000; FORCE=1 to add)"
	@echo "make bench    benchmark the running, seeded stack; writes docs/benchmarks.md"
	@echo "              SET=replicas: the read side's scale-out (stack up with QUERY_INSTANCES=2 READ_REPLICAS=1); docs/benchmarks-replicas.md"
	@echo "make screenshot  picture of the running stack's dashboard: docs/dashboard.png"

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: Python 3.11 or newer is needed as $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(INSTALLED)

up: $(INSTALLED)
	@$(PY) -m stack up

down:
	@if [ -x $(PY) ]; then $(PY) -m stack down; else echo "nothing to stop"; fi

status: $(INSTALLED)
	@$(PY) -m stack status

clean:
	@if [ -x $(PY) ]; then $(PY) -m stack clean; $(PY) -m stack --state-dir .stack-test clean; fi
	rm -rf .stack .stack-test

test: $(INSTALLED)
	@$(PY) -m stack test

seed: $(INSTALLED)
	@$(PY) -m stack seed --jobs $(JOBS) $(if $(FORCE),--force,)

bench: $(INSTALLED)
	@$(PY) -m stack bench --set $(or $(SET),reads)

screenshot: $(INSTALLED)
	@$(PY) -m stack screenshot

# The gateway's methods table is generated from the description, so it follows it.
openapi: $(INSTALLED)
	@$(PY) -m stack openapi
	@$(PY) -m stack gateway-config

gateway-config: $(INSTALLED)
	@$(PY) -m stack gateway-config

lint: $(INSTALLED)
	$(PY) -m ruff check shared services stack tests
	$(PY) -m ruff format --check shared services stack tests

format: $(INSTALLED)
	$(PY) -m ruff check --fix shared services stack tests
	$(PY) -m ruff format shared services stack tests
