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
# uv installs the pinned requirements in about a seventh of pip's time (13 s against 95 s on the
# 2-core CI machine); pip is the fallback where uv cannot reach the index.
UV_INSTALL := $(VENV)/bin/uv pip install --quiet --python $(VPY)
CDK := node_modules/.bin/cdk

.PHONY: test lint typecheck docs pytest demo synth bench soak clean install

install: $(STAMP) $(CDK)

$(STAMP): requirements.txt runtime/pyproject.toml tools/pyproject.toml constructs/pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: lambda-jobs needs Python 3.12 or newer (tried: $(PYTHON_CANDIDATES)). Install one, or set PYTHON=/path/to/python3.12." >&2; \
	  exit 1; fi
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet uv
	$(UV_INSTALL) -r requirements.txt || $(VPY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(CDK)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Two passes. First everything but the soak tests that time their functions, on four pytest-xdist
# workers (a file's tests stay on one worker, so module fixtures such as an emulator are shared;
# the tests mostly wait on emulated functions, so four workers fill two cores: 5.4 min against 7.8
# with two; the demo and soak apps are synthesized once for all four: tests/e2e/conftest.py
# shared_synthesis). Then those soak tests on their own, four files at a time: their deadline, kill,
# lease and outage-window tests time 2 s functions and must not share the machine with the first
# pass; among themselves they mostly wait (4.5 min one file at a time, about 1.6 min four at once).
SOAK_ALONE := tests/soak/test_deadlines.py tests/soak/test_kills.py tests/soak/test_crashes.py \
	tests/soak/test_limits.py tests/soak/test_workflow_faults.py tests/soak/test_workflow_kills.py \
	tests/soak/test_duplicates.py
pytest: $(STAMP) $(CDK)
	$(VENV)/bin/pytest -n 4 --dist loadfile --durations=15 $(addprefix --ignore ,$(SOAK_ALONE))
	$(VENV)/bin/pytest -n 4 --dist loadfile --durations=10 $(SOAK_ALONE)

# The documentation site (mkdocs.yml, docs/): a broken link, anchor or nav entry fails the build.
# Output goes to site/ (git-ignored, outside every JobCode project directory and the CDK output).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# mypy (about a minute of one core from a clean cache) runs beside pytest: the first pass leaves
# a core idle while its tests wait on emulated functions. A failure of either fails the target.
test: lint docs
	@$(MAKE) --no-print-directory -j2 typecheck pytest

synth: $(STAMP) $(CDK)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CDK) synth --quiet

demo: synth
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) -m stacks.demo_run --app cdk.out

# Celery and Powertools are benchmark-only baselines: installed for `make bench`, never by `install`.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) benchmarks/requirements.txt
	$(UV_INSTALL) -r benchmarks/requirements.txt || $(VPY) -m pip install --quiet -r benchmarks/requirements.txt
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) $(CDK)
	BENCH_COMMAND="make bench" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) benchmarks/run.py

# The reliability suite at full size (tests/soak, see tests/soak/sizes.py): 2,000 Goat and 500 Lamb
# jobs under load, environments killed mid-job and mid-batch, deadlines hit mid-batch, throttling
# and 5xx on enqueue, hypothesis bad input; figures printed and written to tests/soak/RESULTS.md.
# `make test` runs the same tests at the reduced CI size (no SOAK_SCALE).
soak: $(STAMP) $(CDK)
	SOAK_SCALE=full SOAK_COMMAND="make soak" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  $(VENV)/bin/pytest tests/soak -q --timeout 1800

clean:
	rm -rf $(VENV) node_modules cdk.out site .mypy_cache .ruff_cache .pytest_cache
