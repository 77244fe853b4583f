#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages. Idempotent, non-interactive.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  librocksdb-dev            # storage engine
  capnproto libcapnp-dev    # event encoding (schema compiler + library)
  libboost-dev              # Asio/Beast (server)
  nlohmann-json3-dev        # JSON
  libgtest-dev libgmock-dev # tests
  libsodium-dev             # Ed25519 signatures for checkpoints, BLAKE2b pseudonyms
  libssl-dev                # SHA-256 (libcrypto uses the CPU's SHA extensions): hash chain, Merkle tree
  libcli11-dev              # command-line parsing
  python3                   # tools/verify_export.py, the auditor's verifier without our C++, and its test
  clang libclang-rt-14-dev  # fuzzing: clang 14 and its libFuzzer, ASan and UBSan runtimes (scripts/fuzz.sh)
  postgresql-15 libpq-dev   # bench: the PostgreSQL baseline (bench/postgres_event_table.cc, pg_smoke)
)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
