#!/usr/bin/env bash
# Prepares what the GPU benchmark carries to a lent GPU machine, which has no network: run it here,
# from the repo root, after `make setup`. It writes the ignored folder .gpu/ in two halves that each
# fit one device call (64 MiB): .gpu/a holds llama-cpp-python's source (from PyPI, without its git
# history, test vocabularies and docs) and the first half of the embedded SmolLM2 GGUF; .gpu/b
# holds the second half, its SHA-256 and a few wheels. Then see benchmarks/gpu_device.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
rm -rf .gpu/a .gpu/b /tmp/bakeoff-gpu-sdist
mkdir -p .gpu/a .gpu/b /tmp/bakeoff-gpu-sdist
python3 -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d /tmp/bakeoff-gpu-sdist
tar xzf "/tmp/bakeoff-gpu-sdist/llama_cpp_python-$VERSION.tar.gz" -C /tmp/bakeoff-gpu-sdist
SRC="/tmp/bakeoff-gpu-sdist/llama_cpp_python-$VERSION"
rm -rf "$SRC/.git" "$SRC/vendor/llama.cpp/docs" "$SRC/vendor/llama.cpp/media" "$SRC/vendor/llama.cpp/benches"
find "$SRC/vendor/llama.cpp/models" -name '*.gguf' -delete
tar czf .gpu/a/llama-cpp-python-src.tar.gz -C /tmp/bakeoff-gpu-sdist "llama_cpp_python-$VERSION"
# llama-cpp-python imports diskcache, and Bakeoff's own engine runs there too (the "bakeoff
# --gpu-layers auto" row): the Python packages the machine's image lacks, as wheels for its
# Python 3.12, at this venv's versions.
PINS=$(.venv/bin/pip freeze | grep -i -E '^(pydantic|pydantic_core|pydantic-settings|python-dotenv|annotated-types|typing-inspection|typing_extensions|gguf|diskcache)==')
mkdir -p .gpu/b/wheels
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .gpu/b/wheels $PINS
MODEL=$(.venv/bin/python -c 'from bakeoff.models.packaged import smollm2_path; print(smollm2_path())')
HALF=$(( ($(stat -c %s "$MODEL") + 1) / 2 ))
head -c "$HALF" "$MODEL" > .gpu/a/model.part1
tail -c +"$((HALF + 1))" "$MODEL" > .gpu/b/model.part2
sha256sum "$MODEL" | cut -d' ' -f1 > .gpu/b/model.sha256
du -sh .gpu/a .gpu/b
