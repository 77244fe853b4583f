// audit, backup, restore: thin shells over di/ledger/audit.h and di/ledger/backup.h.
// Exit codes as everywhere: 0 ok, 1 a failed check or refused input, 2 a usage or I/O error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "commands.h"
#include "di/ledger/audit.h"
#include "di/ledger/backup.h"
#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/json_codec.h"

namespace di::cli {
namespace {

using ledger::Status;

int ExitCode(const Status& status) {
  return status.code() == ledger::StatusCode::kInvalidArgument || status.code() == ledger::StatusCode::kConflict ||
                 status.code() == ledger::StatusCode::kDuplicateId || status.code() == ledger::StatusCode::kCorruption
             ? 1
             : 2;
}

int Fail(const Status& status) {
  std::cerr << "error: " << status.ToString() << "\n";
  return ExitCode(status);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string Mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", bytes / 1048576.0);
  return text;
}

}  // namespace

int RunAuditKeygen(const AuditOptions& options) {
  ledger::SigningKey key;
  Status status = ledger::SigningKey::Generate(&key);
  if (!status.ok()) return Fail(status);
  const std::string public_file = options.key_file + ".pub";
  if (std::ifstream(public_file)) {
    return Fail(Status::InvalidArgument("'" + public_file + "' exists: a key pair is never overwritten"));
  }
  status = key.SaveNew(options.key_file);
  if (!status.ok()) return Fail(status);
  std::ofstream public_out(public_file);
  public_out << ledger::ToHex(key.public_key()) << "\n";
  public_out.flush();
  if (!public_out) return Fail(Status::IOError("cannot write '" + public_file + "'"));
  std::cout << "key id      " << key.KeyId() << "\n"
            << "public key  " << ledger::ToHex(key.public_key()) << "\n"
            << "wrote " << options.key_file << " (secret, mode 0600: keep it where only the ledger's operator can read it)\n"
            << "wrote " << public_file << " (public: give it to auditors)\n";
  return 0;
}

int RunAuditCheckpoint(const AuditOptions& options) {
  ledger::SigningKey key;
  Status status = ledger::SigningKey::Load(options.key_file, &key);
  if (!status.ok()) return Fail(status);
  std::unique_ptr<ledger::EventStore> store;
  status = OpenExisting(options.data_dir, &store);
  if (!status.ok()) return Fail(status);
  const auto start = std::chrono::steady_clock::now();
  ledger::CheckpointResult checkpoint;
  status = store->AppendCheckpoint(key, &checkpoint);
  if (!status.ok()) return Fail(status);
  std::printf("checkpoint at position %llu: tree size %llu, root %s, key %s (%.3f s)\n",
              static_cast<unsigned long long>(checkpoint.position),
              static_cast<unsigned long long>(checkpoint.tree_size), ledger::HashToHex(checkpoint.root).c_str(),
              key.KeyId().c_str(), SecondsSince(start));
  return 0;
}

int RunAuditRotateKey(const AuditOptions& options) {
  ledger::SigningKey current_key, new_key;
  Status status = ledger::SigningKey::Load(options.key_file, &current_key);
  if (status.ok()) status = ledger::SigningKey::Load(options.new_key_file, &new_key);
  if (!status.ok()) return Fail(status);
  std::unique_ptr<ledger::EventStore> store;
  status = OpenExisting(options.data_dir, &store);
  if (!status.ok()) return Fail(status);
  ledger::CheckpointResult rotation;
  status = store->RotateSigningKey(current_key, new_key, &rotation);
  if (!status.ok()) return Fail(status);
  std::printf("key rotation at position %llu: key %s -> %s, tree size %llu, root %s\n",
              static_cast<unsigned long long>(rotation.position), current_key.KeyId().c_str(),
              new_key.KeyId().c_str(), static_cast<unsigned long long>(rotation.tree_size),
              ledger::HashToHex(rotation.root).c_str());
  return 0;
}

int RunAuditList(const AuditOptions& options) {
  std::unique_ptr<ledger::EventStore> store;
  Status status = OpenExisting(options.data_dir, &store);
  if (!status.ok()) return Fail(status);
  // Both kinds, in log order.
  std::vector<std::pair<uint64_t, std::string>> rows;
  for (auto type : {ledger::EventType::CHECKPOINT_SIGNED, ledger::EventType::SIGNING_KEY_ROTATED}) {
    status = store->ReadByType(type, 1, 0, [&](const ledger::StoredEvent& event) {
      ledger::SignedTreeHead head;
      const std::string problem = ledger::CheckAuditEvent(event.reader().getEvent(), &head);
      char row[512];
      std::snprintf(row, sizeof(row), "%-10llu %-20s %-10llu %-16s %s", static_cast<unsigned long long>(event.position),
                    std::string(ledger::EventTypeName(type)).c_str(), static_cast<unsigned long long>(head.tree_size),
                    ledger::KeyIdOf(head.key).c_str(), ledger::HashToHex(head.root).c_str());
      rows.emplace_back(event.position, row + (problem.empty() ? "" : "  INVALID: " + problem));
      return true;
    });
    if (!status.ok()) return Fail(status);
  }
  std::sort(rows.begin(), rows.end());
  std::printf("%-10s %-20s %-10s %-16s %s\n", "position", "type", "tree size", "key (new key)", "root");
  for (const auto& [position, row] : rows) std::printf("%s\n", row.c_str());
  return 0;
}

int RunAuditProve(const AuditOptions& options) {
  std::unique_ptr<ledger::EventStore> store;
  Status status = OpenExisting(options.data_dir, &store);
  if (!status.ok()) return Fail(status);
  nlohmann::ordered_json proof;
  if (!options.event_id.empty()) {
    status = ledger::BuildInclusionProof(*store, options.event_id, options.checkpoint_position, &proof);
  } else {
    status = ledger::BuildConsistencyProof(*store, options.first_checkpoint_position, options.checkpoint_position, &proof);
  }
  if (!status.ok()) return Fail(status);
  const std::string text = proof.dump(2) + "\n";
  if (options.output == "-") {
    std::cout << text;
    return std::cout ? 0 : 2;
  }
  std::ofstream out(options.output);
  out << text;
  out.flush();
  if (!out) return Fail(Status::IOError("cannot write '" + options.output + "'"));
  return 0;
}

namespace {
// The ledger's public key and the input ("-": standard input) an offline check reads.
Status OpenKeyAndInput(const AuditOptions& options, ledger::PublicKey* key, std::ifstream* file, std::istream** input) {
  if (Status status = ledger::LoadPublicKey(options.public_key, key); !status.ok()) return status;
  *input = &std::cin;
  if (options.input == "-") return Status::Ok();
  file->open(options.input);
  if (!*file) return Status::IOError("cannot read '" + options.input + "'");
  *input = file;
  return Status::Ok();
}
}  // namespace

int RunAuditCheckProof(const AuditOptions& options) {
  ledger::PublicKey key;
  std::ifstream file;
  std::istream* input = nullptr;
  Status status = OpenKeyAndInput(options, &key, &file, &input);
  if (!status.ok()) return Fail(status);
  const std::string text((std::istreambuf_iterator<char>(*input)), std::istreambuf_iterator<char>());
  nlohmann::json proof;
  if (status = ledger::ParseJson(text, "proof", &proof); !status.ok()) return Fail(status);
  ledger::ProofCheckReport report;
  status = ledger::CheckProof(proof, key, &report);
  if (!status.ok()) return Fail(status);
  if (!report.problem.empty()) {
    std::cout << "FAILED (" << report.kind << " proof): " << report.problem << "\n";
    return 1;
  }
  std::cout << "OK: " << report.summary << "\n";
  return 0;
}

int RunAuditVerifyExport(const AuditOptions& options) {
  ledger::PublicKey key;
  std::ifstream file;
  std::istream* input = nullptr;
  Status status = OpenKeyAndInput(options, &key, &file, &input);
  if (!status.ok()) return Fail(status);
  const auto start = std::chrono::steady_clock::now();
  ledger::ExportVerifyReport report;
  status = ledger::VerifyExport(*input, key, &report);
  if (!status.ok()) return Fail(status);
  const double seconds = SecondsSince(start);
  if (report.first_bad_position != 0) {
    std::cout << "FAILED at position " << report.first_bad_position << ": " << report.problem << "\n";
    std::cout << report.events << " events before it verified\n";
    return 1;
  }
  std::string keys;
  for (const std::string& id : report.key_ids) keys += (keys.empty() ? "" : " -> ") + id;
  std::printf("OK: %llu events: hash chain and Merkle tree verified in %.2f s (%.0f events/s)\n",
              static_cast<unsigned long long>(report.events), seconds, report.events / std::max(seconds, 1e-9));
  std::printf("%llu checkpoints and %llu key rotations signed by key %s; the given key %s is in that chain\n",
              static_cast<unsigned long long>(report.checkpoints), static_cast<unsigned long long>(report.rotations),
              keys.c_str(), ledger::KeyIdOf(key).c_str());
  std::printf("signed up to position %llu", static_cast<unsigned long long>(report.last_signed_tree_size));
  if (report.events > report.last_signed_tree_size + 1) {
    std::printf("; positions %llu..%llu are chained but not yet covered by a checkpoint",
                static_cast<unsigned long long>(report.last_signed_tree_size + 2),
                static_cast<unsigned long long>(report.events));
  }
  std::printf("\nhead hash %s\nmerkle root %s\n", ledger::HashToHex(report.head_hash).c_str(),
              ledger::HashToHex(report.root).c_str());
  return 0;
}

int RunBackup(const std::string& data_dir, const std::string& backup_dir, bool list_only) {
  if (list_only) {
    std::vector<ledger::BackupInfo> backups;
    Status status = ledger::ListBackups(backup_dir, &backups);
    if (!status.ok()) return Fail(status);
    std::printf("%-6s %-28s %8s %12s  %s\n", "id", "taken (UTC)", "files", "size", "metadata");
    for (const ledger::BackupInfo& info : backups) {
      std::printf("%-6u %-28s %8u %12s  %s\n", info.backup_id,
                  ledger::FormatUtcMicros(info.timestamp_seconds * 1000000).c_str(), info.file_count,
                  Mib(info.size_bytes).c_str(), info.metadata.c_str());
    }
    return 0;
  }
  std::unique_ptr<ledger::EventStore> store;
  Status status = OpenExisting(data_dir, &store);
  if (!status.ok()) return Fail(status);
  const auto start = std::chrono::steady_clock::now();
  ledger::BackupResult backup;
  status = store->CreateBackup(backup_dir, &backup);
  if (!status.ok()) return Fail(status);
  std::printf("backup %u of %s in %s: positions 1..%llu, head hash %s\n%u files, %s, %.2f s\n", backup.backup_id,
              data_dir.c_str(), backup_dir.c_str(), static_cast<unsigned long long>(backup.head.position),
              ledger::HashToHex(backup.head.hash).c_str(), backup.file_count, Mib(backup.size_bytes).c_str(),
              SecondsSince(start));
  return 0;
}

int RunRestore(const std::string& backup_dir, uint32_t backup_id, const std::string& data_dir) {
  const auto start = std::chrono::steady_clock::now();
  ledger::RestoreResult restored;
  Status status = ledger::RestoreBackup(backup_dir, backup_id, data_dir, &restored);
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    if (status.code() == ledger::StatusCode::kCorruption) {
      std::cerr << "the restored directory '" << data_dir << "' must not be used; try an older backup (--backup-id)\n";
    }
    return ExitCode(status);
  }
  std::printf("restored backup %u into %s in %.2f s\nverified: %llu events, hash chain and Merkle tree; head position %llu hash %s\n",
              restored.backup_id, data_dir.c_str(), SecondsSince(start),
              static_cast<unsigned long long>(restored.events_verified),
              static_cast<unsigned long long>(restored.head.position), ledger::HashToHex(restored.head.hash).c_str());
  return 0;
}

}  // namespace di::cli
