#!/usr/bin/env bash
# Build llama-cpp-python's wheel once into a local wheelhouse that every later install reuses.
# Compiling llama.cpp takes about six minutes on two cores; the wheel is specific to this machine's CPU.
set -euo pipefail
version="$1"
wheelhouse="${WHEELHOUSE:?set WHEELHOUSE}"
python="${PYTHON:-python3}"

if compgen -G "$wheelhouse/llama_cpp_python-$version-*.whl" >/dev/null; then
  exit 0
fi
mkdir -p "$wheelhouse"
# llama.cpp built with -march=native uses Intel AMX kernels where the CPU has them, and those crash when
# decoding runs outside the main thread (llama.cpp PR #26954) -- which is always the case in a server.
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
echo "building llama-cpp-python $version (about 6 minutes on 2 cores) into $wheelhouse"
CMAKE_ARGS="-DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx'" \
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  "$python" -m pip wheel --no-deps --no-binary llama-cpp-python -w "$wheelhouse" "llama-cpp-python==$version"
