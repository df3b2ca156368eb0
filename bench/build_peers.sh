#!/usr/bin/env bash
# Build the peers the engine benchmark compares against, into bench/.work (never committed):
#  - llama.cpp's own C++ llama-server, from the llama.cpp source vendored in the llama-cpp-python sdist
#    (the same llama.cpp enclave runs), built with AMX left out like enclave's wheel;
#  - llama-cpp-python's own server (its [server] extra) in a separate virtualenv, from the cached wheel.
set -euo pipefail
cd "$(dirname "$0")"
version="${LLAMA_CPP_VERSION:-0.3.36}"
wheelhouse="${WHEELHOUSE:-$HOME/.cache/enclave/wheels}"
work=.work
mkdir -p "$work"
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

if [ ! -x "$work/llama-server" ]; then
  python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work/sdist" "llama-cpp-python==$version"
  tar -xzf "$work/sdist/llama_cpp_python-$version.tar.gz" -C "$work/sdist"
  src="$work/sdist/llama_cpp_python-$version/vendor/llama.cpp"
  cmake -S "$src" -B "$work/llama-build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx" >/dev/null
  cmake --build "$work/llama-build" --target llama-server -j "$(nproc)"
  cp "$work/llama-build/bin/llama-server" "$work/llama-server"
fi

if [ ! -x "$work/lcp-venv/bin/python" ]; then
  python3 -m venv "$work/lcp-venv"
  "$work/lcp-venv/bin/pip" install --quiet --find-links "$wheelhouse" --only-binary llama-cpp-python \
    "llama-cpp-python[server]==$version"
fi
echo "peers ready in $(pwd)/$work"
