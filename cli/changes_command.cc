// `di-ledger report changes --known-at A [--to B]`: what moved in the funding figures between two known-at moments,
// and which events moved them (projections/funding_changes.h).
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "commands.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "di/projections/checkpoint.h"
#include "di/projections/funding_changes.h"
#include "di/projections/journal_store.h"
#include "di/projections/replay.h"
#include "query_output.h"

namespace di::cli {

using ledger::Status;

namespace {

std::string DescribeKey(const projections::FundingRowKey& key) {
  std::string text;
  for (const std::string* part : {&key.project_id, &key.territory_id, &key.municipality_id, &key.service,
                                   &key.provider_id, &key.mode, &key.month}) {
    if (!part->empty()) text += (text.empty() ? "" : " ") + *part;
  }
  return text.empty() ? "(all)" : text;
}

// "deliveries +1, delivered +48.00, eligible +48.00": the figures a move changed, signed.
std::string DescribeDelta(const projections::FundingFigures& f) {
  std::string text;
  auto money = [&](const char* name, int64_t cents) {
    if (cents != 0) text += std::string(text.empty() ? "" : ", ") + name + " " + (cents > 0 ? "+" : "") + Euros(cents);
  };
  if (f.deliveries != 0) text += std::string("deliveries ") + (f.deliveries > 0 ? "+" : "") + std::to_string(f.deliveries);
  money("delivered", f.delivered_cents);
  money("eligible", f.eligible_cents);
  money("claimed", f.claimed_cents);
  money("approved", f.approved_cents);
  money("approved ESF", f.approved_esf_cents);
  money("approved state", f.approved_state_cents);
  money("paid", f.paid_cents);
  money("paid ESF", f.paid_esf_cents);
  money("paid state", f.paid_state_cents);
  return text;
}

// "delivery_voided D-0001 (grant/G-0000317) dated 2021-06-28, position 62642 (event E-1), recorded 2021-08-31T...".
std::string DescribeCause(uint64_t position, const std::map<uint64_t, const projections::ChangeCause*>& causes) {
  auto found = causes.find(position);
  if (found == causes.end()) return "the event at position " + std::to_string(position);
  const projections::ChangeCause& cause = *found->second;
  return cause.type + (cause.delivery_id.empty() ? "" : " " + cause.delivery_id) + " (" + cause.stream + ") dated " +
         ledger::FormatDate(cause.effective_date) + ", position " + std::to_string(position) + " (event " +
         cause.event_id + "), recorded " + ledger::FormatUtcMicros(cause.recorded_at_micros);
}

void PrintFigures(const char* label, uint64_t position, const projections::FundingFigures& f) {
  std::printf("  %-5s %-10llu %8lld %13s %13s %13s %13s %13s\n", label, static_cast<unsigned long long>(position),
              static_cast<long long>(f.deliveries), Euros(f.delivered_cents).c_str(), Euros(f.eligible_cents).c_str(),
              Euros(f.claimed_cents).c_str(), Euros(f.approved_cents).c_str(), Euros(f.paid_cents).c_str());
}

void PrintChangesTable(const projections::FundingChangesReport& report) {
  std::printf("funding changes recorded after position %llu up to %llu, valid on %s (EUR)\n\n",
              static_cast<unsigned long long>(report.from_position), static_cast<unsigned long long>(report.to_position),
              ledger::FormatDate(report.valid_date).c_str());
  std::map<uint64_t, const projections::ChangeCause*> causes;
  for (const auto& cause : report.events) causes[cause.position] = &cause;
  std::printf("  %-5s %-10s %8s %13s %13s %13s %13s %13s\n", "", "position", "count", "delivered", "eligible",
              "claimed", "approved", "paid");
  for (const projections::ChangedRow& row : report.rows) {
    std::printf("%s\n", DescribeKey(row.key).c_str());
    PrintFigures("from", report.from_position, row.at_from);
    PrintFigures("to", report.to_position, row.at_to);
    for (const projections::RowMove& move : row.moves) {
      std::printf("    %s because of %s\n", DescribeDelta(move.delta).c_str(),
                  DescribeCause(move.position, causes).c_str());
    }
  }
  if (report.rows.empty()) std::printf("nothing changed\n");
  std::printf("total\n");
  PrintFigures("from", report.from_position, report.totals_from);
  PrintFigures("to", report.to_position, report.totals_to);
}

// Resolves A (--known-at), B (--to, default the head) and the valid date; a bad value is exit 2.
int ResolveChangesQuery(ledger::EventStore& store, const ReportOptions& options,
                        projections::FundingChangesQuery* query) {
  if (options.known_at.empty()) {
    std::cerr << "error: --known-at: required for the changes report: the moment the changes are counted from\n";
    return 2;
  }
  query->funding.project_id = options.project_id;
  query->funding.municipality_id = options.municipality_id;
  std::stringstream dimensions(options.group_by);
  for (std::string dimension; std::getline(dimensions, dimension, ',');) {
    if (!dimension.empty()) query->funding.group_by.push_back(dimension);
  }
  std::set<std::string> keep;
  if (Status dimensions = projections::FundingDimensions(query->funding.group_by, &keep); !dimensions.ok()) {
    std::cerr << "error: --group-by: " << dimensions.message() << "\n";
    return 2;
  }
  // What A names (a project, a municipality) may have been recorded after it: the changes then show it arriving.
  projections::ResolvedAsOf from;
  Status status = projections::ResolveAsOf(store, options.valid_at, options.known_at, store.Head().position,
                                           {{"project", options.project_id}, {"municipality", options.municipality_id}},
                                           &from);
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return status.code() == ledger::StatusCode::kNotFound ? 1 : 2;
  }
  query->from_position = from.known_at_position;
  query->valid_date = from.valid_date;
  query->to_position = store.Head().position;
  if (!options.to.empty()) {
    if (Status to = projections::ResolveKnownAt(store, options.to, &query->to_position); !to.ok()) {
      std::cerr << "error: --to: " << to.message() << "\n";
      return 2;
    }
  }
  if (query->to_position < query->from_position) {
    std::cerr << "error: --to: position " << query->to_position << " is before --known-at, position "
              << query->from_position << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int RunChangesReport(const ReportOptions& options) {
  std::unique_ptr<ledger::EventStore> store;
  if (Status status = OpenExisting(options.data_dir, &store); !status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return 2;
  }
  projections::FundingChangesQuery query;
  if (int code = ResolveChangesQuery(*store, options, &query)) return code;
  projections::FundingChangesReport report;
  Status status = Status::Ok();
  // From the journal store's records when it has projected B; else a journal folded from the checkpoint nearest A.
  if (auto journal = options.naive ? nullptr : OpenProjectedJournal(options.data_dir, *store, query.to_position)) {
    status = projections::ComputeFundingChangesFromStore(*store, *journal, query, &report);
  } else {
    std::unique_ptr<projections::CheckpointStore> checkpoints;
    status =
        projections::CheckpointStore::Open(projections::CheckpointStore::PathFor(options.data_dir), {}, &checkpoints);
    if (!status.ok()) {
      std::cerr << "warning: projection checkpoints unavailable, replaying the log: " << status.ToString() << "\n";
      checkpoints.reset();
    }
    status = projections::ComputeFundingChanges(*store, checkpoints.get(), query, &report);
  }
  if (!status.ok()) return status.code() == ledger::StatusCode::kInvalidArgument ? (ReportFailure(status), 2)
                                                                                  : ReportFailure(status);
  if (PrintMachineReadable(
          options.format, [&] { return projections::FundingChangesToJson(report); },
          [&] { return projections::FundingChangesToCsv(report); })) {
    return 0;
  }
  PrintChangesTable(report);
  return 0;
}

}  // namespace di::cli
