// The part of backup.cc the event store calls with its live RocksDB handle.
#ifndef DI_LEDGER_BACKUP_INTERNAL_H_
#define DI_LEDGER_BACKUP_INTERNAL_H_

#include <string>

#include "di/ledger/backup.h"

namespace rocksdb {
class DB;
}

namespace di::ledger::internal {

// Backs up the open `db` into `backup_dir` (created if missing). `result->head_before` must be set: it is
// recorded in the backup's metadata with the head read back from the backup itself.
Status BackupOpenDb(rocksdb::DB* db, const std::string& backup_dir, BackupResult* result);

}  // namespace di::ledger::internal

#endif  // DI_LEDGER_BACKUP_INTERNAL_H_
