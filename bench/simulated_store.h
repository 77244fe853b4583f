// A store holding the seeded region history (`simulate --persons N --years Y`, seed 1) after the default rules:
// the workload of projections_bench and journal_bench. Header-only; its users link di_workload.
#ifndef DI_BENCH_SIMULATED_STORE_H_
#define DI_BENCH_SIMULATED_STORE_H_

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "di/projections/default_rules.h"
#include "di/workload/region_history.h"

namespace di::bench {

// Builds the store at `path` (replacing what is there) unsynced: building the workload is not what is measured.
// Writes `<path>.complete` last, so a run with --reuse can tell a whole store from one a crash cut short.
// Throws std::runtime_error on failure (bench_util.h's Main prints it).
inline void BuildSimulatedStore(const std::string& path, int persons, int years) {
  auto Check = [](const ledger::Status& status, const std::string& what) {
    if (!status.ok()) throw std::runtime_error(what + ": " + status.ToString());
  };
  auto Fail = [](const std::string& what) { throw std::runtime_error(what); };
  std::filesystem::remove_all(path);
  std::unique_ptr<ledger::EventStore> store;
  ledger::EventStoreOptions options;
  options.sync = false;
  Check(ledger::EventStore::Open(options, path, &store), "open");
  nlohmann::json rules = {{"id", "rules:MK313"}, {"type", "rules_enacted"}, {"effective_date", "2015-07-01"},
                          {"actor", "bench"},
                          {"data", {{"rule_set_id", "MK313"}, {"title", "default"},
                                    {"document", nlohmann::json::parse(projections::DefaultRulesDocument())}}}};
  std::vector<ledger::NewEvent> batch(1);
  Check(ledger::EventFromJson(rules, &batch[0]), "rules");
  ledger::AppendResult result;
  Check(store->Append(batch, &result), "append rules");
  workload::SimulateOptions simulate;
  simulate.seed = 1;
  simulate.persons = persons;
  simulate.years = years;
  // Through a file: at 10 M events the JSON text is ~3.5 GB, more than is worth holding in memory.
  const std::string history_path = path + ".history.jsonl";
  {
    std::ofstream out(history_path);
    workload::WriteSimulatedHistory(simulate, out);
    if (!out) Fail("cannot write " + history_path);
  }
  std::ifstream history(history_path);
  batch.clear();
  for (std::string line; std::getline(history, line);) {
    batch.emplace_back();
    Check(ledger::EventFromJsonText(line, &batch.back()), "parse");
    if (batch.size() == 1000) {
      Check(store->Append(batch, &result), "append");
      batch.clear();
    }
  }
  if (!batch.empty()) Check(store->Append(batch, &result), "append");
  std::filesystem::remove(history_path);
  std::ofstream(path + ".complete") << "simulate --persons " << persons << " --years " << years << "\n";
}

}  // namespace di::bench

#endif  // DI_BENCH_SIMULATED_STORE_H_
