// What changed in the funding figures between two known-at positions, and which events changed them
// (`di-ledger report changes`, GET /v1/reports/changes; docs/projections.md "What changed, and why").
//
// A finance officer explains the difference between a payment application as submitted (the figures as known at A)
// and the figures as known now (B): per row, its figures at A and at B and every event recorded in (A, B] that moved
// them, with how much. The figures at A and B are the funding report's (same valid date, filters and grouping), and
// the moves of a row sum to its difference.
#ifndef DI_PROJECTIONS_FUNDING_CHANGES_H_
#define DI_PROJECTIONS_FUNDING_CHANGES_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/projections/checkpoint.h"
#include "di/projections/funding.h"
#include "di/projections/funding_journal.h"

namespace di::projections {

class JournalStore;  // journal_store.h

struct FundingChangesQuery {
  FundingQuery funding;        // project, municipality and group_by as the funding report's (explain is unused)
  uint64_t from_position = 0;  // A: the changes recorded after it...
  uint64_t to_position = 0;    // B: ...up to and including it (A <= B)
  int32_t valid_date = 0;      // the funding report's valid date at both ends
};

// What the event at `position` did to a row.
struct RowMove {
  uint64_t position = 0;
  FundingFigures delta;
};

struct ChangedRow {
  FundingRowKey key;  // the kept dimensions
  FundingFigures at_from, at_to;
  std::vector<RowMove> moves;  // position order; they sum to at_to - at_from
};

// An event that moved a figure: what it was and when it was recorded.
struct ChangeCause {
  uint64_t position = 0;
  std::string event_id;     // the id its client gave it
  std::string type;         // "service_delivered", ...
  std::string stream;       // "grant/G-1", ...
  std::string delivery_id;  // for a delivery recorded, corrected or voided: which one ("" otherwise)
  int32_t effective_date = 0;
  int64_t recorded_at_micros = 0;
};

struct FundingChangesReport {
  int32_t valid_date = 0;
  uint64_t from_position = 0, to_position = 0;
  std::vector<ChangedRow> rows;  // the rows something moved, in key order
  FundingFigures totals_from, totals_to;  // every row the filters keep
  std::vector<ChangeCause> events;        // every event named by a move, position order
  std::string note;
  bool by_provider = false, by_mode = false;  // the rows have these dimensions (CSV columns)
};

// The changes of (A, B] summed per row and event as they are read: a month of records at 10 M events holds some
// 10^5 changes, kept as sums per row rather than as a list of keys.
class FundingMoves {
 public:
  // kInvalidArgument naming `group_by` for an unknown dimension; nothing may be added then.
  Status Start(const FundingChangesQuery& query);
  // A change valid after the valid date, left out by the filters or moving nothing is ignored.
  void Add(const FundingChange& change);
  // The report from the cells as known at A and the moves added.
  Status Assemble(const FundingCells& cells_at_from, FundingChangesReport* out);

 private:
  FundingChangesQuery query_;
  std::set<std::string> keep_;
  std::map<FundingRowKey, std::map<uint64_t, FundingFigures>> moves_;
  FundingFigures moved_;
  bool started_ = false;
};

// The report from the cells as known at A (FundingJournal::CellsAsOf) and the journal's changes of (A, B]. Pure.
Status AssembleFundingChanges(const FundingCells& cells_at_from, const std::vector<FundingChange>& changes,
                              const FundingChangesQuery& query, FundingChangesReport* out);

// Loads the model as known at A (from the nearest checkpoint), starts a journal on it, follows the events of (A, B]
// and assembles the report, with the causes read from the store.
Status ComputeFundingChanges(ledger::EventStore& store, CheckpointStore* checkpoints, const FundingChangesQuery& query,
                             FundingChangesReport* out);

// The same from the journal store (it must have projected B): the cells as known at A from its image and records,
// the changes of (A, B] from its records. No model is folded.
Status ComputeFundingChangesFromStore(ledger::EventStore& store, JournalStore& journal,
                                      const FundingChangesQuery& query, FundingChangesReport* out);

nlohmann::ordered_json FundingChangesToJson(const FundingChangesReport& report);
// CSV, one line per move: the row's dimensions, the event (position, type, stream, recorded at) and the deltas in
// cents.
std::string FundingChangesToCsv(const FundingChangesReport& report);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_FUNDING_CHANGES_H_
