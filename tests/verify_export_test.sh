#!/usr/bin/env bash
# The independent verifier (tools/verify_export.py, docs/audit.md "Verifying without our code") against the
# ledger: on a store with simulated data, the default rules, edge-case texts and documents, signed checkpoints
# and a key rotation, both verifiers must accept the export and the proofs with the same count, head and root,
# and both must refuse the same damage at the same position.
#
# usage: verify_export_test.sh DI_LEDGER_BINARY SOURCE_DIR        (exit 77: skipped, python3 is not installed)
set -euo pipefail
CLI=$1
SRC=$2
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIPPED: python3 is not installed; tools/verify_export.py needs it (scripts/install-deps.sh installs it)"
  exit 77
fi
VERIFY=(python3 "$SRC/tools/verify_export.py")
export PYTHONDONTWRITEBYTECODE=1  # the test imports the verifier: no __pycache__ in the source tree
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect CODE PATTERN COMMAND...: the command exits with CODE and its output holds PATTERN (grep -E).
expect() {
  local code=$1 pattern=$2 actual=0
  shift 2
  "$@" >out.txt 2>&1 || actual=$?
  [ "$actual" -eq "$code" ] || { cat out.txt >&2; fail "exit code $actual, expected $code: $*"; }
  grep -Eq -- "$pattern" out.txt || { cat out.txt >&2; fail "no '$pattern' in the output of: $*"; }
}

# ---- The checker's own primitives and its reading of the schema -------------------------------------------------
expect 0 '^OK: self-test' "${VERIFY[@]}" --self-test
# The layout the verifier computes from the schema (docs/audit.md §1.2) is the Cap'n Proto compiler's, for
# every struct of events.capnp and for a probe schema that packs fields of every size into padding.
if command -v capnp >/dev/null 2>&1; then
  for schema in "$SRC/ledger/schema/events.capnp" "$SRC/tests/data/layout_probe.capnp"; do
    capnp compile -ocapnp "$schema" | python3 -c '
import re, sys
struct = group = None
for line in sys.stdin:
    if m := re.match(r"\s*struct (\w+) @0x\w+ \{  # (\d+) bytes, (\d+) ptrs", line):
        struct = m.group(1); print("%s: %s bytes, %s ptrs" % m.groups())
    elif m := re.match(r"\s*(\w+) :group \{", line):
        group = m.group(1)
    elif m := re.match(r"\s*union \{  # tag bits \[(\d+), (\d+)\)", line):
        print("%s.%s: tag bits[%s, %s)" % (struct, group, *m.groups()))
    elif m := re.match(r"\s*(\w+) @\d+ :.*;  # (.*)$", line):
        print("%s.%s: %s" % (struct, *m.groups()))' | sort >compiler.txt
    "${VERIFY[@]}" --schema "$schema" --layout | sort >verifier.txt
    [ "$(wc -l <compiler.txt)" -gt 5 ] || fail "capnp printed no layout for $schema"
    diff compiler.txt verifier.txt || fail "the verifier's layout of $schema differs from the Cap'n Proto compiler's"
  done
else
  echo "note: capnp (the schema compiler) is not installed: layout cross-check skipped"
fi

# ---- A store: default rules, simulated history, edge cases, two keys ---------------------------------------------
install -m 600 "$SRC/docs/audit-demo.key" demo.key
DEMO_PUB="$SRC/docs/audit-demo.key.pub"
"$CLI" init --data data >/dev/null
"$CLI" simulate --seed 5 --persons 12 --years 3 -o sim.jsonl 2>/dev/null
total=$(wc -l <sim.jsonl)
head -n $((total / 2)) sim.jsonl >part1.jsonl
tail -n +$((total / 2 + 1)) sim.jsonl >part2.jsonl
# Texts with escapes, astral characters, tab and newline; an empty struct list; a rules document whose key
# order differs between UTF-16 and UTF-8, with every kind of JSON value a document may hold.
cat >edge.jsonl <<'EOF'
{"id":"EDGE-1","type":"project_registered","effective_date":"2016-01-04","actor":"tests:verify \"ü\" \ud83d\ude00","data":{"project_id":"PR-EDGE","name":"Tab\there, line\nbreak, quote \" backslash \\ slash / \u00e9 \u20ac \ud83d\ude00","region":"R\u0113ga","agreement_number":"A/1","period_start":"2016-01-01","period_end":"2023-12-31","services_paid_until":"2023-08-31","budget_total_cents":100,"budget_esf_cents":85,"budget_state_cents":15,"targets":[]}}
{"id":"EDGE-2","type":"rules_enacted","effective_date":"2016-01-05","actor":"tests:verify","data":{"rule_set_id":"EDGE","title":"edge document","document":{"\ufb33":1,"\ud83d\ude00":2,"\u20ac":3,"a":{"z":[],"y":{},"x":[null,true,false,-9007199254740991,9007199254740991,0]},"esc":"\b\f\n\r\t\u0001\u001f\u007f \" \\ / \u00fc"}}}
EOF
"$CLI" import part1.jsonl --data data >/dev/null
"$CLI" audit checkpoint --data data --key demo.key >/dev/null
"$CLI" import edge.jsonl --data data >/dev/null
"$CLI" import part2.jsonl --data data >/dev/null
"$CLI" audit checkpoint --data data --key demo.key >/dev/null
"$CLI" audit keygen --out new.key >/dev/null
"$CLI" audit rotate-key --data data --key demo.key --new-key new.key >/dev/null
printf '%s\n' '{"id":"EDGE-3","type":"project_expense_recorded","effective_date":"2017-03-01","actor":"tests:verify","data":{"project_id":"PR-EDGE","expense_id":"X-EDGE","category":"other","amount_cents":7}}' >more.jsonl
"$CLI" import more.jsonl --data data >/dev/null
"$CLI" audit checkpoint --data data --key new.key >/dev/null
printf '%s\n' '{"id":"EDGE-4","type":"project_expense_recorded","effective_date":"2017-03-02","actor":"tests:verify","data":{"project_id":"PR-EDGE","expense_id":"X-EDGE-2","category":"camp","amount_cents":8}}' >tail.jsonl
"$CLI" import tail.jsonl --data data >/dev/null  # after the last checkpoint: chained, not yet signed
"$CLI" export --data data -o export.jsonl
events=$(wc -l <export.jsonl)
checkpoints=$("$CLI" audit checkpoints --data data | awk 'NR > 1 { print $1 }')
first_checkpoint=$(echo "$checkpoints" | head -n 1)
echo "store: $events events, checkpoints and rotation at positions" $checkpoints

# ---- Both verifiers accept the export, with the same count, head hash and Merkle root ------------------------------
summary() { grep -E '^(OK: [0-9]+ events|head hash|merkle root)' "$1" | sed -E 's/^(OK: [0-9]+ events).*/\1/'; }
expect 0 "^OK: $events events" "$CLI" audit verify-export export.jsonl --pubkey "$DEMO_PUB"
summary out.txt >cpp.txt
for key in "$DEMO_PUB" new.key.pub; do
  expect 0 "^OK: $events events" "${VERIFY[@]}" export.jsonl --pubkey "$key"
  grep -q "3 checkpoints and 1 key rotations" out.txt || fail "the verifier did not count 3 checkpoints and 1 rotation"
  grep -q "positions $events..$events are chained but not yet covered" out.txt || fail "the unsigned tail is not named"
  summary out.txt >python.txt
  diff cpp.txt python.txt || fail "the verifiers disagree on the export (key $key)"
done
[ "$(wc -l <cpp.txt)" -eq 3 ] || fail "no count, head hash and merkle root in: $(cat cpp.txt)"

# Every domain event type: the example history of docs/events.md §4.1-§4.28 and §4.31-§4.37, in a store of its own (its ids
# would collide with the simulated ones).
sed -n -e '/^### 4.1 /,/^### 4.29 /p' -e '/^### 4.31 /,/^## 5\. /p' "$SRC/docs/events.md" | grep '^{"id":"E-' >catalog.jsonl
"$CLI" init --data catalog --no-rules >/dev/null
"$CLI" import catalog.jsonl --data catalog >/dev/null
"$CLI" audit checkpoint --data catalog --key demo.key >/dev/null
"$CLI" export --data catalog -o catalog-export.jsonl
types=$(python3 -c 'import json, sys; print(len({json.loads(l)["type"] for l in open(sys.argv[1])}))' catalog-export.jsonl)
[ "$types" -eq 36 ] || fail "the catalog history has $types event types, expected 35 and checkpoint_signed"
expect 0 '^OK: 49 events' "$CLI" audit verify-export catalog-export.jsonl --pubkey "$DEMO_PUB"
summary out.txt >cpp.txt
expect 0 '^OK: 49 events' "${VERIFY[@]}" catalog-export.jsonl --pubkey "$DEMO_PUB"
summary out.txt >python.txt
diff cpp.txt python.txt || fail "the verifiers disagree on the catalog history"

# Migrated history (import --keep-recorded-at): recording times asserted by the importer, flagged on every
# migrated line and covered by the hash (docs/audit.md §1.4). Dropping the flag from one line is caught there.
"$CLI" init --data migrated --rules-recorded-at 2015-07-01T00:00:00Z >/dev/null
"$CLI" import sim.jsonl --data migrated --keep-recorded-at >/dev/null
"$CLI" audit checkpoint --data migrated --key demo.key >/dev/null
"$CLI" export --data migrated -o migrated-export.jsonl
asserted=$(grep -c '"recorded_at_asserted":true' migrated-export.jsonl || true)
# The rules enacted at an asserted time by init --rules-recorded-at, and every simulated event.
[ "$asserted" -eq $((total + 1)) ] || fail "$asserted migrated lines flagged, expected the rules and the $total simulated ones"
migrated_events=$(wc -l <migrated-export.jsonl)
expect 0 "^OK: $migrated_events events" "$CLI" audit verify-export migrated-export.jsonl --pubkey "$DEMO_PUB"
summary out.txt >cpp.txt
expect 0 "^OK: $migrated_events events" "${VERIFY[@]}" migrated-export.jsonl --pubkey "$DEMO_PUB"
summary out.txt >python.txt
diff cpp.txt python.txt || fail "the verifiers disagree on the migrated history"
migrated_middle=$((migrated_events / 2))
awk -v n="$migrated_middle" 'NR == n { sub(/"recorded_at_asserted":true,/, "") } { print }' migrated-export.jsonl >unflagged.jsonl
cmp -s unflagged.jsonl migrated-export.jsonl && fail "line $migrated_middle had no flag to drop"
expect 1 "FAILED at position $migrated_middle" "$CLI" audit verify-export unflagged.jsonl --pubkey "$DEMO_PUB"
expect 1 "FAILED at position $migrated_middle \\(unflagged.jsonl line $migrated_middle\\): hash mismatch" "${VERIFY[@]}" unflagged.jsonl --pubkey "$DEMO_PUB"

# ---- Proofs: inclusion before and after the rotation, consistency across it --------------------------------------
"$CLI" audit prove --data data --event EDGE-2 -o inclusion-latest.json
early_event=$(sed -n 2p export.jsonl | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$CLI" audit prove --data data --event "$early_event" --checkpoint "$first_checkpoint" -o inclusion-first.json
"$CLI" audit prove --data data --first-checkpoint "$first_checkpoint" -o consistency.json
for proof in inclusion-latest.json inclusion-first.json consistency.json; do
  for key in "$DEMO_PUB" new.key.pub; do
    expect 0 '^OK: ' "$CLI" audit check-proof "$proof" --pubkey "$key"
    expect 0 "^OK \\($proof\\): " "${VERIFY[@]}" --pubkey "$key" --proof "$proof"
  done
done
expect 0 'is included in the checkpoint' "${VERIFY[@]}" --pubkey "$DEMO_PUB" --proof inclusion-latest.json
expect 0 'is a prefix of the checkpoint' "${VERIFY[@]}" --pubkey "$DEMO_PUB" --proof consistency.json

# ---- Damage: one byte of a hash, one byte of event data, a rewritten history, a stranger's key ---------------------
middle=$((events / 2))
# alter FILE LINE WHAT: copy of export.jsonl with one character changed in line LINE: in its hash ("hash") or in
# the first string value inside its data ("data"), keeping the line valid JSON.
alter() {
  python3 - "$@" <<'EOF'
import re, sys
path, number, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open("export.jsonl", encoding="utf-8").read().split("\n")
line = lines[number - 1]
if what == "hash":
    at = line.index('"hash":"') + len('"hash":"') + 10
else:
    at = re.compile(r'"data":\{.*?:"').search(line).end()
swap = {c: d for c, d in zip("0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ", "1234567890bcdefaBCDEFGHIJKLMNOPQRSTUVWXYZA")}
if line[at] not in swap:
    sys.exit("line %d: no letter or digit at the spot to alter: %r" % (number, line[at:at + 10]))
lines[number - 1] = line[:at] + swap[line[at]] + line[at + 1:]
open(path, "w", encoding="utf-8").write("\n".join(lines))
EOF
}
# A line in the middle that is a domain event with a string in its data.
while ! sed -n "${middle}p" export.jsonl | grep -q '"data":{"[a-z_]*":"[A-Za-z0-9]'; do middle=$((middle + 1)); done
alter hash-flipped.jsonl "$middle" hash
alter data-flipped.jsonl "$middle" data
for damaged in hash-flipped.jsonl data-flipped.jsonl; do
  cmp -s export.jsonl "$damaged" && fail "$damaged is not damaged"
  expect 1 "^FAILED at position $middle \\($damaged line $middle\\): hash mismatch" \
    "${VERIFY[@]}" "$damaged" --pubkey "$DEMO_PUB"
  expect 1 "^FAILED at position $middle: hash mismatch" "$CLI" audit verify-export "$damaged" --pubkey "$DEMO_PUB"
done

# A rewritten history: event data changed before the first checkpoint and every later hash recomputed (with the
# verifier's own encoder), so the chain is whole: only the signed Merkle root shows the change.
target=$((first_checkpoint / 2))
while ! sed -n "${target}p" export.jsonl | grep -q '"data":{"[a-z_]*":"[A-Za-z0-9]'; do target=$((target + 1)); done
alter rewritten.jsonl "$target" data
python3 - "$SRC/tools" <<'EOF'
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
import verify_export as v
encoder = v.Encoder(*v.load_schema(v.DEFAULT_SCHEMA))
previous, out = bytes(32), []
for text in open("rewritten.jsonl", encoding="utf-8").read().split("\n"):
    if text:
        line = json.loads(text)
        previous = hashlib.sha256(previous + v.write_canonical(encoder.recorded_event(line))).digest()
        line["hash"] = previous.hex()
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
    out.append(text)
open("rewritten.jsonl", "w", encoding="utf-8").write("\n".join(out))
EOF
expect 1 "^FAILED at position $first_checkpoint \\(rewritten.jsonl line $first_checkpoint\\): checkpoint_signed: the signed root" \
  "${VERIFY[@]}" rewritten.jsonl --pubkey "$DEMO_PUB"
expect 1 "^FAILED at position $first_checkpoint: checkpoint_signed: the signed root" \
  "$CLI" audit verify-export rewritten.jsonl --pubkey "$DEMO_PUB"

# A key that is not in the chain.
stranger=d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a  # RFC 8032 TEST 1's public key
expect 1 "^FAILED at position $first_checkpoint .*not by the given key" "${VERIFY[@]}" export.jsonl --pubkey "$stranger"
expect 1 "^FAILED at position $first_checkpoint: .*not by the given key" \
  "$CLI" audit verify-export export.jsonl --pubkey "$stranger"

# Proofs: a flipped byte in the audit path, and an event that is not the one recorded.
python3 - <<'EOF'
import json
proof = json.load(open("inclusion-latest.json"))
path = proof["audit_path"][0]
proof["audit_path"][0] = ("1" if path[0] != "1" else "2") + path[1:]
json.dump(proof, open("path-flipped.json", "w"), indent=1)
proof = json.load(open("inclusion-latest.json"))
proof["event"]["data"]["title"] = "edge documenT"
del proof["leaf_hash"]  # informative only: without it the checkers must find the change through the root
json.dump(proof, open("event-changed.json", "w"), indent=1)
EOF
for damaged in path-flipped.json event-changed.json; do
  expect 1 "^FAILED \\($damaged, inclusion proof\\): the event and the audit path lead to root" \
    "${VERIFY[@]}" --pubkey "$DEMO_PUB" --proof "$damaged"
  expect 1 '^FAILED \(inclusion proof\): the event and the audit path lead to root' \
    "$CLI" audit check-proof "$damaged" --pubkey "$DEMO_PUB"
done
echo "PASS: both verifiers accept the export ($events events), the catalog history and 3 proofs with either key, and refuse the same damage"
