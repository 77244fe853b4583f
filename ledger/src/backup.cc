// Backup and restore with RocksDB's BackupEngine (see backup.h).
//
// Options are spelled out rather than left to RocksDB's defaults: shared table files with checksums in
// their names (incremental backups, and a damaged shared file is detected by name and content), sync on
// (a backup that reports success is on disk), WAL files included (no flush needed, so a backup does not
// disturb the LSM tree of a serving store).
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "backup_internal.h"
#include "di/ledger/backup.h"
#include "di/ledger/merkle.h"
#include "keys.h"

namespace di::ledger {
namespace {

constexpr char kMetadataFormat[] = "di-ledger-backup/1";

// Absolute: RocksDB opens a backup read-only only by an absolute path.
rocksdb::BackupEngineOptions EngineOptions(const std::string& backup_dir) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(backup_dir, error);
  rocksdb::BackupEngineOptions options(error ? backup_dir : absolute.string());
  options.share_table_files = true;
  options.share_files_with_checksum = true;
  options.sync = true;
  options.backup_log_files = true;
  options.destroy_old_data = false;
  options.max_background_operations = 1;  // 2 cores: leave one to the serving store
  return options;
}

Status FromRocks(const rocksdb::Status& status, const std::string& what) {
  if (status.ok()) return Status::Ok();
  if (status.IsNotFound()) return Status::NotFound(what + ": " + status.ToString());
  if (status.IsCorruption()) return Status::Corruption(what + ": " + status.ToString());
  return Status::IOError(what + ": " + status.ToString());
}

bool DecodeHeadValue(std::string_view value, LogHead* head) {
  if (value.size() != 8 + 32 + 8) return false;
  head->position = keys::ReadBigEndian64(value);
  std::memcpy(head->hash.data(), value.data() + 8, 32);
  head->recorded_at_micros = static_cast<int64_t>(keys::ReadBigEndian64(value.substr(40)));
  return true;
}

// Opens the backup read-only where it lies and reads its head record: what the backup holds, exactly.
Status ReadBackupHead(rocksdb::BackupEngine* engine, uint32_t backup_id, LogHead* head) {
  rocksdb::BackupInfo info;
  Status status = FromRocks(engine->GetBackupInfo(backup_id, &info, /*include_file_details=*/true), "backup info");
  if (!status.ok()) return status;
  rocksdb::DBOptions db_options;
  db_options.env = info.env_for_open.get();
  db_options.create_if_missing = false;
  db_options.paranoid_checks = true;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {keys::kMetaFamily, rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  status = FromRocks(rocksdb::DB::OpenForReadOnly(db_options, info.name_for_open, families, &handles, &raw),
                     "open the backup read-only");
  if (!status.ok()) return status;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  const rocksdb::Status read = db->Get(rocksdb::ReadOptions(), handles[1], keys::kHeadKey, &value);
  *head = LogHead{};
  if (read.ok() && !DecodeHeadValue(value, head)) status = Status::Corruption("the backup's head record is undecodable");
  if (!read.ok() && !read.IsNotFound()) status = FromRocks(read, "read the backup's head");
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  return status;
}

}  // namespace

namespace internal {

Status BackupOpenDb(rocksdb::DB* db, const std::string& backup_dir, BackupResult* result) {
  std::error_code error;
  std::filesystem::create_directories(backup_dir, error);
  if (error) return Status::IOError("cannot create '" + backup_dir + "': " + error.message());
  rocksdb::BackupEngine* raw = nullptr;
  Status status = FromRocks(rocksdb::BackupEngine::Open(EngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
                            "open backup directory " + backup_dir);
  if (!status.ok()) return status;
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  nlohmann::ordered_json metadata;
  metadata["format"] = kMetadataFormat;
  metadata["head_before"] = {{"position", result->head_before.position},
                             {"hash", HashToHex(result->head_before.hash)}};
  rocksdb::CreateBackupOptions options;
  options.flush_before_backup = false;  // the WAL is copied with the SST files
  rocksdb::BackupID id = 0;
  status = FromRocks(engine->CreateNewBackupWithMetadata(options, db, metadata.dump(), &id), "backup");
  if (!status.ok()) return status;
  result->backup_id = id;
  rocksdb::BackupInfo info;
  status = FromRocks(engine->GetBackupInfo(id, &info), "backup info");
  if (!status.ok()) return status;
  result->size_bytes = info.size;
  result->file_count = info.number_files;
  return ReadBackupHead(engine.get(), id, &result->head);
}

}  // namespace internal

Status ListBackups(const std::string& backup_dir, std::vector<BackupInfo>* backups) {
  backups->clear();
  if (!std::filesystem::exists(backup_dir)) return Status::NotFound("no backup directory '" + backup_dir + "'");
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  Status status = FromRocks(
      rocksdb::BackupEngineReadOnly::Open(EngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
      "open backup directory " + backup_dir);
  if (!status.ok()) return status;
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  for (const rocksdb::BackupInfo& info : infos) {
    backups->push_back(BackupInfo{info.backup_id, info.timestamp, info.size, info.number_files, info.app_metadata});
  }
  return Status::Ok();
}

Status RestoreBackup(const std::string& backup_dir, uint32_t backup_id, const std::string& data_dir,
                     RestoreResult* result) {
  *result = RestoreResult{};
  if (std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT")) {
    return Status::InvalidArgument("'" + data_dir + "' holds a store: restore into a new directory", "data");
  }
  std::vector<BackupInfo> backups;
  Status status = ListBackups(backup_dir, &backups);
  if (!status.ok()) return status;
  if (backups.empty()) return Status::NotFound("no backup in '" + backup_dir + "'");
  const BackupInfo* chosen = &backups.back();
  if (backup_id != 0) {
    chosen = nullptr;
    for (const BackupInfo& info : backups) {
      if (info.backup_id == backup_id) chosen = &info;
    }
    if (chosen == nullptr) return Status::NotFound("no backup " + std::to_string(backup_id) + " in '" + backup_dir + "'");
  }
  result->backup_id = chosen->backup_id;
  const nlohmann::json metadata = nlohmann::json::parse(chosen->metadata, nullptr, /*allow_exceptions=*/false);
  if (!metadata.is_object() || metadata.value("format", "") != kMetadataFormat) {
    return Status::Corruption("backup " + std::to_string(chosen->backup_id) + " has no di-ledger metadata");
  }
  const nlohmann::json& before = metadata["head_before"];
  if (!before.is_object() || !before["position"].is_number_unsigned() || !before["hash"].is_string() ||
      !ParseHashHex(before["hash"].get<std::string>(), &result->head_before.hash)) {
    return Status::Corruption("backup " + std::to_string(chosen->backup_id) + " has undecodable metadata");
  }
  result->head_before.position = before["position"].get<uint64_t>();

  rocksdb::BackupEngineReadOnly* raw = nullptr;
  status = FromRocks(rocksdb::BackupEngineReadOnly::Open(EngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
                     "open backup directory " + backup_dir);
  if (!status.ok()) return status;
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  status = FromRocks(engine->VerifyBackup(chosen->backup_id, /*verify_with_checksum=*/true), "verify backup files");
  if (!status.ok()) return Status::Corruption(status.message());
  status = FromRocks(engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), chosen->backup_id, data_dir, data_dir),
                     "restore");
  if (!status.ok()) return status;

  // Verify after restore: the whole chain and Merkle tree, then the head recorded at backup time.
  EventStoreOptions store_options;
  store_options.create_if_missing = false;
  std::unique_ptr<EventStore> store;
  status = EventStore::Open(store_options, data_dir, &store);
  if (!status.ok()) return status;
  VerifyReport report;
  status = store->Verify(&report);
  if (!status.ok()) return status;
  result->head = report.head;
  result->events_verified = report.events_checked;
  if (report.first_bad_position != 0) {
    return Status::Corruption("the restored store fails verification at position " +
                              std::to_string(report.first_bad_position) + ": " + report.problem);
  }
  if (result->head.position < result->head_before.position) {
    return Status::Corruption("the restored log ends at " + std::to_string(result->head.position) +
                              ", before the head recorded when the backup started (" +
                              std::to_string(result->head_before.position) + ")");
  }
  if (result->head_before.position > 0) {
    Hash hash{};
    status = store->ReadLog(result->head_before.position, 1, [&](const StoredEvent& event) {
      hash = event.hash;
      return false;
    });
    if (!status.ok()) return status;
    if (hash != result->head_before.hash) {
      return Status::Corruption("the restored log does not extend the head recorded at backup time: position " +
                                std::to_string(result->head_before.position) + " has hash " + HashToHex(hash) +
                                ", recorded " + HashToHex(result->head_before.hash));
    }
  }
  return Status::Ok();
}

}  // namespace di::ledger
