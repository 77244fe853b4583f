// LedgerService: the transport-independent, thread-safe facade of di-ledger's network endpoints.
//
//   TokenRegistry tokens;
//   ledger::Status s = TokenRegistry::LoadFile("tokens.json", &tokens);
//   LedgerService service(store.get(), ServiceOptions{...});
//   s = service.Start();                                 // folds the live model up to the head
//   Principal who;
//   s = tokens.Authenticate(bearer_token, &who);         // unauthenticated -> 401
//   s = service.Append(who, std::move(batch), &result);  // forbidden -> 403, conflict -> 409, ...
//
// The HTTP server (server/src/http_server.cc) and the binary endpoint are thin shells over this class, so both
// transports answer the same question the same way. What it combines, one header each:
//   principal.h      who is asking (roles, bearer tokens);
//   access_policy.h  what each role may append, read and report, and a clerk's municipal scope (appends are scoped
//                    by the store's writer through an admission check, ledger/subject.h);
//   pseudonymiser.h  events as a reader sees them;
//   live_model.h     the model "known now" queries read, past known-at folds, head listeners;
//   projections::ResolveAsOf  a query's valid date and known-at, as the CLI resolves them.
// The ledger (EventStore) knows nothing of roles; the projections know nothing of transports.
#ifndef DI_SERVER_LEDGER_SERVICE_H_
#define DI_SERVER_LEDGER_SERVICE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "di/ledger/backup.h"
#include "di/ledger/event_store.h"
#include "di/ledger/status.h"
#include "di/projections/checkpoint.h"
#include "di/projections/entitlements.h"
#include "di/projections/funding.h"
#include "di/projections/funding_changes.h"
#include "di/projections/indicators.h"
#include "di/projections/project_outputs.h"
#include "di/projections/ledger_model.h"
#include "di/projections/reconciliation.h"
#include "di/projections/replay.h"
#include "di/server/live_model.h"
#include "di/server/metrics.h"
#include "di/server/principal.h"
#include "di/server/pseudonymiser.h"

namespace di::server {

class Metrics;

// ---------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------
struct ServiceOptions {
  // Key of the reader pseudonyms (crypto_generichash, 32 bytes). Default: empty, which makes Start() fail
  // for a service with readers; the CLI keeps one in <data>/pseudonym-key (created 0600 on first start).
  std::string pseudonym_key;
  // Largest page of one read (events returned). Default: 1000. Subscriptions ask for smaller pages
  // (HttpServerOptions::subscription_page_events); this is only their upper bound.
  size_t max_read_events = 1000;
  // Largest number of log positions one filtered read scans before returning (the page then ends early,
  // with `next_after` telling the client where to continue). Default: 20000. Bounds the work of a request
  // whose filter matches little.
  size_t max_scan_events = 20000;
  // Largest range one audit verification walks. Default: 1 000 000 events (about 1 s).
  uint64_t max_verify_events = 1000000;
  // Online backups (POST /v1/admin/backup) go into this RocksDB BackupEngine directory, chosen by the operator
  // at start, never by a client. Empty: backups through the server are disabled (503).
  std::string backup_dir;
  // Past known-at queries fold a fresh model (~3 us per event); at most this many run at once, more get
  // kBusy (429). Default: 2 (the machine's cores).
  int max_concurrent_replays = 2;
  // Projection checkpoints (<data>/projections), not owned; null: none. With them, Start() resumes the live
  // model from the newest confirmed snapshot instead of replaying the log, the live model is snapshotted as
  // it passes every `interval_events` positions, and past known-at queries start from the nearest snapshot.
  projections::CheckpointStore* checkpoints = nullptr;
  // The funding journal on disk (<data>/journal), not owned; null: none. Past known-at funding is read from it
  // (LiveModelOptions::journal_store).
  projections::JournalStore* journal_store = nullptr;
  // The projector thread folds acknowledged appends off the appenders' threads; appends that find it more than
  // this many events behind wait (up to `projection_lag_wait`) until it is within the bound again before they are
  // acknowledged: back-pressure, so that a read, which folds what the projector has not reached before it answers,
  // never has more than this to fold. Default: 5 000 events: under sustained HTTP appends on 2 cores the projector
  // folds ~7 700 events/s (docs/performance.md section 8), so the lag stays under a second. 0: no bound.
  uint64_t max_projection_lag_events = 5000;
  // The longest an append waits for the projector; the append is durable either way. Default: 30 s.
  std::chrono::milliseconds projection_lag_wait{30000};
  // Serve reads, queries and subscriptions but refuse every append with kForbidden (403) and
  // `read_only_reason` as the message. The CLI sets it when the chain does not verify at start and the
  // operator asked for --read-only: a store whose history is in doubt must not grow on top of it.
  bool read_only = false;
  std::string read_only_reason;  // "" : "the store is read-only"
};

// Which events a read or subscription returns.
struct EventFilter {
  std::vector<ledger::EventType> types;  // empty: every type
  std::string stream_prefix;            // "" : every stream; "person/" : every person stream
  // Parses "service_delivered,delivery_voided"; names the bad name in the error.
  static ledger::Status Parse(std::string_view types, std::string_view stream_prefix, EventFilter* out);
};

// One page of a read: the events as the principal may see them (JSON, one object per event).
struct ReadPage {
  std::vector<nlohmann::ordered_json> events;
  // Continue after this position (log reads) or version (stream reads): the last one scanned, which can be
  // beyond the last event returned when a filter skipped events.
  uint64_t next_after = 0;
  uint64_t head = 0;  // the position reads are served up to (the live model's position)
};

// Valid date and known-at of a query, as the client wrote them ("" = default: the latest effective date
// in the store; the head).
struct AsOf {
  std::string valid_at;  // YYYY-MM-DD
  std::string known_at;  // a global position or a UTC time "2021-07-15T00:00:00Z"
};

struct RangeVerifyReport {
  uint64_t from = 0, to = 0;
  uint64_t events_checked = 0;
  uint64_t first_bad_position = 0;  // 0: every event verified
  std::string problem;
  ledger::Hash last_hash{};         // the chain hash at `to`
};

class LedgerService {
 public:
  // `store` must outlive the service. `metrics` may be null.
  LedgerService(ledger::EventStore* store, ServiceOptions options, Metrics* metrics = nullptr);
  ~LedgerService();
  LedgerService(const LedgerService&) = delete;
  LedgerService& operator=(const LedgerService&) = delete;

  // Folds the live model up to the head. Call once before serving.
  ledger::Status Start();
  // From now on every call answers kShutdown; appends already inside the store complete.
  void BeginShutdown();

  // Writes -------------------------------------------------------------------------------------------------
  // Role and scope checks of every event, then one atomic store append, then the live model is folded up to
  // the new head and head listeners are told. Forbidden -> nothing appended, the status names the event and
  // field and says why.
  // An event that asserts its recorded time (a migration) is forbidden to every role but migration.
  ledger::Status Append(const Principal& principal, std::vector<ledger::NewEvent> batch, ledger::AppendResult* result);
  // May the principal append at all (role, read-only store, shutdown), and keep recorded times if it asks to?
  // Both transports ask before they decode a batch, so a role that may not write never makes the server parse
  // (or pay for) a body. Append asks again.
  ledger::Status AuthorizeAppend(const Principal& principal, bool keep_recorded_at = false) const;

  // Reads (the JSON of ledger::StoredEventToJson; pseudonymised for readers) --------------------------------
  // Events with position > `after`, at most max_read_events, scanning at most max_scan_events positions.
  ledger::Status ReadLog(const Principal& principal, uint64_t after, size_t max_events, const EventFilter& filter,
                         ReadPage* page);
  // One stream from version > `after_version`.
  ledger::Status ReadStream(const Principal& principal, const std::string& stream, uint64_t after_version,
                            size_t max_events, ReadPage* page);
  ledger::Status GetEvent(const Principal& principal, const std::string& event_id, nlohmann::ordered_json* event);

  // Queries and reports (as of a valid date, as known at a position) -----------------------------------------
  // As known at a position before what a query names was recorded (or before anything was), the answer is empty
  // and says so in its `note` (projections::ExplainNotYetKnown); an id never recorded is kNotFound.
  ledger::Status QueryEntitlements(const Principal& principal, const std::string& person_id, const AsOf& as_of,
                                   bool explain, projections::Entitlements* out);
  // A clerk's reports are restricted to its municipality (asking for another one is forbidden).
  ledger::Status QueryFunding(const Principal& principal, const AsOf& as_of, projections::FundingQuery query,
                              projections::FundingReport* out);
  // The funding figures' changes recorded after as_of.known_at (A, required) up to `to` (B; "": the head), and the
  // events that made them (projections/funding_changes.h), scoped as QueryFunding. A fold from the checkpoint nearest
  // A: it takes a replay slot (kBusy when none is free).
  ledger::Status QueryFundingChanges(const Principal& principal, const AsOf& as_of, const std::string& to,
                                     projections::FundingChangesQuery query, projections::FundingChangesReport* out);
  // `note`: why the list is empty although the query is valid (projections::ExplainNotYetKnown), else "".
  ledger::Status QueryReconciliation(const Principal& principal, const AsOf& as_of,
                                     projections::ReconciliationQuery query,
                                     std::vector<projections::ClaimReconciliation>* out, int32_t* valid_date,
                                     uint64_t* known_at_position, std::string* note);
  ledger::Status QueryIndicators(const Principal& principal, const AsOf& as_of, const std::string& project_id,
                                 std::string municipality_id, projections::IndicatorsReport* out);
  // A project's partners on the valid date, and its activities held by then (project_outputs.h): no person in them,
  // so every role that may query reports reads them whole (a clerk too, unscoped).
  ledger::Status QueryPartners(const Principal& principal, const AsOf& as_of, const std::string& project_id,
                               projections::PartnersReport* out);
  ledger::Status QueryActivities(const Principal& principal, const AsOf& as_of, const std::string& project_id,
                                 int32_t year, projections::ActivitiesReport* out);

  // Runs `fn` on the model as known at `known_at_position` (projections::kKnownNow: the head). "Known now"
  // uses the live model under a shared lock (no replay); a past position folds a fresh model (the place where
  // projection checkpoints plug in). `fn` must not keep references to the model.
  using ModelFunction = LiveModel::ModelFunction;
  ledger::Status WithModel(uint64_t known_at_position, const ModelFunction& fn);

  // Audit ------------------------------------------------------------------------------------------------------
  ledger::Status ChainHead(const Principal& principal, ledger::LogHead* head);
  // An online backup of the live store into options.backup_dir while appends go on (ledger/backup.h).
  // Roles project, finance and auditor (a backup copies the record, it writes nothing to it).
  ledger::Status Backup(const Principal& principal, ledger::BackupResult* result);
  // Recomputes the hash chain over [from, to] (to 0: the head) from the stored hash at from - 1.
  ledger::Status VerifyRange(const Principal& principal, uint64_t from, uint64_t to, RangeVerifyReport* report);

  // Subscriptions ------------------------------------------------------------------------------------------------
  // May the principal subscribe with this filter (every role; a reader's stream prefix must be pseudonymous)?
  ledger::Status AuthorizeSubscribe(const Principal& principal, const EventFilter& filter) const;
  // The position reads and subscriptions are served up to: the live model's position (events are visible
  // once folded, so a clerk's scope filter always knows the person an event is about).
  uint64_t VisiblePosition() const;
  // Called (from the appending thread, so it must only hand off, e.g. post to an executor) with the new
  // visible position after each append. Returns an id for RemoveHeadListener.
  uint64_t AddHeadListener(std::function<void(uint64_t visible_position)> listener);
  void RemoveHeadListener(uint64_t id);
  // Blocks until the visible position is > `after` or `deadline` passes; returns the visible position.
  uint64_t WaitForHead(uint64_t after, std::chrono::steady_clock::time_point deadline);

  ledger::EventStore& store() { return *store_; }
  Metrics* metrics() { return metrics_; }

  // The pseudonymised JSON of one event, as a reader sees it (exposed for tests and documentation).
  nlohmann::ordered_json PseudonymisedEvent(const ledger::StoredEvent& event) const;
  // The keyed pseudonym of an id of a kind ("person", "grant", ...): "ps-" + 32 hex chars.
  std::string Pseudonym(std::string_view kind, std::string_view id) const;
  // A stream's name as a reader sees it: `person/`, `grant/` and `provider/` streams with the pseudonym of the id.
  std::string ReaderStream(std::string_view stream) const;

 private:
  nlohmann::ordered_json Render(const Principal& principal, const ledger::StoredEvent& event) const;
  // The valid date and the known-at position of a query, and (projections::ExplainNotYetKnown) why its answer
  // is empty when a subject it names was not recorded yet as known then ("" otherwise).
  // What a partners or activities report reads (project_outputs.h), folded as known at the asked position; nothing
  // folded when the answer is empty with a note (resolved->note).
  ledger::Status LoadProjectOutputsAsOf(const Principal& principal, const AsOf& as_of, const std::string& project_id,
                                        projections::LedgerModel* model, projections::ResolvedAsOf* resolved);
  ledger::Status Resolve(const AsOf& as_of, const std::vector<projections::QuerySubject>& subjects, int32_t* valid_date,
                         uint64_t* known_at_position, std::string* note);
  // Where every read begins: refused while shutting down; sees every append acknowledged before it (the projector
  // thread folds them off the appending thread; what it has not reached yet, the read folds itself).
  ledger::Status BeginRead();
  ledger::Status CheckRunning() const;
  // How a report answers as known at `known_at_position`, in this order: as known now, from the live journal (started
  // by the question); as known at a past position, from the journal store when it has projected it; else from a model
  // folded as known then (a journal that stopped, or none kept). The two counters count the journal's answers.
  struct Counter {
    const char* name;
    Labels labels;
  };
  struct JournalLadder {
    std::function<ledger::Status(const projections::LedgerModel& model, const projections::FundingJournal& journal)>
        live;
    std::function<ledger::Status(projections::JournalStore& journal)> store;
    ModelFunction fold;
    Counter live_counter, store_counter;
  };
  ledger::Status AnswerFromJournal(uint64_t known_at_position, const JournalLadder& ladder);

  ledger::EventStore* store_;
  ServiceOptions options_;
  Pseudonymiser pseudonymiser_;
  Metrics* metrics_;
  uint64_t metrics_collector_id_ = 0;  // removed in the destructor: the collector refers to this service
  std::atomic<bool> shutting_down_{false};

  LiveModel live_;  // folded up to the head after every append
  std::mutex backup_mutex_;
};

}  // namespace di::server

#endif  // DI_SERVER_LEDGER_SERVICE_H_
