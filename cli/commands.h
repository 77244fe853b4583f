// The CLI verbs, as plain functions over the ledger library (main.cc only parses arguments).
// Each returns the process exit code: 0 ok, 1 a failed check or rejected input, 2 a usage or I/O error.
#ifndef DI_CLI_COMMANDS_H_
#define DI_CLI_COMMANDS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/projections/journal_store.h"
#include "di/workload/region_history.h"

namespace di::cli {

struct InitOptions {
  std::string data_dir;
  bool enact_rules = true;             // enact the default rule set (or `rules_file`) on a new store
  std::string rules_file;              // a rules document to enact instead of the default one
  std::vector<std::string> rule_parameters;  // NAME=YYYY-MM-DD overrides of the document's parameters
  // A UTC time: enact the rules with this recorded time, asserted (a store that a migration of older history
  // goes into next, docs/operations.md). Empty: recorded now, as every append.
  std::string rules_recorded_at;
};
int RunInit(const InitOptions& options);
struct ImportOptions {
  std::string data_dir;
  std::string input;          // a file, or "-" for standard input
  size_t batch_events = 1000; // events per atomic append
  // Migration: keep each line's "recorded_at" (required on every line) instead of recording the events now
  // (ledger::EventJsonOptions::keep_recorded_at; docs/operations.md "Migrating history").
  bool keep_recorded_at = false;
};
int RunImport(const ImportOptions& options);
int RunExport(const std::string& data_dir, uint64_t from_position, uint64_t max_events, const std::string& output);
int RunVerify(const std::string& data_dir);
int RunStats(const std::string& data_dir, bool json);
struct EntitlementsOptions {
  std::string data_dir;
  std::string person_id;
  std::string valid_at;   // YYYY-MM-DD; empty: the last effective date in the store
  std::string known_at;   // position or UTC time; empty: the head
  std::string format = "table";
  bool explain = false;   // list the deliveries (and their events) behind the figures
  bool naive = false;     // fold a model even when the journal store could answer
};
int RunEntitlements(const EntitlementsOptions& options);

struct ReportOptions {
  std::string data_dir;
  std::string kind;            // funding, reconciliation, indicators, changes, partners, activities
  std::string claim_id;        // reconciliation: one claim
  std::string project_id;
  std::string municipality_id;
  std::string valid_at;        // YYYY-MM-DD; empty: the last effective date in the store
  std::string known_at;        // position or UTC time; empty: the head (changes: required, counted from it)
  std::string to;              // changes: counted up to this position or UTC time; empty: the head
  std::string group_by;        // comma-separated dimensions
  std::string format = "table";
  std::string table;           // reconciliation CSV: claims, lines (empty: lines) or payments
  bool explain = false;        // funding: the positions of the events behind each row
  bool naive = false;          // funding, reconciliation, indicators: fold a model even when the journal store could answer
  int year = 0;                // activities: only those that began in this year (0: every year)
};
int RunReport(const ReportOptions& options);
// `report changes`: the funding figures' changes between --known-at and --to, and the events behind them.
int RunChangesReport(const ReportOptions& options);
// The journal store (<data>/journal) when it has projected `position` and the log confirms it; null otherwise
// (missing, behind, locked by a running server, or from another log). The CLI never projects it: a server and
// `rebuild` do, and a command it cannot serve folds a model as before.
std::unique_ptr<projections::JournalStore> OpenProjectedJournal(const std::string& data_dir, ledger::EventStore& store,
                                                                uint64_t position);
// Recomputes the projection checkpoints (<data>/projections) and the journal store (<data>/journal) from the whole
// log.
int RunRebuild(const std::string& data_dir, uint64_t interval_events);

// Appends a `rules_enacted` event with the default rule set (or `rules_file`), parameters overridden.
// `recorded_at`: as InitOptions::rules_recorded_at.
ledger::Status EnactRules(ledger::EventStore& store, const std::string& rules_file,
                          const std::vector<std::string>& parameters, uint64_t* position,
                          const std::string& recorded_at = {}, const std::vector<std::string>& project_ids = {});
// rules enact: a rules document (the default one unless `rules_file`) enacted in an existing store, for every project
// without rules of its own or for `project_ids` alone (docs/rules.md §3.0).
struct EnactRulesOptions {
  std::string data_dir;
  std::string rules_file;
  std::vector<std::string> rule_parameters;  // NAME=YYYY-MM-DD overrides of the document's parameters
  std::vector<std::string> project_ids;      // empty: every project without rules of its own
};
int RunEnactRules(const EnactRulesOptions& options);

// Opens the store in `data_dir`, which must exist already (`init` creates one).
ledger::Status OpenExisting(const std::string& data_dir, std::unique_ptr<ledger::EventStore>* store);
// For the commands that only read (export, verify, stats): a read-only open writes nothing, so they also work
// on a full disk, where a read-write open fails (it must write a new write-ahead log and MANIFEST).
ledger::Status OpenExistingReadOnly(const std::string& data_dir, std::unique_ptr<ledger::EventStore>* store);

int RunSimulate(const workload::SimulateOptions& options, const std::string& output);

// serve, token (server/): the HTTP API over a store (serve_command.cc).
struct ServeOptions {
  std::string data_dir;
  std::string address = "127.0.0.1";
  uint16_t port = 8080;             // 0: any free port (printed)
  std::string tokens_file;          // required unless --demo
  bool demo = false;                // import the demo region into an empty store; demo tokens
  int threads = 4;
  uint64_t body_limit_bytes = 16 * 1024 * 1024;
  int64_t read_timeout_ms = 30000;
  int64_t write_timeout_ms = 30000;
  int64_t stall_timeout_ms = 15000;  // a subscriber taking no data this long is dropped
  int64_t heartbeat_ms = 5000;
  int binary_port = -1;             // the Cap'n Proto endpoint (docs/protocol.md): -1 off, 0 any free port
  // The chain is verified at every start; a store that does not verify is served only with this (reads,
  // no appends). Also makes a verified store read-only.
  bool read_only = false;
  std::string backup_dir;           // POST /v1/admin/backup writes online backups here ("": off)
};
int RunServe(const ServeOptions& options);
struct TokenOptions {
  std::string name;
  std::string role;
  std::string municipality;
};
// Prints a new random token once, and its entry (with the token's SHA-256) for the tokens file.
int RunToken(const TokenOptions& options);

// audit, backup, restore (audit_commands.cc; formats and procedures in docs/audit.md, docs/operations.md).
struct AuditOptions {
  std::string data_dir;
  std::string key_file;                    // keygen: the file to create; checkpoint, rotate-key: the ledger's key
  std::string new_key_file;                // rotate-key: the key that signs from now on
  std::string public_key;                  // verify-export, check-proof: 64 hex chars or a .pub file
  std::string input;                       // verify-export: the export; check-proof: the proof ("-": stdin)
  std::string output = "-";                // prove
  std::string event_id;                    // prove: inclusion of this event
  uint64_t checkpoint_position = 0;        // prove: the checkpoint proven against (0: the latest)
  uint64_t first_checkpoint_position = 0;  // prove: consistency of this checkpoint with the other one
};
int RunAuditKeygen(const AuditOptions& options);
int RunAuditCheckpoint(const AuditOptions& options);
int RunAuditRotateKey(const AuditOptions& options);
int RunAuditList(const AuditOptions& options);
int RunAuditProve(const AuditOptions& options);
int RunAuditCheckProof(const AuditOptions& options);
int RunAuditVerifyExport(const AuditOptions& options);
int RunBackup(const std::string& data_dir, const std::string& backup_dir, bool list_only);
int RunRestore(const std::string& backup_dir, uint32_t backup_id, const std::string& data_dir);

// import --server HOST:PORT --token T: the same import through a server's binary endpoint (remote_import.cc).
// `token` empty: $DI_LEDGER_TOKEN.
int RunRemoteImport(const ImportOptions& options, const std::string& server_address, const std::string& token);

}  // namespace di::cli

#endif  // DI_CLI_COMMANDS_H_
