# Hromada Ledger. `make run` and `make test` work on a fresh machine: they create .venv and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HROMADA_DATA_DIR ?= $(CURDIR)/data
export HROMADA_DATA_DIR

.PHONY: all deps run test lint bench clean node-deps postgres-bin
all: test

$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements/lock.txt -e '.[dev]'
	# merkletools is a benchmark peer only; its pysha3 dependency does not build on 3.11, so no deps
	$(PIP) install -q --no-deps merkletools==1.0.3
	@touch $(STAMP)

# Everything the project needs on its machines; the mk/*.mk fragments add their own prerequisites to `deps`.
deps: $(STAMP)

run: deps
	$(VENV)/bin/hromada serve

test: deps postgres-bin
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: deps contract-check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: deps
	$(PY) -m bench $(BENCH_ARGS)

# The tests start a throwaway PostgreSQL on 127.0.0.1 (tests/pg.py); install the server when it is missing.
postgres-bin:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { echo "installing PostgreSQL server (Debian package)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null; }

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

-include mk/*.mk
