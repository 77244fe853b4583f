// The funding journal on disk (issue #15; docs/projections.md "The journal on disk"): what every event changed in
// the funding figures, stamped with its position, and at every multiple of a stride an image of every cell, so that
// "funding as of valid date V, as known at position K" is the image at or before K plus the records after it up to
// K: a read of at most one stride of records, never a replay of the log.
//
//   std::unique_ptr<JournalStore> journal;
//   Status s = JournalStore::Open(JournalStore::PathFor(data_dir), JournalStoreOptions{}, &journal);
//   JournalProjector projector(journal.get());
//   s = projector.CatchUp(events, checkpoints, kKnownNow);       // follows the log from where the store stands
//   s = journal->CellsAsKnownAt(known_at, valid_date, &cells, &context);
//   s = ComputeFundingFromCells(cells, context, valid_date, known_at, query, &report);
//
// Like the checkpoints, it is derived state in its own RocksDB (<data>/journal): deleting it is always safe (the next
// catch-up recomputes it from the log). It names the chain hash of the event at its position; a store that the log
// does not confirm (restored from an older backup, another store's directory) is cleared, never used.
#ifndef DI_PROJECTIONS_JOURNAL_STORE_H_
#define DI_PROJECTIONS_JOURNAL_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/projections/checkpoint.h"
#include "di/projections/funding.h"
#include "di/projections/funding_journal.h"
#include "di/projections/indicators.h"
#include "di/projections/person_scope.h"
#include "di/projections/reconciliation.h"

namespace di::projections {

struct JournalStoreOptions {
  // An image of every cell is written at each multiple of this position: a query reads one image and at most this
  // many events' records. Default 8 192: on the demo (119 315 events), p99 25 ms at a stride of 4 096 and 178 ms at
  // 16 384, 196 and 148 bytes per event on disk (bench/journal_bench.cc).
  uint64_t image_stride = 8192;
  // Records are written in batches of at most this many events (one atomic write each, position included).
  size_t batch_events = 4096;
};

// What one event changed: the funding cells it moved, and the facts of the report's context it replaced (a project's
// budget versions, a municipality registered, a claim's approval); for entitlements, what it changed in the caps'
// counters and, when it is a fact of a grant (its start, amendment, end, suspension or resumption: not a delivery, a
// correction or a void), the grant's stream, which the store indexes so that entitlements fold a family's facts
// without its deliveries; when it changed a family or its grants (an enrolment, a grant), each member's scope as
// ScopeStreamsOf gives it after the event, so that a reader without a current model (the CLI) finds a family's streams;
// for reconciliation, the claim it submitted and the claim-line facts of each delivery whose facts or decision it
// changed; for indicators, the
// member facts of each person whose facts or first day receiving services it changed.
// A claim as the store lists it: where reconciliation finds the streams of the claims a query selects.
struct ClaimHead {
  std::string claim_id;
  std::string project_id;
  std::string municipality_id;
  uint64_t position = 0;  // of the claim's event
  bool operator==(const ClaimHead&) const = default;
};

struct JournalRecord {
  uint64_t position = 0;
  std::vector<FundingChange> changes;
  FundingContextChange context;
  std::vector<UsageChange> usage;
  std::string grant_fact_stream;
  std::vector<PersonScope> scopes;
  std::vector<std::pair<std::string, ClaimLineFacts>> lines;  // by delivery id, ascending
  std::vector<IndicatorMember> members;                        // by person id, ascending
  std::vector<ClaimHead> claims;                               // the claim its event submitted, if any
  // Nothing for the funding report and `report changes` (the "record/" key).
  bool funding_empty() const { return changes.empty() && context.empty(); }
};

// The record of `event`, just folded into `model` and followed by `journal`, which gave `changes`.
JournalRecord RecordOf(const FundingJournal& journal, const LedgerModel& model, const ledger::StoredEvent& event,
                       std::vector<FundingChange> changes);

class JournalStore {
 public:
  static Status Open(const std::string& path, const JournalStoreOptions& options, std::unique_ptr<JournalStore>* out);
  // The conventional location for a store at `data_dir`: <data>/journal.
  static std::string PathFor(const std::string& data_dir);
  virtual ~JournalStore() = default;

  const JournalStoreOptions& options() const { return options_; }
  // The position the store is projected up to (0: nothing yet).
  virtual uint64_t position() const = 0;

  // Appends `records` (ascending, each after position()) and moves the position to `to_position`, whose event has
  // chain hash `hash`; with `image_journal` (the journal at `image_position`, a multiple of the stride among them,
  // and `image_context`, the context there) also writes that image. One atomic write.
  struct Image {
    uint64_t position = 0;
    std::string bytes;  // EncodeImage
  };
  virtual Status Append(const std::vector<JournalRecord>& records, const std::vector<Image>& images,
                        uint64_t to_position, const ledger::Hash& hash) = 0;
  static std::string EncodeImage(const FundingJournal& journal);  // its cells and its context

  // Every cell as of `valid_date` as known at `known_at_position` (<= position()), zero cells left out, and the
  // report's context as known then.
  virtual Status CellsAsKnownAt(uint64_t known_at_position, int32_t valid_date, FundingCells* cells,
                                FundingContext* context) = 0;

  // A cap's `counter` (UsageCounterKey) as of `valid_date` as known at `known_at_position` (<= position()): the sum
  // of its usage changes recorded up to it that count by the valid date (0: nothing was charged to it).
  virtual Status UsageAsKnownAt(uint64_t known_at_position, int32_t valid_date, const std::string& counter,
                                int64_t* used) = 0;
  // Every counter whose key starts with `prefix` (the kinds of a cap per kind), with its usage as UsageAsKnownAt
  // gives it; counters with no usage record at or before the position are left out.
  virtual Status UsagesWithPrefixAsKnownAt(uint64_t known_at_position, int32_t valid_date, const std::string& prefix,
                                           std::vector<std::pair<std::string, int64_t>>* used) = 0;
  // The streams of `person_id`'s family and their grants as of the store's position (ScopeStreamsOf on the model
  // there: they include those of any earlier position); *found false for a person not enrolled by then.
  virtual Status ReadScope(const std::string& person_id, PersonScope* scope, bool* found) = 0;
  // The claim-line facts of deliveries as known at `known_at_position` (<= position()), read one after another
  // through one iterator: of each, those of the last event at or before it that changed them; recorded false when
  // none did (the delivery was not recorded by then).
  class LineReader {
   public:
    virtual ~LineReader() = default;
    virtual Status Read(const std::string& delivery_id, ClaimLineFacts* facts) = 0;
  };
  virtual Status NewLineReader(uint64_t known_at_position, std::unique_ptr<LineReader>* out) = 0;
  // One delivery's (a LineReader for one read).
  Status LineAsKnownAt(uint64_t known_at_position, const std::string& delivery_id, ClaimLineFacts* facts);
  // Every delivery's line facts as known at `known_at_position` (<= position()), of each delivery recorded by then, in
  // delivery id order: one pass over the line keys (an explained funding report; journal_funding.h). The first
  // status `fn` fails with ends the pass and is the answer.
  using LineVisitor = std::function<Status(const std::string& delivery_id, const ClaimLineFacts& facts)>;
  virtual Status ForEachLineAsKnownAt(uint64_t known_at_position, const LineVisitor& fn) = 0;
  // Every claim submitted at or before `known_at_position` (<= position()), in claim id order.
  virtual Status ClaimsAsKnownAt(uint64_t known_at_position, std::vector<ClaimHead>* claims) = 0;
  // Every person's member facts as known at `known_at_position` (<= position()): of each person with facts recorded by
  // then, those after the last event at or before it that changed them; in person id order.
  virtual Status MembersAsKnownAt(uint64_t known_at_position, std::vector<IndicatorMember>* members) = 0;
  // Calls `fn` with the position of every fact of the grant of `stream` ("grant/<id>"; see JournalRecord) at or
  // before `known_at_position` (<= position()), ascending.
  virtual Status ReadGrantFactPositions(const std::string& stream, uint64_t known_at_position,
                                        const std::function<void(uint64_t)>& fn) = 0;

  // Calls `fn` with the funding record of every event in (after, to] that changed a funding figure or the report's
  // context, in position order (to <= position()); stops early when `fn` returns false. Its usage and fact stream
  // are not read (left empty).
  virtual Status ReadRecords(uint64_t after, uint64_t to, const std::function<bool(JournalRecord&)>& fn) = 0;

  // Clears the store when the log does not confirm the chain hash at its position (or has fewer events).
  virtual Status Confirm(ledger::EventStore& events, bool* cleared) = 0;
  virtual Status Clear() = 0;
  // Bytes on disk (SST and blob files, WAL).
  virtual uint64_t DiskBytes() = 0;

 protected:
  explicit JournalStore(const JournalStoreOptions& options) : options_(options) {}
  JournalStoreOptions options_;
};

// Keeps a JournalStore following the log: a model and a funding journal at the store's position, the events after
// it folded into both and their records appended. The first CatchUp resumes: the model at the store's position (from
// the nearest checkpoint), the journal reset on it (every delivery decided once); later ones only fold what is new.
class JournalProjector {
 public:
  explicit JournalProjector(JournalStore* store) : store_(store) {}
  // Brings the store to `to_position` (kKnownNow: the log's head).
  Status CatchUp(ledger::EventStore& events, CheckpointStore* checkpoints, uint64_t to_position);
  uint64_t position() const { return store_->position(); }
  // Makes a CatchUp running on another thread stop after its current event with kShutdown (what it wrote stays).
  void Cancel() { cancelled_ = true; }

  // For a holder of its own model and journal (the server's live model), who folds and follows them itself: the
  // record of each event as it follows it, then Flush. `model` and `journal` are after folding and following `event`.
  void Add(const FundingJournal& journal, const LedgerModel& model, const ledger::StoredEvent& event,
           std::vector<FundingChange> changes);
  Status Flush();
  size_t pending() const { return records_.size(); }

 private:
  Status FollowLog(ledger::EventStore& events, CheckpointStore* checkpoints, uint64_t to_position);

  JournalStore* store_;
  std::atomic<bool> cancelled_{false};
  bool resumed_ = false;
  LedgerModel model_;
  FundingJournal journal_;
  std::vector<JournalRecord> records_;
  std::vector<JournalStore::Image> images_;
  uint64_t buffered_to_ = 0;
  ledger::Hash buffered_hash_{};
};

}  // namespace di::projections

#endif  // DI_PROJECTIONS_JOURNAL_STORE_H_
