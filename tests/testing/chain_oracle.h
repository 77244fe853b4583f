// The chain oracle: an event's chain hash, SHA-256(previous hash || record), recomputed with libsodium, an
// implementation of SHA-256 independent of the ledger's (di/ledger/sha256.h, OpenSSL). Tests use it to check the
// hashes the ledger states and, as a tamperer would, to rehash an edited record.
#ifndef DI_TESTS_TESTING_CHAIN_ORACLE_H_
#define DI_TESTS_TESTING_CHAIN_ORACLE_H_

#include <string>
#include <string_view>

#include "di/ledger/event.h"

namespace di::testing {

// SHA-256 of the 32 bytes of `previous` followed by `record` (the stored canonical RecordedEvent): the chain hash
// of the event after the one whose hash is `previous` (all zero before the first event).
ledger::Hash ChainHashOracle(const ledger::Hash& previous, std::string_view record);
// The same after a stored log value: its first 32 bytes are its chain hash (the record follows them).
ledger::Hash ChainHashOracle(std::string_view previous_value, std::string_view record);

// The hash as 32 raw bytes, as a log value and the binary endpoint carry it.
std::string HashBytes(const ledger::Hash& hash);

}  // namespace di::testing

#endif  // DI_TESTS_TESTING_CHAIN_ORACLE_H_
