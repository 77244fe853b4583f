// LedgerService: role and scope checks, reads as each role may see them, the live projection model.
#include "di/server/ledger_service.h"

#include <sodium.h>

#include <chrono>
#include <set>

#include "di/ledger/capnp_text.h"
#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/invariant.h"
#include "di/ledger/json_codec.h"
#include "di/ledger/sha256.h"
#include "di/projections/checkpoint.h"
#include "di/projections/journal_entitlements.h"
#include "di/projections/journal_funding.h"
#include "di/projections/journal_indicators.h"
#include "di/projections/journal_reconciliation.h"
#include "di/projections/person_scope.h"
#include "di/projections/replay.h"
#include "di/server/access_policy.h"
#include "di/server/metrics.h"

namespace di::server {
namespace {

using ledger::EventType;
using ledger::Status;
using ledger::StatusCode;
using Payload = schema::Event::Payload;

using ledger::Str;

// `visible_stream(event)`: the stream name as the caller sees it. A reader's filter is matched against the
// pseudonymised name, so no answer of theirs can depend on a real id (a real-id prefix matches nothing).
template <typename VisibleStream>
bool FilterMatches(const EventFilter& filter, const ledger::StoredEvent& event, const VisibleStream& visible_stream) {
  auto reader = event.reader();
  if (!filter.types.empty()) {
    const EventType type = reader.getEvent().getPayload().which();
    bool found = false;
    for (EventType wanted : filter.types) found = found || wanted == type;
    if (!found) return false;
  }
  if (!filter.stream_prefix.empty()) {
    const std::string stream = visible_stream(event);
    if (std::string_view(stream).substr(0, filter.stream_prefix.size()) != filter.stream_prefix) return false;
  }
  return true;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Status EventFilter::Parse(std::string_view types, std::string_view stream_prefix, EventFilter* out) {
  EventFilter filter;
  size_t start = 0;
  while (start < types.size()) {
    size_t comma = types.find(',', start);
    if (comma == std::string_view::npos) comma = types.size();
    const std::string_view name = types.substr(start, comma - start);
    if (!name.empty()) {
      EventType type;
      if (!ledger::ParseEventTypeName(name, &type)) {
        return Status::InvalidArgument("unknown event type '" + std::string(name) + "'", "types");
      }
      filter.types.push_back(type);
    }
    start = comma + 1;
  }
  filter.stream_prefix = std::string(stream_prefix);
  *out = std::move(filter);
  return Status::Ok();
}

LedgerService::LedgerService(ledger::EventStore* store, ServiceOptions options, Metrics* metrics)
    : store_(store),
      options_(std::move(options)),
      pseudonymiser_(options_.pseudonym_key),
      metrics_(metrics),
      live_(store, LiveModelOptions{options_.checkpoints, options_.max_concurrent_replays, options_.journal_store},
            metrics) {
  DI_ASSERT(store_ != nullptr);
  if (metrics_ != nullptr) {
    metrics_collector_id_ = metrics_->AddCollector([this](Metrics& m) {
      const uint64_t head = store_->Head().position;
      const uint64_t folded = live_.VisiblePosition();
      m.Set("di_head_position", {}, static_cast<double>(head));
      m.Set("di_projection_position", {}, static_cast<double>(folded));
      m.Set("di_projection_lag_events", {}, static_cast<double>(head > folded ? head - folded : 0));
    });
  }
}

LedgerService::~LedgerService() {
  if (metrics_ != nullptr) metrics_->RemoveCollector(metrics_collector_id_);
}

Status LedgerService::Start() {
  if (sodium_init() < 0) return Status::Make(StatusCode::kIOError, "libsodium failed to initialise");
  if (options_.pseudonym_key.size() != crypto_generichash_KEYBYTES) {
    return Status::InvalidArgument("the pseudonym key must be 32 bytes", "pseudonym_key");
  }
  return live_.Start();
}

void LedgerService::BeginShutdown() {
  shutting_down_ = true;
  live_.Stop();
}

Status LedgerService::CheckRunning() const {
  if (shutting_down_) return Status::Make(StatusCode::kShutdown, "the server is shutting down");
  return Status::Ok();
}

Status LedgerService::BeginRead() {
  if (Status running = CheckRunning(); !running.ok()) return running;
  return live_.CatchUpIfBehind();
}

uint64_t LedgerService::VisiblePosition() const { return live_.VisiblePosition(); }

uint64_t LedgerService::AddHeadListener(std::function<void(uint64_t)> listener) {
  return live_.AddHeadListener(std::move(listener));
}

void LedgerService::RemoveHeadListener(uint64_t id) { live_.RemoveHeadListener(id); }

uint64_t LedgerService::WaitForHead(uint64_t after, std::chrono::steady_clock::time_point deadline) {
  return live_.WaitForHead(after, deadline);
}

// ---------------------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------------------

Status LedgerService::AuthorizeAppend(const Principal& principal, bool keep_recorded_at) const {
  if (Status running = CheckRunning(); !running.ok()) return running;
  if (options_.read_only) {
    // Both transports end here, so HTTP and the binary endpoint refuse alike.
    return Status::Forbidden(options_.read_only_reason.empty() ? "the store is read-only" : options_.read_only_reason);
  }
  if (principal.role == Role::kAuditor || principal.role == Role::kReader) {
    return Status::Forbidden("role '" + std::string(RoleName(principal.role)) + "' may not append");
  }
  if (keep_recorded_at && principal.role != Role::kMigration) {
    // A recorded time the ledger did not observe is a claim only a migration makes (docs/api.md, Roles).
    return Status::Forbidden(
        "role '" + std::string(RoleName(principal.role)) + "' may not keep recorded times: only a migration token may",
        "keep_recorded_at");
  }
  return Status::Ok();
}

Status LedgerService::Append(const Principal& principal, std::vector<ledger::NewEvent> batch,
                             ledger::AppendResult* result) {
  auto count = [&](const Status& status) {
    if (metrics_ != nullptr) metrics_->Add("di_appends_total", {{"code", std::string(status.CodeName())}});
    return status;
  };
  bool keeps_recorded_at = false;
  for (const ledger::NewEvent& event : batch) keeps_recorded_at = keeps_recorded_at || event.asserted_recorded_at_micros;
  if (Status authorized = AuthorizeAppend(principal, keeps_recorded_at); !authorized.ok()) return count(authorized);
  if (batch.empty()) return count(Status::InvalidArgument("a batch holds at least one event", "events"));
  for (const ledger::NewEvent& event : batch) {
    const auto reader = event.reader();
    const EventType type = reader.getPayload().which();
    if (!RoleMayWrite(principal.role, type)) {
      return count(Status::Forbidden("role '" + std::string(RoleName(principal.role)) + "' may not append '" +
                                         std::string(ledger::EventTypeName(type)) + "' events",
                                     "type", Str(reader.getId())));
    }
  }
  // A clerk's scope is decided by the writer, on the state each event is appended to (access_policy.h).
  ledger::AppendOptions append_options;
  append_options.admit = AdmissionFor(principal);
  const auto started = std::chrono::steady_clock::now();
  const Status status = store_->Append(batch, append_options, result);
  if (metrics_ != nullptr && status.ok()) {
    metrics_->Observe("di_append_sync_seconds", {}, SecondsSince(started));
    metrics_->Observe("di_append_batch_events", {}, static_cast<double>(batch.size()));
    metrics_->Add("di_appended_events_total", {}, static_cast<double>(result->appended));
  }
  if (!status.ok()) return count(status);
  // The acknowledgement is durable already; the fold only makes it visible to queries and subscribers. The projector
  // thread does it, so the appender does not wait for the model and the journal to follow; a read folds what the
  // projector has not reached yet itself (CatchUpIfBehind), so a client reads what it appended.
  live_.RequestFold();
  const uint64_t appended_to = result->positions.empty() ? 0 : result->positions.back();
  const uint64_t bound = options_.max_projection_lag_events;
  if (bound > 0 && appended_to > bound && live_.VisiblePosition() < appended_to - bound) {
    if (metrics_ != nullptr) metrics_->Add("di_append_projection_waits_total");
    live_.WaitForHead(appended_to - bound - 1, std::chrono::steady_clock::now() + options_.projection_lag_wait);
  }
  return count(Status::Ok());
}

// ---------------------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------------------

std::string LedgerService::Pseudonym(std::string_view kind, std::string_view id) const {
  return pseudonymiser_.Pseudonym(kind, id);
}
nlohmann::ordered_json LedgerService::PseudonymisedEvent(const ledger::StoredEvent& event) const {
  return pseudonymiser_.Event(event);
}
std::string LedgerService::ReaderStream(std::string_view stream) const { return pseudonymiser_.Stream(stream); }

nlohmann::ordered_json LedgerService::Render(const Principal& principal, const ledger::StoredEvent& event) const {
  return principal.role == Role::kReader ? PseudonymisedEvent(event) : ledger::StoredEventToJson(event);
}

Status LedgerService::ReadLog(const Principal& principal, uint64_t after, size_t max_events, const EventFilter& filter,
                              ReadPage* page) {
  DI_RETURN_IF_ERROR(BeginRead());
  page->events.clear();
  page->head = VisiblePosition();
  page->next_after = after;
  if (after >= page->head) return Status::Ok();
  const size_t limit = max_events == 0 ? options_.max_read_events : std::min(max_events, options_.max_read_events);
  const uint64_t scan = std::min<uint64_t>(options_.max_scan_events, page->head - after);
  const bool reader = principal.role == Role::kReader;
  if (reader) {
    if (Status status = Pseudonymiser::CheckReaderStreamPrefix(filter.stream_prefix); !status.ok()) return status;
  }
  auto visible_stream = [&](const ledger::StoredEvent& event) {
    const auto stream = event.reader().getStream();
    const std::string_view name(stream.cStr(), stream.size());
    return reader ? ReaderStream(name) : std::string(name);
  };
  Status status = store_->ReadLog(after + 1, scan, [&](const ledger::StoredEvent& event) {
    page->next_after = event.position;
    if (FilterMatches(filter, event, visible_stream)) {
      bool visible = true;
      if (principal.role == Role::kClerk) {
        visible = live_.Read([&](const projections::LedgerModel& model) { return MayRead(model, principal, event); });
      }
      if (visible) page->events.push_back(Render(principal, event));
    }
    return page->events.size() < limit;
  });
  return status;
}

Status LedgerService::ReadStream(const Principal& principal, const std::string& stream, uint64_t after_version,
                                 size_t max_events, ReadPage* page) {
  DI_RETURN_IF_ERROR(BeginRead());
  if (principal.role == Role::kReader) {
    return Status::Forbidden("role 'reader' reads pseudonymised events through subscriptions only");
  }
  page->events.clear();
  page->head = VisiblePosition();
  page->next_after = after_version;
  uint64_t version = 0;
  Status status = store_->GetStreamVersion(stream, &version);
  if (!status.ok()) return status;
  if (version == 0) return Status::NotFound("no stream '" + stream + "'", "stream");
  const size_t limit = max_events == 0 ? options_.max_read_events : std::min(max_events, options_.max_read_events);
  bool denied = false;
  status = store_->ReadStream(stream, after_version + 1, limit, [&](const ledger::StoredEvent& event) {
    if (event.position > page->head) return false;  // not folded yet: not visible
    if (principal.role == Role::kClerk) {
      if (!live_.Read([&](const projections::LedgerModel& model) { return MayRead(model, principal, event); })) {
        denied = true;
        return false;
      }
    }
    page->next_after = event.reader().getStreamVersion();
    page->events.push_back(Render(principal, event));
    return true;
  });
  if (!status.ok()) return status;
  if (denied) {
    return Status::Forbidden("stream '" + stream + "' is not about a resident of '" + principal.municipality_id + "'",
                             "stream");
  }
  return Status::Ok();
}

Status LedgerService::GetEvent(const Principal& principal, const std::string& event_id, nlohmann::ordered_json* json) {
  DI_RETURN_IF_ERROR(BeginRead());
  if (principal.role == Role::kReader) {
    return Status::Forbidden("role 'reader' reads pseudonymised events through subscriptions only");
  }
  ledger::StoredEvent event;
  Status status = store_->GetByEventId(event_id, &event);
  if (status.code() == StatusCode::kNotFound || (status.ok() && event.position > VisiblePosition())) {
    return Status::NotFound("no event '" + event_id + "'", "id");
  }
  if (!status.ok()) return status;
  if (principal.role == Role::kClerk) {
    if (!live_.Read([&](const projections::LedgerModel& model) { return MayRead(model, principal, event); })) {
      return Status::Forbidden(
          "event '" + event_id + "' is not about a resident of '" + principal.municipality_id + "'", "id");
    }
  }
  *json = Render(principal, event);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------------------

Status LedgerService::Resolve(const AsOf& as_of, const std::vector<projections::QuerySubject>& subjects,
                              int32_t* valid_date, uint64_t* known_at_position, std::string* note) {
  projections::ResolvedAsOf resolved;
  Status status =
      projections::ResolveAsOf(*store_, as_of.valid_at, as_of.known_at, projections::kKnownNow, subjects, &resolved);
  *valid_date = resolved.valid_date;
  *known_at_position = resolved.known_at_position;
  *note = std::move(resolved.note);
  return status;
}

Status LedgerService::WithModel(uint64_t known_at_position, const ModelFunction& fn) {
  if (Status running = CheckRunning(); !running.ok()) return running;
  return live_.WithModel(known_at_position, fn);
}

Status LedgerService::QueryEntitlements(const Principal& principal, const std::string& person_id, const AsOf& as_of,
                                        bool explain, projections::Entitlements* out) {
  if (principal.role == Role::kReader) return Status::Forbidden("role 'reader' may not query entitlements");
  DI_RETURN_IF_ERROR(BeginRead());
  Status known = live_.Read([&](const projections::LedgerModel& model) {
    if (model.FindPerson(person_id) == nullptr) {
      return Status::NotFound("no person '" + person_id + "'", "person_id");
    }
    if (principal.role == Role::kClerk && !PersonInClerkScope(model, principal.municipality_id, person_id)) {
      return Status::Forbidden(
          "person '" + person_id + "' is outside the scope of a clerk of '" + principal.municipality_id + "'",
          "person_id");
    }
    return Status::Ok();
  });
  if (!known.ok()) return known;
  int32_t valid_date = 0;
  uint64_t known_at = 0;
  std::string note;
  if (Status status = Resolve(as_of, {{"person", person_id}}, &valid_date, &known_at, &note); !status.ok()) {
    return status;
  }
  if (!note.empty()) {
    projections::EmptyWithNote({valid_date, known_at, std::move(note)}, out);
    out->person_id = person_id;
    return Status::Ok();
  }
  if (known_at != projections::kKnownNow && known_at < VisiblePosition()) {
    // A past known-at: only the person's family streams and the rules, folded up to it
    // (projections/person_scope.h): milliseconds, where loading the region's model as known then takes seconds
    // at a million events. The family and grants come from the live model, which is ahead of known_at.
    projections::PersonScope scope;
    live_.Read([&](const projections::LedgerModel& model) { scope = projections::ScopeStreamsOf(model, person_id); });
    projections::JournalStore* journal = nullptr;
    DI_RETURN_IF_ERROR(live_.JournalStoreAt(known_at, &journal));
    if (journal != nullptr) {
      // From the journal store: the family's facts without its deliveries (with explain, with them), the caps' usage
      // and the decisions as recorded up to then.
      if (metrics_ != nullptr) metrics_->Add("di_entitlements_from_journal_total", {{"journal", "store"}});
      return projections::ComputeEntitlementsFromStore(*store_, *journal, scope, known_at, valid_date, out, nullptr,
                                                       explain);
    }
    projections::LedgerModel model;
    if (Status status = projections::LoadScopedModel(*store_, scope, known_at, &model); !status.ok()) {
      return status;
    }
    if (metrics_ != nullptr) metrics_->Add("di_model_scoped_loads_total");
    Status status = projections::ComputeEntitlements(model, person_id, valid_date, out, explain);
    out->known_at_position = known_at;
    return status;
  }
  {
    // As known now: the caps' usage and the decisions from the live journal, when it runs (no delivery decided again;
    // never started for this question).
    bool answered = false;
    Status status = live_.WithJournalAtHead(
        known_at,
        [&](const projections::LedgerModel& model, const projections::FundingJournal& journal) {
          Status computed =
              projections::ComputeEntitlementsFromJournal(journal, model, person_id, valid_date, out, explain);
          out->known_at_position = model.last_position();
          return computed;
        },
        &answered, /*start=*/false);
    if (answered || !status.ok()) {
      if (answered && metrics_ != nullptr) metrics_->Add("di_entitlements_from_journal_total", {{"journal", "live"}});
      return status;
    }
  }
  return WithModel(known_at, [&](const projections::LedgerModel& model, uint64_t position) -> Status {
    Status status = projections::ComputeEntitlements(model, person_id, valid_date, out, explain);
    out->known_at_position = position;
    return status;
  });
}

Status LedgerService::QueryFunding(const Principal& principal, const AsOf& as_of, projections::FundingQuery query,
                                   projections::FundingReport* out) {
  DI_RETURN_IF_ERROR(BeginRead());
  Status scoped = live_.Read(
      [&](const projections::LedgerModel& model) { return ScopeReport(model, principal, &query.municipality_id); });
  if (!scoped.ok()) return scoped;
  int32_t valid_date = 0;
  uint64_t known_at = 0;
  std::string note;
  if (Status status = Resolve(as_of, {{"project", query.project_id}, {"municipality", query.municipality_id}},
                              &valid_date, &known_at, &note);
      !status.ok()) {
    return status;
  }
  if (!note.empty()) {
    projections::EmptyWithNote({valid_date, known_at, std::move(note)}, out);
    return Status::Ok();
  }
  // As known now: the live journal's cells summed, no delivery decided again (with explain, the events per row from the
  // model's facts); as known at a past position: the journal store's image and records.
  return AnswerFromJournal(
      known_at,
      {[&](const projections::LedgerModel& model, const projections::FundingJournal& journal) {
         return projections::ComputeFundingFromJournal(journal, model, valid_date, query, out);
       },
       [&](projections::JournalStore& journal) {
         return projections::ComputeFundingFromStore(*store_, journal, known_at, valid_date, query, out);
       },
       [&](const projections::LedgerModel& model, uint64_t position) {
         Status status = projections::ComputeFunding(model, valid_date, query, out);
         out->known_at_position = position;
         return status;
       },
       {"di_funding_from_journal_total", {}},
       {"di_funding_from_journal_store_total", {}}});
}

Status LedgerService::QueryFundingChanges(const Principal& principal, const AsOf& as_of, const std::string& to,
                                         projections::FundingChangesQuery query,
                                         projections::FundingChangesReport* out) {
  if (as_of.known_at.empty()) {
    return Status::InvalidArgument("required: the moment the changes are counted from", "known_at");
  }
  DI_RETURN_IF_ERROR(BeginRead());
  Status scoped = live_.Read(
      [&](const projections::LedgerModel& model) { return ScopeReport(model, principal, &query.funding.municipality_id); });
  if (!scoped.ok()) return scoped;
  // What the query names may have been recorded after A (the note of an as-of answer): the changes show it arriving.
  std::string note_unused;
  DI_RETURN_IF_ERROR(Resolve(as_of, {{"project", query.funding.project_id}, {"municipality", query.funding.municipality_id}},
                             &query.valid_date, &query.from_position, &note_unused));
  query.to_position = store_->Head().position;
  if (!to.empty()) {
    Status resolved = projections::ResolveKnownAt(*store_, to, &query.to_position);
    if (!resolved.ok()) return Status::InvalidArgument(resolved.message(), "to");
  }
  if (query.to_position < query.from_position) {
    return Status::InvalidArgument("position " + std::to_string(query.to_position) +
                                               " is before known_at, position " + std::to_string(query.from_position),
                                           "to");
  }
  if (Status running = CheckRunning(); !running.ok()) return running;
  projections::JournalStore* journal = nullptr;
  DI_RETURN_IF_ERROR(live_.JournalStoreAt(query.to_position, &journal));
  if (journal != nullptr) {
    if (metrics_ != nullptr) metrics_->Add("di_funding_from_journal_store_total");
    return projections::ComputeFundingChangesFromStore(*store_, *journal, query, out);
  }
  return live_.WithReplaySlot(
      [&] { return projections::ComputeFundingChanges(*store_, live_.checkpoints(), query, out); });
}

Status LedgerService::QueryReconciliation(const Principal& principal, const AsOf& as_of,
                                          projections::ReconciliationQuery query,
                                          std::vector<projections::ClaimReconciliation>* out, int32_t* valid_date,
                                          uint64_t* known_at_position, std::string* note) {
  DI_RETURN_IF_ERROR(BeginRead());
  Status scoped = live_.Read([&](const projections::LedgerModel& model) {
    Status status = ScopeReport(model, principal, &query.municipality_id);
    if (!status.ok() || query.claim_id.empty()) return status;
    // One claim by id: a claim that does not exist is 404, another municipality's is 403, never an empty list
    // that reads as "this claim has no lines". The live model knows every claim any known-at can.
    auto claim = model.claims().find(query.claim_id);
    if (claim == model.claims().end()) return Status::NotFound("no claim '" + query.claim_id + "'", "claim");
    if (principal.role == Role::kClerk && !InClerkScope(model, principal.municipality_id, claim->second.municipality_id)) {
      return Status::Forbidden(
          "claim '" + query.claim_id + "' is outside the scope of a clerk of '" + principal.municipality_id + "'",
          "claim");
    }
    return status;
  });
  if (!scoped.ok()) return scoped;
  uint64_t known_at = 0;
  if (Status status = Resolve(as_of, {{"claim", query.claim_id}}, valid_date, &known_at, note); !status.ok()) {
    return status;
  }
  if (!note->empty()) {
    out->clear();
    *known_at_position = known_at;
    return Status::Ok();
  }
  // As known now: the claims from the live model, each line's decision from the funding journal it keeps; as known
  // at a past position: the claims as known then folded, each line's facts read from the journal store.
  return AnswerFromJournal(
      known_at,
      {[&](const projections::LedgerModel& model, const projections::FundingJournal& journal) {
         *known_at_position = model.last_position();
         return projections::ComputeReconciliationFromJournal(journal, model, *valid_date, query, out);
       },
       [&](projections::JournalStore& journal) {
         *known_at_position = known_at;
         return projections::ComputeReconciliationFromStore(*store_, journal, known_at, *valid_date, query, out);
       },
       [&](const projections::LedgerModel& model, uint64_t position) {
         *known_at_position = position;
         return projections::ComputeReconciliation(model, *valid_date, query, out);
       },
       {"di_reconciliation_from_journal_total", {{"journal", "live"}}},
       {"di_reconciliation_from_journal_total", {{"journal", "store"}}}});
}

Status LedgerService::QueryIndicators(const Principal& principal, const AsOf& as_of, const std::string& project_id,
                                      std::string municipality_id, projections::IndicatorsReport* out) {
  DI_RETURN_IF_ERROR(BeginRead());
  Status scoped = live_.Read(
      [&](const projections::LedgerModel& model) { return ScopeReport(model, principal, &municipality_id); });
  if (!scoped.ok()) return scoped;
  int32_t valid_date = 0;
  uint64_t known_at = 0;
  std::string note;
  if (Status status = Resolve(as_of, {{"project", project_id}}, &valid_date, &known_at, &note); !status.ok()) {
    return status;
  }
  if (!note.empty()) {
    projections::EmptyWithNote({valid_date, known_at, std::move(note)}, out);
    return Status::Ok();
  }
  // As known now: the persons from the live model, their first day receiving services from the live journal; as known
  // at a past position: each person's facts read from the journal store, the projects and municipalities folded.
  return AnswerFromJournal(
      known_at,
      {[&](const projections::LedgerModel& model, const projections::FundingJournal& journal) {
         return projections::ComputeIndicatorsFromJournal(journal, model, valid_date, project_id, municipality_id,
                                                         out);
       },
       [&](projections::JournalStore& journal) {
         return projections::ComputeIndicatorsFromStore(*store_, journal, known_at, valid_date, project_id,
                                                        municipality_id, out);
       },
       [&](const projections::LedgerModel& model, uint64_t position) {
         Status computed = projections::ComputeIndicators(model, valid_date, project_id, municipality_id, out);
         out->known_at_position = position;
         return computed;
       },
       {"di_indicators_from_journal_total", {{"journal", "live"}}},
       {"di_indicators_from_journal_total", {{"journal", "store"}}}});
}

Status LedgerService::LoadProjectOutputsAsOf(const Principal& principal, const AsOf& as_of,
                                             const std::string& project_id, projections::LedgerModel* model,
                                             projections::ResolvedAsOf* resolved) {
  // No person in them: any role that may query reports, clerks of every municipality too.
  if (principal.role == Role::kReader) return Status::Forbidden("role 'reader' may not query reports");
  DI_RETURN_IF_ERROR(BeginRead());
  DI_RETURN_IF_ERROR(
      Resolve(as_of, {{"project", project_id}}, &resolved->valid_date, &resolved->known_at_position, &resolved->note));
  if (Status running = CheckRunning(); !running.ok()) return running;
  if (resolved->known_at_position == projections::kKnownNow) resolved->known_at_position = store_->Head().position;
  if (!resolved->note.empty()) return Status::Ok();
  return projections::LoadProjectOutputs(*store_, resolved->known_at_position, model);
}

Status LedgerService::QueryPartners(const Principal& principal, const AsOf& as_of, const std::string& project_id,
                                    projections::PartnersReport* out) {
  projections::LedgerModel model;
  projections::ResolvedAsOf resolved;
  DI_RETURN_IF_ERROR(LoadProjectOutputsAsOf(principal, as_of, project_id, &model, &resolved));
  if (resolved.note.empty()) {
    DI_RETURN_IF_ERROR(projections::ComputePartners(model, resolved.valid_date, project_id, out));
  } else {
    projections::EmptyWithNote(resolved, out);
  }
  out->known_at_position = resolved.known_at_position;
  return Status::Ok();
}

Status LedgerService::QueryActivities(const Principal& principal, const AsOf& as_of, const std::string& project_id,
                                      int32_t year, projections::ActivitiesReport* out) {
  projections::LedgerModel model;
  projections::ResolvedAsOf resolved;
  DI_RETURN_IF_ERROR(LoadProjectOutputsAsOf(principal, as_of, project_id, &model, &resolved));
  if (resolved.note.empty()) {
    DI_RETURN_IF_ERROR(projections::ComputeActivities(model, resolved.valid_date, project_id, year, out));
  } else {
    projections::EmptyWithNote(resolved, out);
  }
  out->known_at_position = resolved.known_at_position;
  return Status::Ok();
}

Status LedgerService::AnswerFromJournal(uint64_t known_at_position, const JournalLadder& ladder) {
  if (Status running = CheckRunning(); !running.ok()) return running;
  bool answered = false;
  Status status = live_.WithJournalAtHead(known_at_position, ladder.live, &answered);
  if (answered || !status.ok()) {
    if (answered && metrics_ != nullptr) metrics_->Add(ladder.live_counter.name, ladder.live_counter.labels);
    return status;
  }
  projections::JournalStore* journal = nullptr;
  DI_RETURN_IF_ERROR(live_.JournalStoreAt(known_at_position, &journal));
  if (journal != nullptr) {
    if (metrics_ != nullptr) metrics_->Add(ladder.store_counter.name, ladder.store_counter.labels);
    return ladder.store(*journal);
  }
  return WithModel(known_at_position, ladder.fold);
}

// ---------------------------------------------------------------------------------------------------------
// Audit and subscriptions
// ---------------------------------------------------------------------------------------------------------

Status LedgerService::ChainHead(const Principal& principal, ledger::LogHead* head) {
  if (Status running = CheckRunning(); !running.ok()) return running;
  *head = store_->Head();
  return Status::Ok();
}

Status LedgerService::Backup(const Principal& principal, ledger::BackupResult* result) {
  if (Status running = CheckRunning(); !running.ok()) return running;
  if (principal.role != Role::kProject && principal.role != Role::kFinance && principal.role != Role::kAuditor) {
    return Status::Forbidden("role '" + std::string(RoleName(principal.role)) +
                             "' may not take backups (project, finance and auditor may)");
  }
  if (options_.backup_dir.empty()) {
    return Status::Make(StatusCode::kShutdown,
                        "backups through the server are off: start `serve` with --backup-dir DIR");
  }
  // One at a time: BackupEngine serialises anyway, and a second request would only queue behind it.
  std::lock_guard lock(backup_mutex_);
  Status status = store_->CreateBackup(options_.backup_dir, result);
  if (metrics_ != nullptr) metrics_->Add("di_backups_total", {{"code", std::string(Status(status).CodeName())}});
  return status;
}

Status LedgerService::VerifyRange(const Principal& principal, uint64_t from, uint64_t to, RangeVerifyReport* report) {
  if (Status running = CheckRunning(); !running.ok()) return running;
  if (principal.role != Role::kAuditor && principal.role != Role::kProject && principal.role != Role::kFinance) {
    return Status::Forbidden("role '" + std::string(RoleName(principal.role)) +
                             "' may not verify the chain (auditor, project, finance may)");
  }
  const uint64_t head = store_->Head().position;
  if (to == 0) to = head;
  if (from == 0) from = 1;
  if (to > head) return Status::InvalidArgument("beyond the head " + std::to_string(head), "to");
  if (from > to) return Status::InvalidArgument("must be at most 'to' (" + std::to_string(to) + ")", "from");
  if (to - from + 1 > options_.max_verify_events) {
    return Status::InvalidArgument(
        "a range holds at most " + std::to_string(options_.max_verify_events) + " events; verify it in parts", "to");
  }
  *report = RangeVerifyReport{};
  report->from = from;
  report->to = to;
  ledger::Hash previous{};  // hash(0): 32 zero bytes
  if (from > 1) {
    // The range starts from the stored hash before it: verifying [a, b] and then [b + 1, c] checks [a, c].
    Status status = store_->ReadLog(from - 1, 1, [&](const ledger::StoredEvent& event) {
      previous = event.hash;
      return false;
    });
    if (!status.ok()) return status;
  }
  uint64_t expected = from;
  Status status = store_->ReadLog(from, to - from + 1, [&](const ledger::StoredEvent& event) {
    auto fail = [&](std::string problem) {
      report->first_bad_position = expected;
      report->problem = std::move(problem);
      return false;
    };
    if (event.position != expected) return fail("position " + std::to_string(expected) + " is missing");
    if (!event.body.IsWellFormedCanonical()) return fail("the stored event is not canonical Cap'n Proto");
    if (event.reader().getPosition() != expected) return fail("the stored event states another position");
    const ledger::Hash hash = ledger::ChainHash(previous, event.body.bytes());
    if (hash != event.hash) return fail("the chain hash does not match the event's content");
    previous = hash;
    ++report->events_checked;
    ++expected;
    return true;
  });
  if (!status.ok() && status.code() != StatusCode::kCorruption) return status;
  if (!status.ok() && report->first_bad_position == 0) {
    report->first_bad_position = expected;
    report->problem = status.message();
  }
  if (report->first_bad_position == 0 && expected != to + 1) {
    report->first_bad_position = expected;
    report->problem = "position " + std::to_string(expected) + " is missing";
  }
  report->last_hash = previous;
  return Status::Ok();
}

Status LedgerService::AuthorizeSubscribe(const Principal& principal, const EventFilter& filter) const {
  if (Status running = CheckRunning(); !running.ok()) return running;
  // Every role: readers pseudonymised (and filtering in pseudonym space), clerks filtered to their scope.
  if (principal.role == Role::kReader) return Pseudonymiser::CheckReaderStreamPrefix(filter.stream_prefix);
  return Status::Ok();
}

}  // namespace di::server
