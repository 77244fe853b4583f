#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and UndefinedBehaviorSanitizer in
# build-fuzz/, and runs each for FUZZ_SECONDS (default 60) over its seed corpus (tests/fuzz/corpus/<name>/,
# read only: new inputs go to build-fuzz/corpus/<name>/). A crash, an abort, a leak or a sanitizer report
# writes the input to build-fuzz/artifacts/ and makes this script exit non-zero (after every target ran).
# Every such input becomes a regression test in tests/fuzz_regression_test.cc and a corpus file.
#   FUZZ_SECONDS=600 scripts/fuzz.sh                 # longer
#   FUZZ_TARGETS="fuzz_capnp_frame" scripts/fuzz.sh  # one target
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"fuzz_json_event fuzz_capnp_frame fuzz_http_request"}
SANITIZERS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDI_BUILD_FUZZERS=ON -DDI_BUILD_TESTS=OFF \
  "-DCMAKE_C_FLAGS=$SANITIZERS -fsanitize=fuzzer-no-link" \
  "-DCMAKE_CXX_FLAGS=$SANITIZERS -fsanitize=fuzzer-no-link" >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD" -j2 --target $TARGETS

# Largest input per target: a few events per JSON input, a frame of a batch of events, a request with a body.
max_len() {
  case "$1" in
    fuzz_json_event) echo 16384 ;;
    fuzz_capnp_frame) echo 65536 ;;
    fuzz_http_request) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

mkdir -p "$BUILD/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
# One documented false positive of the per-input leak check (tests/fuzz/lsan.supp says why); every other leak fails.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for target in $TARGETS; do
  corpus_name=${target#fuzz_}
  seeds="$ROOT/tests/fuzz/corpus/$corpus_name"
  work="$BUILD/corpus/$corpus_name"
  mkdir -p "$work"
  echo "== $target: ${SECONDS_PER_TARGET}s, seeds $seeds" >&2
  log="$BUILD/artifacts/$target.log"
  # New inputs go to the first corpus dir (the work dir), never into the repository.
  if "$BUILD/tests/fuzz/$target" "$work" "$seeds" -max_total_time="$SECONDS_PER_TARGET" \
       -max_len="$(max_len "$target")" -timeout=25 -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="$BUILD/artifacts/$target-" >"$log" 2>&1; then
    grep -E "DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$log" >&2 || true
  else
    echo "fuzz.sh: $target FAILED (log: $log); the input is in $BUILD/artifacts/$target-*" >&2
    tail -n 60 "$log" >&2
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no crash in $TARGETS" >&2
