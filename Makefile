# cac-filings — `make` with no target runs exactly what CI runs (`make test`).
#   make run    install into .venv, crawl, build, publish and serve Datasette
#   make test   install the dev tools into .venv, then lint, type-check and run every test
# Point `make run` at a mirror with CAC_WWW_BASE / CAC_BEIAN_BASE (see README.md).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8001
ARGS   ?=

.DEFAULT_GOAL := test

# A recipe that fails removes its target (a venv whose pip upgrade failed is made again).
.DELETE_ON_ERROR:
.PHONY: run test lint typecheck pytest bench bench-serve soak docs install dev clean

# A current pip first: the pip a venv starts with (23.x on Python 3.11) spends 20 s of CPU
# matching every file on the index against this platform's tags; pip 25 and newer, 8 s.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile --upgrade 'pip>=25'

# --no-compile: Python compiles what it imports when it first imports it; compiling every
# installed file up front doubles the install's time. uv installs what pip would (the same
# versions, from PyPI) in a fraction of its time (the dev tools: 2 s for uv itself and 3.4 s,
# against pip's 16 s); where uv cannot be had or cannot reach the index, pip installs it all.
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check --no-compile
INSTALL = ($(PIP_INSTALL) uv && $(BIN)/uv pip install --quiet --python $(BIN)/python -e '$(1)') \
	|| (echo "uv could not install $(1): pip installs it" && $(PIP_INSTALL) -e '$(1)')

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(call INSTALL,.)
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(call INSTALL,.[dev])
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

run: install
	$(BIN)/cac-filings run --port $(PORT) $(ARGS)

# Lint and type-check run beside the tests (-j): the suite does not wait for them.
test: dev
	$(MAKE) --no-print-directory -j3 lint typecheck pytest

lint: dev
	$(BIN)/ruff check src scrapers tests benchmarks

typecheck: dev
	$(BIN)/mypy

# Test files run on two workers more than the CPUs this process may use (pytest-xdist), each
# file on one worker, so that a module's shared fixtures are built once; the slowest files
# first (tests/conftest.py, SLOW_FILES: --no-loadscope-reorder keeps that order). The extra
# workers run while the others wait on servers (the replica, Chromium, a killed build, a
# rate limit's Retry-After): on 2 cores, from a clean clone, 4 workers took 96 s of pytest, 3 took
# 102-103 s (86-94 s at an earlier stop, with fewer tests), 2 took 104-114 s.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 2 \
	if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 2)')

# Python caches what it compiles (__pycache__, ignored by git) unless PYTHONDONTWRITEBYTECODE
# is set, as it is on some machines and CI images: then every test worker, every `cac-filings`
# subprocess and every server a test starts compiles Datasette, pyarrow's Python and the rest
# again (the suite's collection alone: 6.6 s against 2.4 s per worker).
pytest: dev
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder

docs: dev
	$(BIN)/python -m cac_filings.docs

bench: dev
	$(BIN)/python benchmarks/rebuild.py $(ARGS)

# The reader pages at about 1 M filings (a scaled copy of a release) against the same at 1×;
# e.g. make bench-serve ARGS="--factor 20 --work /tmp/cac-serve".
bench-serve: dev
	$(BIN)/python benchmarks/serve.py $(ARGS)

soak: dev
	$(BIN)/python benchmarks/soak.py $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
