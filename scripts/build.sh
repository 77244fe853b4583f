#!/usr/bin/env bash
# Configures (once) and builds into ./build. Usage: scripts/build.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/CMakeCache.txt ]; then
  # The benchmark programs are built too: the test suite smoke-runs them (bench/CMakeLists.txt).
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDI_BUILD_BENCH=ON >/dev/null
fi
if [ $# -gt 0 ]; then
  for target in "$@"; do cmake --build build --target "$target"; done
else
  cmake --build build
fi
