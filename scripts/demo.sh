#!/usr/bin/env bash
# README command (a): install, build, and run the main job on ./data with the demo data set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh di-ledger
DATA=${DATA:-./data}
if [ ! -d "$DATA" ] || [ -z "$(ls -A "$DATA" 2>/dev/null)" ]; then
  # A migration of the region's 2015-2023 history: the rules and every event keep their recorded times
  # (docs/operations.md, "Migrating history"), so --known-at 2021-07-15 answers what was known then.
  ./build/di-ledger init --data "$DATA" --rules-recorded-at 2015-07-01T00:00:00Z
  ./build/di-ledger simulate --seed 1 --persons 300 --years 8 > build/demo.jsonl
  ./build/di-ledger import build/demo.jsonl --data "$DATA" --keep-recorded-at
fi
./build/di-ledger verify --data "$DATA"
./build/di-ledger stats --data "$DATA"
echo
./build/di-ledger report funding --group-by territory --data "$DATA"
echo
./build/di-ledger report indicators --data "$DATA" | tail -n 12
echo
# The main job: the HTTP API on the demo store (already imported above, so --demo imports nothing again; it
# prints one token per role and ready-to-paste curl lines). Stop with Ctrl-C or SIGTERM.
echo "serving http://127.0.0.1:8080 (docs/api.md)"
exec ./build/di-ledger serve --data "$DATA" --demo
