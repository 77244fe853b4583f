// FromRocks: a RocksDB status as a ledger Status, for every library that keeps a RocksDB of its own (the event
// store; the projections' checkpoints, projections/src/checkpoint.cc). Public, beside rocksdb_info_log.h, so
// that projections need no header of ledger/src to read RocksDB's errors the way the store does.
#ifndef DI_LEDGER_ROCKSDB_STATUS_H_
#define DI_LEDGER_ROCKSDB_STATUS_H_

#include <string_view>

#include "di/ledger/status.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace di::ledger {

// Ok stays ok; a corruption is kCorruption; anything else kIOError. The message is "<what>: <RocksDB's text>".
// (The backup's engine maps not-found too: backup.cc keeps its own.)
Status FromRocks(const rocksdb::Status& status, std::string_view what);

}  // namespace di::ledger

#endif  // DI_LEDGER_ROCKSDB_STATUS_H_
