// The CLI verbs, as plain functions over the ledger library (main.cc only parses arguments).
// Each returns the process exit code: 0 ok, 1 a failed check or rejected input, 2 a usage or I/O error.
#ifndef DI_CLI_COMMANDS_H_
#define DI_CLI_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "simulate.h"

namespace di::cli {

struct InitOptions {
  std::string data_dir;
  bool enact_rules = true;             // enact the default rule set (or `rules_file`) on a new store
  std::string rules_file;              // a rules document to enact instead of the default one
  std::vector<std::string> rule_parameters;  // NAME=YYYY-MM-DD overrides of the document's parameters
};
int RunInit(const InitOptions& options);
struct ImportOptions {
  std::string data_dir;
  std::string input;          // a file, or "-" for standard input
  size_t batch_events = 1000; // events per atomic append
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
};
int RunEntitlements(const EntitlementsOptions& options);

struct ReportOptions {
  std::string data_dir;
  std::string kind;            // funding, reconciliation, indicators
  std::string claim_id;        // reconciliation: one claim
  std::string project_id;
  std::string municipality_id;
  std::string valid_at;        // YYYY-MM-DD; empty: the last effective date in the store
  std::string known_at;        // position or UTC time; empty: the head
  std::string group_by;        // comma-separated dimensions
  std::string format = "table";
  bool explain = false;        // funding: the positions of the events behind each row
};
int RunReport(const ReportOptions& options);
// Recomputes the projection checkpoints (<data>/projections) from the whole log.
int RunRebuild(const std::string& data_dir, uint64_t interval_events);

// Appends a `rules_enacted` event with the default rule set (or `rules_file`), parameters overridden.
ledger::Status EnactRules(ledger::EventStore& store, const std::string& rules_file,
                          const std::vector<std::string>& parameters, uint64_t* position);

int RunSimulate(const SimulateOptions& options, const std::string& output);

}  // namespace di::cli

#endif  // DI_CLI_COMMANDS_H_
