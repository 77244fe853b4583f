#!/usr/bin/env bash
# Configures (once) and builds into ./build. Usage: scripts/build.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if [ $# -gt 0 ]; then
  for target in "$@"; do cmake --build build --target "$target"; done
else
  cmake --build build
fi
