#include "di/projections/journal_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include "di/ledger/invariant.h"
#include "di/ledger/rocksdb_info_log.h"
#include "di/ledger/rocksdb_status.h"
#include "di/projections/journal_indicators.h"
#include "di/projections/journal_reconciliation.h"
#include "di/projections/replay.h"
#include "position_key.h"

namespace di::projections {
namespace {

using internal::PositionKey;
using ledger::FromRocks;

// Keys (docs/projections.md "The journal on disk"):
//   "meta"                          format version (1 byte) | position (8, big-endian) | chain hash there (32)
//   "record/" + position (8, BE)    the JournalRecord of the event at that position (none when it changed nothing)
//   "image/" + position (8, BE)     every cell's sums per valid date and the context, at that position
//   "usage/" + counter + NUL + position (8, BE)
//                                   what the event there changed in that cap counter: (valid date from, delta)...
//   "scope/" + person id               the streams of the person's family and their grants (ScopeStreamsOf), latest
//   "fact/" + grant stream + NUL + position (8, BE)
//                                   empty: the event there is a fact of that grant (not a delivery, correction, void)
//   "line/" + delivery id + NUL + position (8, BE)
//                                   the delivery's claim-line facts after the event there (it changed them)
//   "claim/" + claim id                the claim's position (8, BE), project and municipality
//   "member/" + person id + NUL + position (8, BE)
//                                   the person's indicator facts after the event there (it changed them)
// Big-endian positions sort the records and images by position, and a counter's or a grant's keys by position.
constexpr std::string_view kMetaKey = "meta";
constexpr std::string_view kRecordPrefix = "record/";
constexpr std::string_view kImagePrefix = "image/";
constexpr std::string_view kUsagePrefix = "usage/";
constexpr std::string_view kGrantFactPrefix = "fact/";
constexpr std::string_view kScopePrefix = "scope/";
constexpr std::string_view kLinePrefix = "line/";
constexpr std::string_view kMemberPrefix = "member/";
constexpr std::string_view kClaimPrefix = "claim/";
// 2: an image's cells carry their first and last steps and total; 3: usage, grant fact and scope keys; 4: line keys;
// 5: member keys; 6: claim keys.
// 8: places and line facts with the provider and the mode; 9: transitions
constexpr uint8_t kFormatVersion = 10;  // 10: a grant's own project in its line facts
constexpr size_t kMetaSize = 1 + 8 + 32;

// The position of a key known to be `prefix` and 8 bytes (an iterator's key within the prefix, or the meta value).
uint64_t PositionOfKey(std::string_view prefix, std::string_view key) {
  uint64_t position = 0;
  const bool parsed = internal::ParsePositionKey(prefix, key, &position);
  DI_ASSERT(parsed);
  return position;
}

// Varints (LEB128), zig-zag for signed numbers, length-prefixed strings.
class Writer {
 public:
  void U64(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>(value | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void I64(int64_t value) { U64((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63)); }
  void Str(std::string_view value) {
    U64(value.size());
    out_.append(value);
  }
  void Figures(const CellFigures& cell) {
    const FundingFigures& f = cell.figures;
    for (int64_t value : {cell.presence, f.deliveries, f.delivered_cents, f.eligible_cents, f.claimed_cents,
                          f.approved_cents, f.approved_esf_cents, f.approved_state_cents, f.paid_cents, f.paid_esf_cents,
                          f.paid_state_cents}) {
      I64(value);
    }
  }
  void Place(const FundingRowKey& key) {
    Str(key.project_id);
    Str(key.territory_id);
    Str(key.municipality_id);
    Str(key.service);
    Str(key.provider_id);
    Str(key.mode);
  }
  void Raw(std::string_view bytes) { out_.append(bytes); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U64(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto byte = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool I64(int64_t* value) {
    uint64_t raw = 0;
    if (!U64(&raw)) return false;
    *value = static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);
    return true;
  }
  bool I32(int32_t* value) {
    int64_t wide = 0;
    if (!I64(&wide) || wide < INT32_MIN || wide > INT32_MAX) return false;
    *value = static_cast<int32_t>(wide);
    return true;
  }
  bool View(std::string_view* value) {
    uint64_t size = 0;
    if (!U64(&size) || size > in_.size()) return false;
    *value = in_.substr(0, size);
    in_.remove_prefix(size);
    return true;
  }
  bool Str(std::string* value) {
    std::string_view view;
    if (!View(&view)) return false;
    value->assign(view);
    return true;
  }
  bool Figures(CellFigures* cell) {
    FundingFigures& f = cell->figures;
    for (int64_t* value : {&cell->presence, &f.deliveries, &f.delivered_cents, &f.eligible_cents, &f.claimed_cents,
                           &f.approved_cents, &f.approved_esf_cents, &f.approved_state_cents, &f.paid_cents,
                           &f.paid_esf_cents, &f.paid_state_cents}) {
      if (!I64(value)) return false;
    }
    return true;
  }
  bool Place(FundingRowKey* key) {
    return Str(&key->project_id) && Str(&key->territory_id) && Str(&key->municipality_id) && Str(&key->service) &&
           Str(&key->provider_id) && Str(&key->mode);
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

void WriteBudgets(Writer* out, const std::vector<BudgetVersion>& versions) {
  out->U64(versions.size());
  for (const BudgetVersion& version : versions) {
    out->I64(version.from);
    out->I64(version.total_cents);
    out->I64(version.esf_cents);
    out->I64(version.state_cents);
    out->U64(version.position);
  }
}

bool ReadBudgets(Reader* in, std::vector<BudgetVersion>* versions) {
  uint64_t count = 0;
  if (!in->U64(&count)) return false;
  versions->clear();
  for (uint64_t i = 0; i < count; ++i) {
    BudgetVersion version;
    if (!in->I32(&version.from) || !in->I64(&version.total_cents) || !in->I64(&version.esf_cents) ||
        !in->I64(&version.state_cents) || !in->U64(&version.position)) {
      return false;
    }
    versions->push_back(version);
  }
  return true;
}

void WriteApproval(Writer* out, const FundingContext::ClaimApproval& claim) {
  out->Str(claim.project_id);
  out->I64(claim.date);
  out->I64(claim.reviewed_on);
  out->I64(claim.approved_cents);
}

bool ReadApproval(Reader* in, FundingContext::ClaimApproval* claim) {
  return in->Str(&claim->project_id) && in->I32(&claim->date) && in->I32(&claim->reviewed_on) &&
         in->I64(&claim->approved_cents);
}

// The facts of the context an event replaced (a record), or all of them (an image): projects with their budget
// versions, municipalities, claims' approvals. Any range of (id, versions) / ids / (id, approval).
template <typename Projects, typename Municipalities, typename Claims>
void WriteContextFacts(Writer* out, const Projects& projects, const Municipalities& municipalities,
                       const Claims& claims) {
  out->U64(projects.size());
  for (const auto& [id, versions] : projects) {
    out->Str(id);
    WriteBudgets(out, versions);
  }
  out->U64(municipalities.size());
  for (const std::string& id : municipalities) out->Str(id);
  out->U64(claims.size());
  for (const auto& [id, claim] : claims) {
    out->Str(id);
    WriteApproval(out, claim);
  }
}

bool ReadContextFacts(Reader* in, FundingContextChange* change) {
  uint64_t count = 0;
  if (!in->U64(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::pair<std::string, std::vector<BudgetVersion>> project;
    if (!in->Str(&project.first) || !ReadBudgets(in, &project.second)) return false;
    change->projects.push_back(std::move(project));
  }
  if (!in->U64(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string id;
    if (!in->Str(&id)) return false;
    change->municipalities.push_back(std::move(id));
  }
  if (!in->U64(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::pair<std::string, FundingContext::ClaimApproval> claim;
    if (!in->Str(&claim.first) || !ReadApproval(in, &claim.second)) return false;
    change->claims.push_back(std::move(claim));
  }
  return true;
}

// Record: changes, then the context's replaced facts.
std::string EncodeRecord(const JournalRecord& record) {
  Writer out;
  out.U64(record.changes.size());
  for (const FundingChange& change : record.changes) {
    out.Place(change.cell);
    out.Str(change.cell.month);
    out.I64(change.valid_from);
    out.Figures(change.delta);
  }
  WriteContextFacts(&out, record.context.projects, record.context.municipalities, record.context.claims);
  return out.Take();
}

// A change as a record's bytes hold it: views into them, valid while they are.
struct ChangeView {
  std::string_view project_id, territory_id, municipality_id, service, provider_id, mode, month;
  int32_t valid_from = 0;
  CellFigures delta;
};

// Decodes a record: its changes through `on_change` (nothing copied: a query sums thousands of them), the facts of
// the context it replaced into *record.
bool DecodeRecordParts(std::string_view bytes, const std::function<void(const ChangeView&)>& on_change,
                       JournalRecord* record) {
  Reader in(bytes);
  uint64_t count = 0;
  if (!in.U64(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    ChangeView change;
    if (!in.View(&change.project_id) || !in.View(&change.territory_id) || !in.View(&change.municipality_id) ||
        !in.View(&change.service) || !in.View(&change.provider_id) || !in.View(&change.mode) ||
        !in.View(&change.month) || !in.I32(&change.valid_from) ||
        !in.Figures(&change.delta)) {
      return false;
    }
    on_change(change);
  }
  return ReadContextFacts(&in, &record->context) && in.done();
}

bool DecodeRecord(std::string_view bytes, JournalRecord* record) {
  return DecodeRecordParts(
      bytes,
      [&](const ChangeView& view) {
        FundingChange change;
        change.position = record->position;
        change.cell = FundingRowKey{std::string(view.project_id), std::string(view.territory_id),
                                    std::string(view.municipality_id), std::string(view.service),
                                    std::string(view.provider_id), std::string(view.mode), std::string(view.month)};
        change.valid_from = view.valid_from;
        change.delta = view.delta;
        record->changes.push_back(std::move(change));
      },
      record);
}

// Cells being summed for one query: places interned to integers and months parsed, so that adding a record's change
// hashes one short key and allocates nothing.
class CellAccumulator {
 public:
  uint32_t PlaceId(std::string_view project, std::string_view territory, std::string_view municipality,
                   std::string_view service, std::string_view provider, std::string_view mode) {
    key_.clear();
    for (std::string_view part : {project, territory, municipality, service, provider, mode}) {
      key_.append(part);
      key_.push_back('\0');
    }
    if (auto found = place_ids_.find(key_); found != place_ids_.end()) return found->second;
    const auto id = static_cast<uint32_t>(places_.size());
    place_ids_.emplace(key_, id);
    places_.push_back(FundingRowKey{std::string(project), std::string(territory), std::string(municipality),
                                    std::string(service), std::string(provider), std::string(mode), {}});
    return id;
  }
  void Add(uint32_t place, int32_t month, const CellFigures& figures) {
    cells_[(static_cast<uint64_t>(place) << 32) | static_cast<uint32_t>(month)].Add(figures);
  }
  // Adds a record's change when it counts by `valid_date`; false when its month does not parse.
  bool AddChange(const ChangeView& change, int32_t valid_date) {
    int32_t month = 0;
    if (!ParseMonthText(change.month, &month)) return false;
    if (change.valid_from > valid_date) return true;
    Add(PlaceId(change.project_id, change.territory_id, change.municipality_id, change.service, change.provider_id,
                change.mode),
        month, change.delta);
    return true;
  }
  FundingCells Take() {
    FundingCells out;
    out.places = std::move(places_);
    out.cells.reserve(cells_.size());
    for (auto& [cell, figures] : cells_) {
      if (figures.IsZero()) continue;
      out.cells.push_back({static_cast<uint32_t>(cell >> 32), static_cast<int32_t>(cell & 0xffffffffu), figures});
    }
    return out;
  }

 private:
  std::string key_;  // reused: the place's six parts, each followed by a NUL
  std::unordered_map<std::string, uint32_t> place_ids_;
  std::vector<FundingRowKey> places_;
  std::unordered_map<uint64_t, CellFigures> cells_;
};

// Image: places (6 strings each), then per cell (place index, month number, first and last steps' valid dates, total,
// steps (valid_from, figures) length-prefixed), then the context.
bool DecodeImage(std::string_view bytes, int32_t valid_date, CellAccumulator* cells, FundingContext* context) {
  Reader in(bytes);
  uint64_t count = 0;
  if (!in.U64(&count)) return false;
  std::vector<uint32_t> place_ids;
  for (uint64_t i = 0; i < count; ++i) {
    FundingRowKey place;
    if (!in.Place(&place)) return false;
    place_ids.push_back(cells->PlaceId(place.project_id, place.territory_id, place.municipality_id, place.service,
                                       place.provider_id, place.mode));
  }
  if (!in.U64(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t place = 0, steps = 0;
    int32_t month = 0, first = 0, last = 0;
    CellFigures total;
    std::string_view block;
    if (!in.U64(&place) || place >= place_ids.size() || !in.I32(&month) || !in.I32(&first) || !in.I32(&last) ||
        !in.Figures(&total) || !in.View(&block)) {
      return false;
    }
    if (valid_date < first) continue;  // nothing counts yet
    if (valid_date >= last) {
      cells->Add(place_ids[place], month, total);
      continue;
    }
    Reader in_block(block);
    if (!in_block.U64(&steps)) return false;
    for (uint64_t j = 0; j < steps; ++j) {
      int32_t valid_from = 0;
      CellFigures figures;
      if (!in_block.I32(&valid_from) || !in_block.Figures(&figures)) return false;
      if (valid_from > valid_date) break;  // ascending
      cells->Add(place_ids[place], month, figures);
    }
  }
  FundingContextChange facts;
  if (!ReadContextFacts(&in, &facts) || !in.done()) return false;
  *context = FundingContext{};
  ApplyContextChange(std::move(facts), context);
  return true;
}

// The prefix of a counter's or a grant's keys: the kind, the id, a NUL (no id holds one), then come positions.
std::string KeyedPrefix(std::string_view kind, std::string_view id) {
  std::string prefix(kind);
  prefix.append(id);
  prefix.push_back('\0');
  return prefix;
}

// A record's usage changes, one key per counter: (valid date from, delta) pairs. They come in counter order.
void PutUsage(const JournalRecord& record, rocksdb::WriteBatch* batch) {
  for (size_t begin = 0; begin < record.usage.size();) {
    size_t end = begin;
    Writer value;
    while (end < record.usage.size() && record.usage[end].counter == record.usage[begin].counter) ++end;
    value.U64(end - begin);
    for (size_t i = begin; i < end; ++i) {
      value.I64(record.usage[i].valid_from);
      value.I64(record.usage[i].delta);
    }
    batch->Put(PositionKey(KeyedPrefix(kUsagePrefix, record.usage[begin].counter), record.position), value.Take());
    begin = end;
  }
}

// Adds to *sum the deltas of a usage value that count by `valid_date`; false when it does not decode.
bool AddUsage(std::string_view bytes, int32_t valid_date, int64_t* sum) {
  Reader in(bytes);
  uint64_t count = 0;
  if (!in.U64(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    int32_t valid_from = 0;
    int64_t delta = 0;
    if (!in.I32(&valid_from) || !in.I64(&delta)) return false;
    if (valid_from <= valid_date) *sum += delta;
  }
  return in.done();
}

// A delivery's claim-line facts: flags (recorded 1, voided 2, decided 4), date, service, municipality, provider, mode,
// cost,
// positions, the decision's eligible quantity, eligible cost, rule and reason.
std::string EncodeLineFacts(const ClaimLineFacts& facts) {
  Writer out;
  out.U64((facts.recorded ? 1 : 0) | (facts.voided ? 2 : 0) | (facts.decided ? 4 : 0));
  out.I64(facts.date);
  out.Str(facts.service);
  out.Str(facts.municipality_id);
  out.Str(facts.project_id);
  out.Str(facts.provider_id);
  out.Str(facts.mode);
  out.I64(facts.cost_cents);
  out.U64(facts.positions.size());
  for (uint64_t position : facts.positions) out.U64(position);
  out.I64(facts.outcome.eligible_quantity);
  out.I64(facts.outcome.eligible_cost_cents);
  out.Str(facts.outcome.rule_id);
  out.Str(facts.outcome.reason);
  return out.Take();
}

bool DecodeLineFacts(std::string_view bytes, ClaimLineFacts* facts) {
  Reader in(bytes);
  uint64_t flags = 0, count = 0;
  if (!in.U64(&flags) || flags > 7 || !in.I32(&facts->date) || !in.Str(&facts->service) ||
      !in.Str(&facts->municipality_id) || !in.Str(&facts->project_id) || !in.Str(&facts->provider_id) ||
      !in.Str(&facts->mode) ||
      !in.I64(&facts->cost_cents) ||
      !in.U64(&count)) {
    return false;
  }
  facts->recorded = (flags & 1) != 0;
  facts->voided = (flags & 2) != 0;
  facts->decided = (flags & 4) != 0;
  facts->positions.clear();
  for (uint64_t i = 0; i < count; ++i) {
    if (!in.U64(&facts->positions.emplace_back())) return false;
  }
  return in.I64(&facts->outcome.eligible_quantity) && in.I64(&facts->outcome.eligible_cost_cents) &&
         in.Str(&facts->outcome.rule_id) && in.Str(&facts->outcome.reason) && in.done();
}

// A person's indicator facts: flags (enrolled 1), enrolment date, project, target group, the residence as last
// recorded, the residences (from, municipality), the first days assessed, with a plan and receiving services.
std::string EncodeMember(const IndicatorMember& member) {
  Writer out;
  out.U64(member.enrolled ? 1 : 0);
  out.I64(member.enrolled_on);
  out.Str(member.project_id);
  out.U64(static_cast<uint64_t>(member.target_group));
  out.Str(member.residence_municipality_id);
  out.U64(member.residences.size());
  for (const auto& [from, municipality] : member.residences) {
    out.I64(from);
    out.Str(municipality);
  }
  for (int32_t day : {member.first_assessed, member.first_planned, member.first_receiving,
                      member.prepared_for_transition, member.started_independent_life}) {
    out.I64(day);
  }
  return out.Take();
}

bool DecodeMember(std::string_view bytes, IndicatorMember* member) {
  Reader in(bytes);
  uint64_t flags = 0, group = 0, count = 0;
  if (!in.U64(&flags) || flags > 1 || !in.I32(&member->enrolled_on) || !in.Str(&member->project_id) ||
      !in.U64(&group) || group > 0xffff || !in.Str(&member->residence_municipality_id) || !in.U64(&count)) {
    return false;
  }
  member->enrolled = flags == 1;
  member->target_group = static_cast<schema::TargetGroup>(group);
  member->residences.clear();
  for (uint64_t i = 0; i < count; ++i) {
    auto& residence = member->residences.emplace_back();
    if (!in.I32(&residence.first) || !in.Str(&residence.second)) return false;
  }
  return in.I32(&member->first_assessed) && in.I32(&member->first_planned) && in.I32(&member->first_receiving) &&
         in.I32(&member->prepared_for_transition) && in.I32(&member->started_independent_life) && in.done();
}

class RocksJournalStore final : public JournalStore {
 public:
  RocksJournalStore(const JournalStoreOptions& options, std::unique_ptr<rocksdb::DB> db)
      : JournalStore(options), db_(std::move(db)) {}

  Status Load() {
    std::string meta;
    rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), kMetaKey, &meta);
    if (found.IsNotFound()) return Status::Ok();
    if (!found.ok()) return FromRocks(found, "read the journal's position");
    if (meta.size() != kMetaSize || static_cast<uint8_t>(meta[0]) != kFormatVersion) {
      return Clear();  // another format: derived state, recomputed from the log
    }
    position_ = PositionOfKey("", std::string_view(meta).substr(1, 8));
    std::memcpy(hash_.data(), meta.data() + 9, hash_.size());
    return Status::Ok();
  }

  uint64_t position() const override { return position_.load(); }

  Status Append(const std::vector<JournalRecord>& records, const std::vector<Image>& images, uint64_t to_position,
                const ledger::Hash& hash) override {
    DI_ASSERT(to_position >= position_);
    rocksdb::WriteBatch batch;
    for (const JournalRecord& record : records) {
      DI_ASSERT(record.position > position_ && record.position <= to_position);
      if (!record.funding_empty()) batch.Put(PositionKey(kRecordPrefix, record.position), EncodeRecord(record));
      PutUsage(record, &batch);
      if (!record.grant_fact_stream.empty()) {
        batch.Put(PositionKey(KeyedPrefix(kGrantFactPrefix, record.grant_fact_stream), record.position), "");
      }
      for (const PersonScope& scope : record.scopes) {
        Writer value;
        value.U64(scope.streams.size());
        for (const std::string& stream : scope.streams) value.Str(stream);
        batch.Put(std::string(kScopePrefix) + scope.person_id, value.Take());
      }
      for (const auto& [delivery_id, facts] : record.lines) {
        batch.Put(PositionKey(KeyedPrefix(kLinePrefix, delivery_id), record.position), EncodeLineFacts(facts));
      }
      for (const IndicatorMember& member : record.members) {
        batch.Put(PositionKey(KeyedPrefix(kMemberPrefix, member.person_id), record.position), EncodeMember(member));
      }
      for (const ClaimHead& claim : record.claims) {
        Writer value;
        value.Raw(PositionKey("", claim.position));
        value.Str(claim.project_id);
        value.Str(claim.municipality_id);
        batch.Put(std::string(kClaimPrefix) + claim.claim_id, value.Take());
      }
    }
    for (const Image& image : images) {
      DI_ASSERT(image.position > position_ && image.position <= to_position);
      batch.Put(PositionKey(kImagePrefix, image.position), image.bytes);
    }
    std::string meta(1, static_cast<char>(kFormatVersion));
    meta += PositionKey("", to_position);
    meta.append(reinterpret_cast<const char*>(hash.data()), hash.size());
    batch.Put(kMetaKey, meta);
    // Derived state: no fsync. A crash loses at most the last batches, and the meta record with them.
    Status status = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "append to the journal");
    if (!status.ok()) return status;
    position_ = to_position;
    hash_ = hash;
    return Status::Ok();
  }

  Status UsageAsKnownAt(uint64_t known_at_position, int32_t valid_date, const std::string& counter,
                        int64_t* used) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    *used = 0;
    const std::string prefix = KeyedPrefix(kUsagePrefix, counter);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      uint64_t position = 0;
      if (!internal::ParsePositionKey(prefix, it->key().ToStringView(), &position)) {
        return Status::Corruption("journal usage key of counter '" + counter + "' does not parse");
      }
      if (position > known_at_position) break;
      if (!AddUsage(it->value().ToStringView(), valid_date, used)) {
        return Status::Corruption("journal usage of counter '" + counter + "' at position " +
                                  std::to_string(position) + " does not decode");
      }
    }
    return FromRocks(it->status(), "read the journal's usage");
  }

  Status UsagesWithPrefixAsKnownAt(uint64_t known_at_position, int32_t valid_date, const std::string& prefix,
                                   std::vector<std::pair<std::string, int64_t>>* used) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    used->clear();
    // Keys are counter NUL position: each counter's records come together, oldest first.
    const std::string start = std::string(kUsagePrefix) + prefix;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(start); it->Valid() && it->key().starts_with(start);) {
      const std::string_view key = it->key().ToStringView();
      const size_t end = key.find('\0', start.size());
      if (end == std::string_view::npos) {
        return Status::Corruption("journal usage key under '" + prefix + "' has no counter end");
      }
      const std::string counter(key.substr(kUsagePrefix.size(), end - kUsagePrefix.size()));
      const std::string counter_prefix = KeyedPrefix(kUsagePrefix, counter);
      int64_t sum = 0;
      bool recorded = false;
      for (; it->Valid() && it->key().starts_with(counter_prefix); it->Next()) {
        uint64_t position = 0;
        if (!internal::ParsePositionKey(counter_prefix, it->key().ToStringView(), &position)) {
          return Status::Corruption("journal usage key of counter '" + counter + "' does not parse");
        }
        if (position > known_at_position) {  // the counter's later records, all of them: on to the next counter
          const std::string last = internal::PositionKey(counter_prefix, UINT64_MAX);
          it->Seek(last);
          if (it->Valid() && it->key().ToStringView() == last) it->Next();
          break;
        }
        if (!AddUsage(it->value().ToStringView(), valid_date, &sum)) {
          return Status::Corruption("journal usage of counter '" + counter + "' at position " +
                                    std::to_string(position) + " does not decode");
        }
        recorded = true;
      }
      if (recorded) used->emplace_back(counter, sum);
    }
    return FromRocks(it->status(), "read the journal's usage");
  }

  Status ReadScope(const std::string& person_id, PersonScope* scope, bool* found) override {
    *found = false;
    std::string value;
    rocksdb::Status read = db_->Get(rocksdb::ReadOptions(), std::string(kScopePrefix) + person_id, &value);
    if (read.IsNotFound()) return Status::Ok();
    if (!read.ok()) return FromRocks(read, "read the journal's scope of '" + person_id + "'");
    *scope = PersonScope{};
    scope->person_id = person_id;
    Reader in(value);
    uint64_t count = 0;
    bool decoded = in.U64(&count);
    for (uint64_t i = 0; decoded && i < count; ++i) decoded = in.Str(&scope->streams.emplace_back());
    if (!decoded || !in.done()) return Status::Corruption("journal scope of '" + person_id + "' does not decode");
    *found = true;
    return Status::Ok();
  }

  class RocksLineReader final : public LineReader {
   public:
    RocksLineReader(rocksdb::DB* db, uint64_t known_at_position)
        : it_(db->NewIterator(rocksdb::ReadOptions())), known_at_position_(known_at_position) {}
    Status Read(const std::string& delivery_id, ClaimLineFacts* facts) override {
      *facts = ClaimLineFacts{};
      const std::string prefix = KeyedPrefix(kLinePrefix, delivery_id);
      it_->SeekForPrev(PositionKey(prefix, known_at_position_));
      if (!it_->Valid() || !it_->key().starts_with(prefix)) return FromRocks(it_->status(), "read the journal's lines");
      if (!DecodeLineFacts(it_->value().ToStringView(), facts)) {
        return Status::Corruption("journal line of delivery '" + delivery_id + "' does not decode");
      }
      return Status::Ok();
    }

   private:
    std::unique_ptr<rocksdb::Iterator> it_;
    uint64_t known_at_position_;
  };

  Status NewLineReader(uint64_t known_at_position, std::unique_ptr<LineReader>* out) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    *out = std::make_unique<RocksLineReader>(db_.get(), known_at_position);
    return Status::Ok();
  }

  Status ForEachLineAsKnownAt(uint64_t known_at_position, const LineVisitor& fn) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    ClaimLineFacts facts;
    return LastVersions(kLinePrefix, known_at_position, "lines", [&](const std::string& delivery, std::string_view value) {
      if (!DecodeLineFacts(value, &facts)) {
        return Status::Corruption("journal line of delivery '" + delivery + "' does not decode");
      }
      return fn(delivery, facts);
    });
  }

  Status ClaimsAsKnownAt(uint64_t known_at_position, std::vector<ClaimHead>* claims) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    claims->clear();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const rocksdb::Slice prefix(kClaimPrefix.data(), kClaimPrefix.size());
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      ClaimHead head;
      head.claim_id.assign(it->key().ToStringView().substr(kClaimPrefix.size()));
      const std::string_view value = it->value().ToStringView();
      Reader in(value.size() < 8 ? std::string_view() : value.substr(8));
      if (value.size() < 8 || !in.Str(&head.project_id) || !in.Str(&head.municipality_id) || !in.done()) {
        return Status::Corruption("journal claim '" + head.claim_id + "' does not decode");
      }
      head.position = PositionOfKey("", value.substr(0, 8));
      if (head.position <= known_at_position) claims->push_back(std::move(head));
    }
    return FromRocks(it->status(), "read the journal's claims");
  }

  Status MembersAsKnownAt(uint64_t known_at_position, std::vector<IndicatorMember>* members) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    members->clear();
    return LastVersions(kMemberPrefix, known_at_position, "members", [&](const std::string& person, std::string_view value) {
      IndicatorMember& member = members->emplace_back();
      member.person_id = person;
      if (!DecodeMember(value, &member)) {
        return Status::Corruption("journal member facts of '" + person + "' do not decode");
      }
      return Status::Ok();
    });
  }

  // Of each id's versions under `prefix` (prefix + id + NUL + position, 8 big-endian), the value of the last at or
  // before `known_at_position`, in id order; ids with none by then are left out. The first status `fn` fails with
  // ends the pass.
  Status LastVersions(std::string_view prefix, uint64_t known_at_position, const char* what,
                      const std::function<Status(const std::string& id, std::string_view value)>& fn) {
    // Keys in (id, position) order: an id's later versions follow the one wanted.
    std::string last_value, last_id;
    auto emit = [&]() -> Status {
      if (last_id.empty()) return Status::Ok();
      Status visited = fn(last_id, last_value);
      last_id.clear();
      return visited;
    };
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const rocksdb::Slice start(prefix.data(), prefix.size());
    for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      const size_t end_of_id = key.find('\0', prefix.size());
      if (end_of_id == std::string_view::npos || key.size() != end_of_id + 1 + 8) {
        return Status::Corruption(std::string("journal key of its ") + what + " does not parse");
      }
      const std::string_view id = key.substr(prefix.size(), end_of_id - prefix.size());
      if (PositionOfKey(key.substr(0, end_of_id + 1), key) > known_at_position) continue;
      if (id != last_id) DI_RETURN_IF_ERROR(emit());
      last_id.assign(id);
      last_value.assign(it->value().data(), it->value().size());
    }
    DI_RETURN_IF_ERROR(FromRocks(it->status(), std::string("read the journal's ") + what));
    return emit();
  }

  Status ReadGrantFactPositions(const std::string& stream, uint64_t known_at_position,
                                const std::function<void(uint64_t)>& fn) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    const std::string prefix = KeyedPrefix(kGrantFactPrefix, stream);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      uint64_t position = 0;
      if (!internal::ParsePositionKey(prefix, it->key().ToStringView(), &position)) {
        return Status::Corruption("journal fact key of '" + stream + "' does not parse");
      }
      if (position > known_at_position) break;
      fn(position);
    }
    return FromRocks(it->status(), "read the journal's grant facts");
  }

  Status ReadRecords(uint64_t after, uint64_t to, const std::function<bool(JournalRecord&)>& fn) override {
    if (to > position_) {
      return Status::InvalidArgument("the journal is projected up to position " + std::to_string(position_.load()) +
                                         ", not " + std::to_string(to),
                                     "to");
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    return ReadRecordsFrom(it.get(), after, to, fn);
  }

  Status CellsAsKnownAt(uint64_t known_at_position, int32_t valid_date, FundingCells* cells,
                        FundingContext* context) override {
    DI_RETURN_IF_ERROR(CheckProjected(known_at_position));
    CellAccumulator sums;
    *context = FundingContext{};
    uint64_t from = 0;  // the image's position: records after it are added
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(PositionKey(kImagePrefix, known_at_position));
    if (it->Valid() && it->key().starts_with(rocksdb::Slice(kImagePrefix.data(), kImagePrefix.size()))) {
      from = PositionOfKey(kImagePrefix, it->key().ToStringView());
      if (!DecodeImage(it->value().ToStringView(), valid_date, &sums, context)) {
        return Status::Corruption("journal image at position " + std::to_string(from) + " does not decode");
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read the journal's image");
    const std::string end = PositionKey(kRecordPrefix, known_at_position);
    for (it->Seek(PositionKey(kRecordPrefix, from + 1)); it->Valid() && it->key().compare(end) <= 0; it->Next()) {
      JournalRecord context_part;
      bool months = true;
      const bool decoded = DecodeRecordParts(
          it->value().ToStringView(), [&](const ChangeView& change) { months &= sums.AddChange(change, valid_date); },
          &context_part);
      if (!decoded || !months) {
        return Status::Corruption("journal record at position " +
                                  std::to_string(PositionOfKey(kRecordPrefix, it->key().ToStringView())) +
                                  " does not decode");
      }
      ApplyContextChange(std::move(context_part.context), context);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read the journal's records");
    *cells = sums.Take();
    return Status::Ok();
  }

  static Status ReadRecordsFrom(rocksdb::Iterator* it, uint64_t after, uint64_t to,
                                const std::function<bool(JournalRecord&)>& fn) {
    const std::string end = PositionKey(kRecordPrefix, to);
    for (it->Seek(PositionKey(kRecordPrefix, after + 1)); it->Valid() && it->key().compare(end) <= 0; it->Next()) {
      JournalRecord record;
      record.position = PositionOfKey(kRecordPrefix, it->key().ToStringView());
      if (!DecodeRecord(it->value().ToStringView(), &record)) {
        return Status::Corruption("journal record at position " + std::to_string(record.position) + " does not decode");
      }
      if (!fn(record)) return Status::Ok();
    }
    return FromRocks(it->status(), "read the journal's records");
  }

  Status Confirm(ledger::EventStore& events, bool* cleared) override {
    *cleared = false;
    if (position_ == 0) return Status::Ok();
    bool confirmed = false;
    Status status = events.ReadLog(position_, 1, [&](const ledger::StoredEvent& event) {
      confirmed = event.position == position_ && event.hash == hash_;
      return false;
    });
    if (!status.ok()) return status;
    if (confirmed) return Status::Ok();
    *cleared = true;
    return Clear();
  }

  Status Clear() override {
    rocksdb::WriteBatch batch;
    // Every key begins with a lower-case ASCII letter.
    batch.DeleteRange("", "\x7f");
    Status status = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "clear the journal");
    if (!status.ok()) return status;
    position_ = 0;
    hash_ = {};
    return Status::Ok();
  }

  uint64_t DiskBytes() override {
    uint64_t sst = 0, blob = 0, wal = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
    db_->GetIntProperty(rocksdb::DB::Properties::kTotalBlobFileSize, &blob);
    db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &wal);
    return sst + blob + wal;
  }

 private:
  Status CheckProjected(uint64_t known_at_position) const {
    if (known_at_position <= position_) return Status::Ok();
    return Status::InvalidArgument("the journal is projected up to position " + std::to_string(position_.load()) +
                                       ", not " + std::to_string(known_at_position),
                                   "known_at");
  }

  std::unique_ptr<rocksdb::DB> db_;
  // Written by the one thread that appends; read by queries on others (a record at or before it is never rewritten).
  std::atomic<uint64_t> position_{0};
  ledger::Hash hash_{};
};

}  // namespace

JournalRecord RecordOf(const FundingJournal& journal, const LedgerModel& model, const ledger::StoredEvent& event,
                       std::vector<FundingChange> changes) {
  DI_ASSERT(journal.position() == event.position);
  JournalRecord record;
  record.position = event.position;
  record.changes = std::move(changes);
  record.context = journal.last_context_change();
  record.usage = journal.last_usage_changes();
  const auto recorded = event.reader();
  const std::string_view stream = recorded.getStream().cStr();
  using P = schema::Event::Payload;
  const P::Which which = recorded.getEvent().getPayload().which();
  if (ledger::StreamKind(stream) == "grant" && which != P::SERVICE_DELIVERED && which != P::DELIVERY_CORRECTED &&
      which != P::DELIVERY_VOIDED) {
    record.grant_fact_stream = stream;
  }
  // A family's streams change with an enrolment (representation links) and a grant: every member's scope, again.
  std::string subject;
  if (which == P::PERSON_ENROLLED) {
    subject = recorded.getEvent().getPayload().getPersonEnrolled().getPersonId().cStr();
  } else if (which == P::SERVICE_GRANTED) {
    subject = recorded.getEvent().getPayload().getServiceGranted().getPersonId().cStr();
  }
  if (!subject.empty()) {
    for (const std::string& member : model.FamilyMembers(subject)) {
      record.scopes.push_back(ScopeStreamsOf(model, member));
    }
  }
  for (const std::string& delivery_id : journal.last_line_changes()) {
    record.lines.emplace_back(delivery_id, LineFactsFromJournal(journal, model, delivery_id));
  }
  if (which == P::REIMBURSEMENT_CLAIMED) {
    const auto claim = recorded.getEvent().getPayload().getReimbursementClaimed();
    record.claims.push_back(
        ClaimHead{claim.getClaimId().cStr(), claim.getProjectId().cStr(), claim.getMunicipalityId().cStr(), event.position});
  }
  for (const std::string& person_id : journal.last_member_changes()) {
    if (const PersonFacts* person = model.FindPerson(person_id)) {
      record.members.push_back(MemberFactsFromJournal(journal, model, *person));
    }
  }
  return record;
}

Status JournalStore::LineAsKnownAt(uint64_t known_at_position, const std::string& delivery_id,
                                   ClaimLineFacts* facts) {
  std::unique_ptr<LineReader> reader;
  DI_RETURN_IF_ERROR(NewLineReader(known_at_position, &reader));
  return reader->Read(delivery_id, facts);
}

std::string JournalStore::EncodeImage(const FundingJournal& journal) {
  const FundingContext& context = journal.context();
  // Places first (each once), then the cells referring to them by index.
  std::map<FundingRowKey, uint64_t> place_index;
  std::vector<const FundingRowKey*> places;
  Writer cells;
  uint64_t cell_count = 0;
  journal.ForEachCell([&](const FundingRowKey& place, int32_t month, const CellFigures& total,
                          const FundingJournal::CellSteps& steps) {
    DI_ASSERT(!steps.empty());
    auto [it, inserted] = place_index.try_emplace(place, place_index.size());
    if (inserted) places.push_back(&it->first);
    // A cell: its first and last steps' valid dates and its total, then its steps, length-prefixed: "as of V"
    // skips the steps of a cell V is before (nothing) or after (the total); only the others are read.
    cells.U64(it->second);
    cells.I64(month);
    cells.I64(steps.front().first);
    cells.I64(steps.back().first);
    cells.Figures(total);
    Writer block;
    block.U64(steps.size());
    for (const auto& [valid_from, figures] : steps) {
      block.I64(valid_from);
      block.Figures(figures);
    }
    cells.Str(block.Take());
    ++cell_count;
  });
  Writer out;
  out.U64(places.size());
  for (const FundingRowKey* place : places) out.Place(*place);
  out.U64(cell_count);
  out.Raw(cells.Take());
  WriteContextFacts(&out, context.projects, context.municipalities, context.claims);
  return out.Take();
}

std::string JournalStore::PathFor(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "journal").string();
}

Status JournalStore::Open(const std::string& path, const JournalStoreOptions& options,
                          std::unique_ptr<JournalStore>* out) {
  if (options.image_stride == 0) return Status::InvalidArgument("must be at least 1", "image_stride");
  if (options.batch_events == 0) return Status::InvalidArgument("must be at least 1", "batch_events");
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.compression = rocksdb::kLZ4Compression;
  db_options.write_buffer_size = 16 << 20;
  // Images are large values written once per stride: in blob files, not rewritten by compactions.
  db_options.enable_blob_files = true;
  db_options.min_blob_size = 4096;
  db_options.blob_compression_type = rocksdb::kLZ4Compression;
  db_options.max_open_files = 64;
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) return Status::IOError("cannot create directory '" + path + "': " + error.message());
  db_options.info_log = ledger::NewDiskFullTolerantInfoLog(path);
  rocksdb::DB* db = nullptr;
  Status status = FromRocks(rocksdb::DB::Open(db_options, path, &db), "open the journal at " + path);
  if (!status.ok()) return status;
  auto store = std::make_unique<RocksJournalStore>(options, std::unique_ptr<rocksdb::DB>(db));
  status = store->Load();
  if (!status.ok()) return status;
  *out = std::move(store);
  return Status::Ok();
}

void JournalProjector::Add(const FundingJournal& journal, const LedgerModel& model, const ledger::StoredEvent& event,
                           std::vector<FundingChange> changes) {
  JournalRecord record = RecordOf(journal, model, event, std::move(changes));
  DI_ASSERT(record.position > std::max(store_->position(), buffered_to_));
  if (record.position % store_->options().image_stride == 0) {
    images_.push_back(JournalStore::Image{record.position, JournalStore::EncodeImage(journal)});
  }
  buffered_to_ = record.position;
  buffered_hash_ = event.hash;
  records_.push_back(std::move(record));
}

Status JournalProjector::Flush() {
  if (buffered_to_ <= store_->position()) return Status::Ok();
  Status status = store_->Append(records_, images_, buffered_to_, buffered_hash_);
  records_.clear();
  images_.clear();
  // A failed write leaves the model and journal ahead of the store: the next CatchUp resumes from the store again.
  if (!status.ok()) resumed_ = false;
  return status;
}

Status JournalProjector::CatchUp(ledger::EventStore& events, CheckpointStore* checkpoints, uint64_t to_position) {
  Status status = FollowLog(events, checkpoints, to_position);
  if (!status.ok()) {
    resumed_ = false;  // what was folded but not written is lost: resume from the store next time
    records_.clear();
    images_.clear();
    buffered_to_ = 0;
  }
  return status;
}

Status JournalProjector::FollowLog(ledger::EventStore& events, CheckpointStore* checkpoints, uint64_t to_position) {
  if (!resumed_) {
    records_.clear();
    images_.clear();
    buffered_to_ = 0;
    bool cleared = false;
    DI_RETURN_IF_ERROR(store_->Confirm(events, &cleared));
    model_ = LedgerModel{};
    if (store_->position() > 0) DI_RETURN_IF_ERROR(LoadModel(events, checkpoints, store_->position(), &model_));
    DI_ASSERT(model_.last_position() == store_->position());
    journal_.Reset(model_);
    resumed_ = true;
  }
  std::vector<FundingChange> changes;
  Status undecodable = Status::Ok();
  Status status = events.ReadLog(store_->position() + 1, 0, [&](const ledger::StoredEvent& event) {
    if (to_position != kKnownNow && event.position > to_position) return false;
    if (cancelled_) {
      undecodable = Status::Make(ledger::StatusCode::kShutdown, "the journal's catch-up was cancelled");
      return false;
    }
    if (!ApplyOrReport(event, &model_, &undecodable)) return false;
    journal_.Follow(model_, event, &changes);
    Add(journal_, model_, event, std::move(changes));
    changes.clear();
    if (records_.size() >= store_->options().batch_events) {
      undecodable = Flush();
      if (!undecodable.ok()) return false;
    }
    return true;
  });
  DI_RETURN_IF_ERROR(status);
  DI_RETURN_IF_ERROR(undecodable);
  return Flush();
}

}  // namespace di::projections
