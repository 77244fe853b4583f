// Online backup and restore of an event store with RocksDB's BackupEngine (rocksdb/utilities/backup_engine.h).
//
//   BackupResult backup;
//   store->CreateBackup("/backup/di-ledger", &backup);            // while the store serves
//   RestoreResult restored;
//   RestoreBackup("/backup/di-ledger", 0, "/srv/new-data", &restored);  // latest backup; verifies the chain
//
// A backup is a consistent point-in-time copy of every column family (RocksDB copies the live files and
// the write-ahead log as of one instant; a group commit is one atomic WriteBatch, so a backup holds whole
// groups only). SST files are shared between backups in the same directory, so later backups copy only
// what is new. Appends go on during a backup: the backed-up head lies between the heads before and after
// it, and is known exactly once restored (RestoreResult::head).
#ifndef DI_LEDGER_BACKUP_H_
#define DI_LEDGER_BACKUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/ledger/status.h"

namespace di::ledger {

struct BackupResult {
  uint32_t backup_id = 0;
  LogHead head;         // what the backup holds: read back from the backup itself
  LogHead head_before;  // head when the backup started (head_before <= head <= head_after)
  LogHead head_after;   // head when it finished (all three equal when nothing was appended meanwhile)
  uint64_t size_bytes = 0;  // of this backup's files (shared files counted in full)
  uint32_t file_count = 0;
};

struct BackupInfo {
  uint32_t backup_id = 0;
  int64_t timestamp_seconds = 0;  // when it was taken (UTC, seconds since the epoch)
  uint64_t size_bytes = 0;
  uint32_t file_count = 0;
  // The metadata written with it (JSON: {"format":"di-ledger-backup/1","head_before":{"position","hash"}}).
  std::string metadata;
};
// Lists the backups in `backup_dir`, oldest first.
Status ListBackups(const std::string& backup_dir, std::vector<BackupInfo>* backups);

struct RestoreResult {
  uint32_t backup_id = 0;
  LogHead head;            // the restored store's head
  uint64_t events_verified = 0;
  LogHead head_before;     // recorded in the backup's metadata when it was taken
};
// Restores backup `backup_id` (0: the latest) into `data_dir`, which must not hold a store; checks the
// backup's file checksums first, then opens the restored store and walks its whole hash chain and Merkle
// tree (EventStore::Verify). kCorruption if anything fails to verify, or if the restored log does not
// extend the head recorded when the backup started (same hash at that position).
Status RestoreBackup(const std::string& backup_dir, uint32_t backup_id, const std::string& data_dir,
                     RestoreResult* result);

}  // namespace di::ledger

#endif  // DI_LEDGER_BACKUP_H_
