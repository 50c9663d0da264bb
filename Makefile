# lambda-jobs: `make demo` runs real jobs locally, `make test` runs the checks.
# Both targets install what they need into .venv (Python) and node_modules (CDK CLI).

SHELL := /bin/bash
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

# First interpreter that is Python 3.12 or newer. Under pyenv, .python-version selects 3.12;
# a pyenv shim for a version that is not selected fails to run and is skipped.
PYTHON_CANDIDATES := python3.13 python3.12 python3
PYTHON ?= $(shell for p in $(PYTHON_CANDIDATES); do \
	if $$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	  command -v $$p; break; fi; done)

VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CDK := node_modules/.bin/cdk

.PHONY: test lint typecheck pytest demo synth bench soak clean install

install: $(STAMP) $(CDK)

$(STAMP): requirements.txt runtime/pyproject.toml constructs/pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: lambda-jobs needs Python 3.12 or newer (tried: $(PYTHON_CANDIDATES)). Install one, or set PYTHON=/path/to/python3.12." >&2; \
	  exit 1; fi
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(CDK)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) $(CDK)
	$(VENV)/bin/pytest

test: lint typecheck pytest

synth: $(STAMP) $(CDK)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CDK) synth --quiet

demo: synth
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) -m stacks.demo_run --app cdk.out

# Celery and Powertools are benchmark-only baselines: installed for `make bench`, never by `install`.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) benchmarks/requirements.txt
	$(VPY) -m pip install --quiet -r benchmarks/requirements.txt
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) $(CDK)
	BENCH_COMMAND="make bench" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) benchmarks/run.py

# The reliability suite at the issue's size: 2,000 Goat and 500 Lamb jobs under load, the
# process-fault tests and the hypothesis bad-input tests (with how many cases each tried).
# `make test` (CI) runs the same tests, the load at 100 Goat and 40 Lamb jobs.
soak: $(STAMP) $(CDK)
	LAMBDA_JOBS_SOAK_GOAT_JOBS=2000 LAMBDA_JOBS_SOAK_LAMB_JOBS=500 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  $(VENV)/bin/pytest -s -q --timeout 1800 --hypothesis-show-statistics \
	  tests/soak tests/e2e/test_processes.py tests/runtime/test_handler_properties.py

clean:
	rm -rf $(VENV) node_modules cdk.out .mypy_cache .ruff_cache .pytest_cache
