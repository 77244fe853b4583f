#!/usr/bin/env bash
# Builds every benchmark program (Release, ./build-bench) and runs the runs docs/performance.md reports, each
# writing its table to bench/results/<name>.txt (and to the terminal).
#
#   bash scripts/bench.sh            all runs: append, rebuild and as-of at 1 M and 10 M events, HTTP (~35 min)
#   bash scripts/bench.sh append     one of: append, projections-1m, projections-10m, journal-1m, http, subscribers
#
# Run it on a quiet machine: the programs measure wall time, and another build on the same cores halves them.
# The projections and journal runs keep their store in /tmp/di-bench-{1m,10m,journal-1m} (--reuse: building 11 M events takes ~10 min);
# delete the directory to rebuild it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -f build-bench/CMakeCache.txt ]; then
  cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DDI_BUILD_BENCH=ON -DDI_BUILD_TESTS=OFF >/dev/null
fi
cmake --build build-bench --target append_bench projections_bench journal_bench http_bench subscriber_stall_bench di-ledger
mkdir -p bench/results
run() {
  local name=$1
  shift
  echo "== $name: $*" >&2
  "$@" | tee "bench/results/$name.txt"
}
selected=${1:-}
if [ -z "$selected" ] || [ "$selected" = append ]; then
  run append build-bench/bench/append_bench --persons 2500 --seconds 5
fi
if [ -z "$selected" ] || [ "$selected" = projections-1m ]; then
  run projections-1m build-bench/bench/projections_bench --persons 2500 --queries 40 --dir /tmp/di-bench-1m --reuse
fi
if [ -z "$selected" ] || [ "$selected" = projections-10m ]; then
  run projections-10m build-bench/bench/projections_bench --persons 25000 --queries 20 --dir /tmp/di-bench-10m --reuse
fi
if [ -z "$selected" ] || [ "$selected" = journal-1m ]; then
  run journal-1m build-bench/bench/journal_bench --persons 2500 --queries 20 --dir /tmp/di-bench-journal-1m --reuse
fi
if [ -z "$selected" ] || [ "$selected" = http ]; then
  run http build-bench/bench/http_bench --persons 2500 --cli build-bench/di-ledger
fi
if [ -z "$selected" ] || [ "$selected" = subscribers ]; then
  run subscribers build-bench/bench/subscriber_stall_bench --persons 300 --seconds 10
fi
