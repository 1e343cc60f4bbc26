#!/usr/bin/env bash
# The GPU benchmark on a lent NVIDIA machine (no network), from the repo root, in two calls of the
# same command (the machine keeps ignored files between calls while it stays warm, ~30 s):
#   call 1, carry [".gpu/a"]: builds llama-cpp-python for CUDA (the Makefile's x86-64-v3 CPU flags,
#          CUDA_ARCHS, default 90 = Hopper) into .gpu/build and keeps the model's first half; if it
#          runs out of time, the same call again resumes the compile (.gpu/build/cmake is kept);
#   call 2, carry [".gpu/b"]: joins and checks the model, installs the few Python packages the image
#          lacks (diskcache for llama-cpp-python; pydantic & co. for Bakeoff's own engine), runs
#          benchmarks/gpu_speed.py.
# Results go to $OUT/gpu_speed.txt. Prepare .gpu/ first with benchmarks/gpu_prepare.sh.
set -euo pipefail
G=.gpu
B=$G/build
OUT=${OUT:-/tmp}
mkdir -p $B
if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH CUDACXX=/usr/local/cuda/bin/nvcc; fi
if [ ! -f $B/site/llama_cpp/__init__.py ]; then
  [ -f $G/a/llama-cpp-python-src.tar.gz ] || { echo "no .gpu/a: run benchmarks/gpu_prepare.sh, carry .gpu/a"; exit 2; }
  rm -rf /tmp/llama-src && mkdir -p /tmp/llama-src
  tar xzf $G/a/llama-cpp-python-src.tar.gz -C /tmp/llama-src
  X86=$(sed -n 's/^X86_V3 := //p; /^  -DGGML_AMX/p' Makefile | tr -d '\\' | tr '\n' ' ')
  t0=$(date +%s)
  CMAKE_ARGS="$X86 -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS:-90}" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    python3 -m pip wheel -q --no-build-isolation --no-deps --config-settings=build-dir=$PWD/$B/cmake \
    /tmp/llama-src/llama_cpp_python-* -w $B/wheels
  python3 -m pip install -q --no-deps --no-index --target $B/site $B/wheels/llama_cpp_python-*.whl
  echo "CUDA wheel built in $(( $(date +%s) - t0 )) s: $(ls $B/wheels)"
fi
[ -f $G/a/model.part1 ] && cp $G/a/model.part1 $B/
if [ ! -f $G/b/model.part2 ]; then
  echo "built; now run the same command again at once with carry [\".gpu/b\"]"
  exit 0
fi
python3 -m pip install -q --no-deps --no-index --target $B/deps $G/b/wheels/*.whl
cat $B/model.part1 $G/b/model.part2 > $B/model.gguf
[ "$(sha256sum $B/model.gguf | cut -d' ' -f1)" = "$(cat $G/b/model.sha256)" ] || { echo "model halves do not match"; exit 3; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
PYTHONUNBUFFERED=1 PYTHONPATH=$B/site:$B/deps:src python3 benchmarks/gpu_speed.py --model $B/model.gguf \
  --gpu-site $B/site --threads ${THREADS:-8} --repeats ${REPEATS:-10} 2>&1 | tee $OUT/gpu_speed.txt
