// LedgerModel snapshots: a deterministic binary encoding of the folded facts, so a checkpoint can stand in
// for replaying the log up to its position.
//
// Why not Cap'n Proto here: a snapshot is a cache of derived state, never a record. A format change bumps
// kSnapshotFormat and old snapshots are simply ignored (the next query replays and writes a new one), so
// schema evolution buys nothing, while one field list shared by the encoder and the decoder (VisitFields
// below) keeps the two from drifting apart. The encoding is canonical: maps are ordered, integers are
// varints, so equal models give byte-identical snapshots (what `rebuild` and the tests compare).
#include <cstring>
#include <type_traits>

#include "di/ledger/invariant.h"
#include "di/ledger/json_codec.h"
#include "di/projections/ledger_model.h"
#include "parsed_rules.h"

namespace di::projections {
namespace {

constexpr char kSnapshotMagic[8] = {'D', 'I', 'M', 'O', 'D', 'E', 'L', '1'};
// 2: enrolment date and dated residences; 3: rules per project, kinds; 4: closures, a grant's provider
// 5: a person's transition to community life
constexpr uint32_t kSnapshotFormat = 6;  // 6: a grant's project, partners, activities, provider names

class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::string* out) : out_(out) {}

  void operator()(uint64_t value) {
    while (value >= 0x80) {
      out_->push_back(static_cast<char>(value | 0x80));
      value >>= 7;
    }
    out_->push_back(static_cast<char>(value));
  }
  void operator()(int64_t value) { (*this)((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63)); }
  void operator()(int32_t value) { (*this)(static_cast<int64_t>(value)); }
  void operator()(bool value) { out_->push_back(value ? 1 : 0); }
  void operator()(const std::string& value) {
    (*this)(static_cast<uint64_t>(value.size()));
    out_->append(value);
  }
  template <typename Enum>
    requires std::is_enum_v<Enum>
  void operator()(Enum value) {
    (*this)(static_cast<uint64_t>(value));
  }
  template <typename First, typename Second>
  void operator()(const std::pair<First, Second>& pair) {
    (*this)(pair.first);
    (*this)(pair.second);
  }
  template <typename Value>
  void operator()(const std::vector<Value>& values) {
    (*this)(static_cast<uint64_t>(values.size()));
    for (const Value& value : values) (*this)(value);
  }
  template <typename Key, typename Value>
  void operator()(const std::map<Key, Value>& map) {
    (*this)(static_cast<uint64_t>(map.size()));
    for (const auto& [key, value] : map) {
      (*this)(key);
      (*this)(value);
    }
  }
  // Structs: their fields, as listed once in VisitFields.
  template <typename Facts>
    requires std::is_class_v<Facts>
  void operator()(const Facts& facts) {
    VisitFields(*this, facts);
  }

 private:
  std::string* out_;
};

// Reads what SnapshotWriter wrote. Every read is bounds-checked; the first failure sticks (ok() false) and
// later reads are no-ops, so the decoder checks once at the end.
class SnapshotReader {
 public:
  explicit SnapshotReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }

  void operator()(uint64_t& value) {
    value = 0;
    for (int shift = 0; ok_; shift += 7) {
      if (in_.empty() || shift > 63) return Fail();
      const uint8_t byte = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return;
    }
  }
  void operator()(int64_t& value) {
    uint64_t raw = 0;
    (*this)(raw);
    value = static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);
  }
  void operator()(int32_t& value) {
    int64_t wide = 0;
    (*this)(wide);
    if (wide < INT32_MIN || wide > INT32_MAX) return Fail();
    value = static_cast<int32_t>(wide);
  }
  void operator()(bool& value) {
    if (!ok_ || in_.empty() || static_cast<uint8_t>(in_.front()) > 1) return Fail();
    value = in_.front() == 1;
    in_.remove_prefix(1);
  }
  void operator()(std::string& value) {
    uint64_t size = 0;
    (*this)(size);
    if (!ok_ || size > in_.size()) return Fail();
    value.assign(in_.data(), size);
    in_.remove_prefix(size);
  }
  template <typename Enum>
    requires std::is_enum_v<Enum>
  void operator()(Enum& value) {
    uint64_t raw = 0;
    (*this)(raw);
    if (raw > 0xffff) return Fail();
    value = static_cast<Enum>(raw);
  }
  template <typename First, typename Second>
  void operator()(std::pair<First, Second>& pair) {
    (*this)(pair.first);
    (*this)(pair.second);
  }
  template <typename Value>
  void operator()(std::vector<Value>& values) {
    uint64_t size = 0;
    (*this)(size);
    // Each element takes at least one byte: a size beyond what is left is corruption, not an allocation.
    if (!ok_ || size > in_.size()) return Fail();
    values.clear();
    values.resize(size);
    for (Value& value : values) (*this)(value);
  }
  template <typename Key, typename Value>
  void operator()(std::map<Key, Value>& map) {
    uint64_t size = 0;
    (*this)(size);
    if (!ok_ || size > in_.size()) return Fail();
    map.clear();
    for (uint64_t i = 0; i < size && ok_; ++i) {
      Key key{};
      (*this)(key);
      Value value{};
      (*this)(value);
      map.emplace_hint(map.end(), std::move(key), std::move(value));
    }
  }
  template <typename Facts>
    requires std::is_class_v<Facts>
  void operator()(Facts& facts) {
    VisitFields(*this, facts);
  }

 private:
  void Fail() { ok_ = false; }
  std::string_view in_;
  bool ok_ = true;
};

// One field list per struct, for both directions. A new field of a *Facts struct must be added here (and
// kSnapshotFormat bumped); the round-trip test compares a decoded model's reports with the original's.
template <typename Archive, typename T>
void VisitFields(Archive& a, Validity<T>& v) { a(v.value); a(v.from); a(v.until); a(v.position); }
template <typename Archive, typename T>
void VisitFields(Archive& a, const Validity<T>& v) { VisitFields(a, const_cast<Validity<T>&>(v)); }

#define DI_SNAPSHOT_FIELDS(Type, ...)                                                      \
  template <typename Archive>                                                              \
  void VisitFields(Archive& a, Type& x) {                                                  \
    __VA_ARGS__;                                                                           \
  }                                                                                        \
  template <typename Archive>                                                              \
  void VisitFields(Archive& a, const Type& x) {                                            \
    VisitFields(a, const_cast<Type&>(x)); /* the writer only reads through it */           \
  }

DI_SNAPSHOT_FIELDS(PersonFacts, a(x.id); a(x.enrolled); a(x.target_group); a(x.birth_date); a(x.enrolled_on);
                   a(x.residence_municipality_id); a(x.residences); a(x.represented_child_ids); a(x.representative_ids);
                   a(x.special_care_opinions); a(x.disabilities); a(x.parent_activities); a(x.plan_ids);
                   a(x.assessed); a(x.assessment_dates); a(x.project_id);
                   a(x.prepared_for_transition_on); a(x.independent_life_from))
DI_SNAPSHOT_FIELDS(PlanFacts, a(x.id); a(x.approved_on); a(x.person_id); a(x.services); a(x.valid_from);
                   a(x.valid_until))
DI_SNAPSHOT_FIELDS(GrantFacts, a(x.id); a(x.person_id); a(x.municipality_id); a(x.service); a(x.quantity);
                   a(x.quantity_changes); a(x.period); a(x.valid_from); a(x.valid_until); a(x.ended_on);
                   a(x.cost_basis); a(x.unit_cost_cents); a(x.unit_cost_changes); a(x.suspensions);
                   a(x.provider_id); a(x.project_id); a(x.positions))
DI_SNAPSHOT_FIELDS(ClosureFacts, a(x.from); a(x.until); a(x.services); a(x.reason); a(x.position))
DI_SNAPSHOT_FIELDS(ProviderFacts, a(x.id); a(x.name); a(x.closures))
DI_SNAPSHOT_FIELDS(DeliveryFacts, a(x.id); a(x.grant_id); a(x.provider_id); a(x.date); a(x.last_date);
                   a(x.quantity); a(x.cost_cents); a(x.purpose); a(x.mode); a(x.kind); a(x.voided); a(x.position);
                   a(x.correction_positions))
DI_SNAPSHOT_FIELDS(BudgetVersion, a(x.from); a(x.total_cents); a(x.esf_cents); a(x.state_cents); a(x.position))
DI_SNAPSHOT_FIELDS(IndicatorTargetFacts, a(x.indicator); a(x.target_group); a(x.count))
DI_SNAPSHOT_FIELDS(TargetsVersion, a(x.from); a(x.targets); a(x.position))
DI_SNAPSHOT_FIELDS(PartnershipFacts, a(x.partner_id); a(x.kind); a(x.branches); a(x.note); a(x.from); a(x.until);
                   a(x.reason); a(x.positions))
DI_SNAPSHOT_FIELDS(ActivityFacts, a(x.id); a(x.kind); a(x.title); a(x.first_date); a(x.last_date);
                   a(x.participants); a(x.venue); a(x.note); a(x.positions))
DI_SNAPSHOT_FIELDS(ProjectFacts, a(x.id); a(x.targets); a(x.name); a(x.services_paid_until); a(x.budgets);
                   a(x.expenses_cents); a(x.partnerships); a(x.activities))
DI_SNAPSHOT_FIELDS(MunicipalityFacts, a(x.id); a(x.name); a(x.project_id); a(x.merged_into); a(x.merged_on);
                   a(x.registered_on))
DI_SNAPSHOT_FIELDS(PaymentFacts, a(x.id); a(x.date); a(x.amount_cents); a(x.esf_cents); a(x.state_cents);
                   a(x.position))
DI_SNAPSHOT_FIELDS(ClaimFacts, a(x.id); a(x.project_id); a(x.municipality_id); a(x.date); a(x.period_start);
                   a(x.period_end); a(x.lines); a(x.reviewed); a(x.reviewed_on); a(x.approved);
                   a(x.review_reasons); a(x.payments); a(x.positions))
#undef DI_SNAPSHOT_FIELDS

}  // namespace

std::string LedgerModel::EncodeSnapshot() const {
  std::string out(kSnapshotMagic, sizeof(kSnapshotMagic));
  SnapshotWriter write(&out);
  write(static_cast<uint64_t>(kSnapshotFormat));
  write(last_position_);
  write(persons_);
  write(plans_);
  write(grants_);
  write(deliveries_);
  write(assessment_person_);
  write(projects_);
  write(municipalities_);
  write(claims_);
  write(providers_);
  auto write_rules = [&write](const RulesInForce& scope) {
    write(scope.position);
    write(scope.document);
    write(scope.problem);
  };
  write_rules(general_rules_);
  write(static_cast<uint64_t>(project_rules_.size()));
  for (const auto& [project_id, scope] : project_rules_) {
    write(project_id);
    write_rules(scope);
  }
  return out;
}

Status LedgerModel::DecodeSnapshot(std::string_view bytes) {
  *this = LedgerModel();
  if (bytes.size() < sizeof(kSnapshotMagic) || std::memcmp(bytes.data(), kSnapshotMagic, sizeof(kSnapshotMagic)) != 0) {
    return Status::Corruption("not a ledger model snapshot");
  }
  SnapshotReader read(bytes.substr(sizeof(kSnapshotMagic)));
  uint64_t format = 0;
  read(format);
  if (!read.ok() || format != kSnapshotFormat) {
    return Status::InvalidArgument("snapshot format " + std::to_string(format) + ", this build reads " +
                                   std::to_string(kSnapshotFormat));
  }
  LedgerModel model;
  read(model.last_position_);
  read(model.persons_);
  read(model.plans_);
  read(model.grants_);
  read(model.deliveries_);
  read(model.assessment_person_);
  read(model.projects_);
  read(model.municipalities_);
  read(model.claims_);
  read(model.providers_);
  auto read_rules = [&read](RulesInForce* scope) {
    read(scope->position);
    read(scope->document);
    read(scope->problem);
  };
  read_rules(&model.general_rules_);
  uint64_t projects = 0;
  read(projects);
  for (uint64_t i = 0; read.ok() && i < projects; ++i) {
    std::string project_id;
    read(project_id);
    RulesInForce scope;
    read_rules(&scope);
    model.project_rules_.emplace(std::move(project_id), std::move(scope));
  }
  if (!read.ok() || !read.at_end()) return Status::Corruption("truncated or malformed ledger model snapshot");
  // The rules were parsed when folded; parsing the same text again gives the same rule set.
  auto parse = [](RulesInForce* scope) {
    if (scope->document.empty()) return Status::Ok();
    Status status = internal::ParsedRuleSet(scope->document, &scope->rules);
    return status.ok() ? status : Status::Corruption("snapshot rules do not parse: " + status.ToString());
  };
  DI_RETURN_IF_ERROR(parse(&model.general_rules_));
  for (auto& [project_id, scope] : model.project_rules_) DI_RETURN_IF_ERROR(parse(&scope));
  model.RebuildIndexes();
  *this = std::move(model);
  return Status::Ok();
}

}  // namespace di::projections
