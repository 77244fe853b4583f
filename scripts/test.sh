#!/usr/bin/env bash
# README command (b): install, build, and run the whole test suite (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 900
# Fuzzing (issue #5): each libFuzzer target for 60 s over its seed corpus, after the tests (clang build in
# build-fuzz/; a crash fails the run). Skipped only where clang is missing.
if command -v clang++ >/dev/null; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash scripts/fuzz.sh
else
  echo "test.sh: clang++ not found, fuzzing skipped" >&2
fi
