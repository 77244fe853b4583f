#include "validator.h"

#include <capnp/message.h>

#include <algorithm>
#include "di/ledger/invariant.h"
#include <set>

#include "di/ledger/audit.h"
#include "di/ledger/capnp_text.h"
#include "di/ledger/catalog.h"
#include "di/ledger/event.h"

namespace di::ledger {
namespace {

using schema::Service;
using schema::TargetGroup;

// Sanity bound on sessions per day of a delivery.
constexpr int64_t kMaxSessionsPerDay = 50;
// A day has this many minutes: the most a delivery in minutes can hold per day of its span.
constexpr int64_t kMinutesPerDay = 24 * 60;
// Of age (pilngadīgs): a person of a child group is younger on enrolment, an adult group's is this or older.
constexpr int kAdultAge = 18;

Status Invalid(std::string field, std::string message) {
  return Status::InvalidArgument(std::move(message), "data." + field);
}

// Everything one validation needs: the event's envelope, the lookup, and the output.
class Context {
 public:
  Context(schema::Event::Reader event, uint64_t position, EntityLookup& lookup, ValidatedEvent* out)
      : event_(event), position_(position), lookup_(lookup), out_(out) {}

  int32_t date() const { return event_.getEffectiveDate(); }
  uint64_t position() const { return position_; }
  ValidatedEvent* out() { return out_; }

  // The entity as this event sees it, including updates made earlier by this same event.
  bool Find(EntityKind kind, const std::string& id, EntityState* state) {
    for (auto it = out_->updates.rbegin(); it != out_->updates.rend(); ++it) {
      if (it->kind == kind && it->id == id) {
        *state = it->state;
        return true;
      }
    }
    return lookup_.Find(kind, id, state);
  }

  Status Need(EntityKind kind, const std::string& id, const std::string& field, EntityState* state) {
    if (!Find(kind, id, state)) {
      return Invalid(field, "unknown " + std::string(EntityKindName(kind)) + " '" + id + "'");
    }
    return Status::Ok();
  }
  Status Need(EntityKind kind, const std::string& id, const std::string& field) {
    EntityState ignored;
    return Need(kind, id, field, &ignored);
  }
  Status NeedNew(EntityKind kind, const std::string& id, const std::string& field) {
    EntityState existing;
    if (Find(kind, id, &existing)) {
      return Invalid(field, std::string(EntityKindName(kind)) + " '" + id +
                                "' already exists (recorded at position " + std::to_string(existing.created_at) +
                                ")");
    }
    return Status::Ok();
  }
  // A municipality that still exists on the event's effective date (not merged away before it).
  Status NeedActiveMunicipality(const std::string& id, const std::string& field) {
    EntityState municipality;
    DI_RETURN_IF_ERROR(Need(EntityKind::MUNICIPALITY, id, field, &municipality));
    if (!municipality.merged_into.empty() && date() >= municipality.ended_on) {
      return Invalid(field, "municipality '" + id + "' was merged into '" + municipality.merged_into + "' on " +
                                FormatDate(municipality.ended_on));
    }
    return Status::Ok();
  }

  EntityState Create(EntityKind kind) const {
    EntityState state;
    state.kind = kind;
    state.created_at = position_;
    state.created_on = date();
    return state;
  }
  void Put(EntityKind kind, const std::string& id, EntityState state) {
    out_->updates.push_back(EntityUpdate{kind, id, std::move(state)});
  }
  void SetStream(std::string_view kind, const std::string& id) { out_->stream = std::string(kind) + "/" + id; }
  // Through the lookup only: no event changes a municipality and then asks for its territory.
  Territory TerritoryOf(const std::string& municipality_id) { return ledger::TerritoryOf(lookup_, municipality_id); }

 private:
  schema::Event::Reader event_;
  uint64_t position_;
  EntityLookup& lookup_;
  ValidatedEvent* out_;
};

// An event about an entity cannot take effect before the entity's own effective date.
Status NeedNotBefore(int32_t date, int32_t earliest, std::string_view what) {
  if (date < earliest) {
    return Status::InvalidArgument(FormatDate(date) + " is before " + std::string(what) + " on " + FormatDate(earliest),
                                   "effective_date");
  }
  return Status::Ok();
}

Status NeedPositive(int64_t value, const std::string& field) {
  if (value <= 0) return Invalid(field, "must be greater than 0");
  return Status::Ok();
}

Status NeedAmount(int64_t value, const std::string& field, bool allow_zero) {
  if (value < 0 || (!allow_zero && value == 0)) {
    return Invalid(field, allow_zero ? "must not be negative" : "must be greater than 0");
  }
  static_assert(kMaxAmountCents == 1'000'000'000'000LL, "the message below states the bound");
  if (value > kMaxAmountCents) return Invalid(field, "exceeds the maximum of 10^12 cents");
  return Status::Ok();
}

Status NeedDateOrder(int32_t from, int32_t until, const std::string& until_field, const std::string& from_name) {
  if (until != kNoDate && until < from) {
    return Invalid(until_field, FormatDate(until) + " is before " + from_name + " " + FormatDate(from));
  }
  return Status::Ok();
}

Status NeedServices(capnp::List<Service>::Reader services, const std::string& field) {
  if (services.size() == 0) return Invalid(field, "must list at least one service");
  std::set<uint16_t> seen;
  for (unsigned i = 0; i < services.size(); ++i) {
    if (!seen.insert(static_cast<uint16_t>(services[i])).second) {
      return Invalid(field + "[" + std::to_string(i) + "]",
                     "service '" + std::string(ServiceName(services[i])) + "' is listed twice");
    }
  }
  return Status::Ok();
}

bool IsChildGroup(TargetGroup group) {
  return group == TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT || group == TargetGroup::CHILD_IN_CARE;
}

std::string_view TargetGroupName(TargetGroup group) {
  switch (group) {
    case TargetGroup::ADULT_MENTAL_DISABILITY: return "adult_mental_disability";
    case TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT: return "child_functional_impairment";
    case TargetGroup::PARENT_OF_CHILD: return "parent_of_child";
    case TargetGroup::CHILD_IN_CARE: return "child_in_care";
    case TargetGroup::FOSTER_OR_ADOPTIVE_CANDIDATE: return "foster_or_adoptive_candidate";
  }
  return "unknown";
}

// Last day a grant can be delivered on: the day it ended, else its (amended) validity.
int32_t GrantLastDay(const EntityState& grant) {
  return grant.ended_on != kNoDate ? grant.ended_on : grant.valid_until;
}

Status CheckTargets(capnp::List<schema::IndicatorTarget>::Reader targets, const std::string& field) {
  for (unsigned i = 0; i < targets.size(); ++i) {
    if (targets[i].getCount() == 0) {
      return Invalid(field + "[" + std::to_string(i) + "].count", "must be greater than 0");
    }
  }
  return Status::Ok();
}

Status CheckBudget(int64_t total, int64_t esf, int64_t state, const std::string& total_field,
                   const std::string& esf_field, const std::string& state_field) {
  DI_RETURN_IF_ERROR(NeedAmount(total, total_field, false));
  DI_RETURN_IF_ERROR(NeedAmount(esf, esf_field, true));
  DI_RETURN_IF_ERROR(NeedAmount(state, state_field, true));
  if (esf + state != total) {
    return Invalid(total_field, "ESF part " + std::to_string(esf) + " + state part " + std::to_string(state) +
                                    " = " + std::to_string(esf + state) + " cents, not the total " +
                                    std::to_string(total));
  }
  return Status::Ok();
}

// ------------------------------------------------------------------------------------------------------
// One function per event type.
// ------------------------------------------------------------------------------------------------------

Status ProjectRegistered(Context& ctx, schema::ProjectRegistered::Reader data) {
  const std::string id = Str(data.getProjectId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PROJECT, id, "project_id"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getPeriodStart(), data.getPeriodEnd(), "period_end", "period_start"));
  if (data.getServicesPaidUntil() < data.getPeriodStart() || data.getServicesPaidUntil() > data.getPeriodEnd()) {
    return Invalid("services_paid_until", "must lie within the project period " + FormatDate(data.getPeriodStart()) +
                                              ".." + FormatDate(data.getPeriodEnd()));
  }
  DI_RETURN_IF_ERROR(CheckBudget(data.getBudgetTotalCents(), data.getBudgetEsfCents(), data.getBudgetStateCents(),
                                 "budget_total_cents", "budget_esf_cents", "budget_state_cents"));
  DI_RETURN_IF_ERROR(CheckTargets(data.getTargets(), "targets"));
  EntityState project = ctx.Create(EntityKind::PROJECT);
  project.period_start = data.getPeriodStart();
  project.valid_until = data.getPeriodEnd();
  ctx.Put(EntityKind::PROJECT, id, std::move(project));
  ctx.SetStream("project", id);
  return Status::Ok();
}

Status BudgetAmended(Context& ctx, schema::BudgetAmended::Reader data) {
  const std::string id = Str(data.getProjectId());
  EntityState project;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, id, "project_id", &project));
  if (ctx.date() < project.period_start) {
    return Status::InvalidArgument("budget amendment in force " + FormatDate(ctx.date()) +
                                       " is before the project start " + FormatDate(project.period_start),
                                   "effective_date");
  }
  DI_RETURN_IF_ERROR(CheckBudget(data.getTotalCents(), data.getEsfCents(), data.getStateCents(), "total_cents",
                                 "esf_cents", "state_cents"));
  DI_RETURN_IF_ERROR(CheckTargets(data.getTargets(), "targets"));
  ctx.SetStream("project", id);
  return Status::Ok();
}

Status ProjectExpenseRecorded(Context& ctx, schema::ProjectExpenseRecorded::Reader data) {
  const std::string project_id = Str(data.getProjectId());
  const std::string expense_id = Str(data.getExpenseId());
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, project_id, "project_id"));
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::EXPENSE, expense_id, "expense_id"));
  DI_RETURN_IF_ERROR(NeedAmount(data.getAmountCents(), "amount_cents", false));
  EntityState expense = ctx.Create(EntityKind::EXPENSE);
  ctx.Put(EntityKind::EXPENSE, expense_id, std::move(expense));
  ctx.SetStream("project", project_id);
  return Status::Ok();
}

Status MunicipalityRegistered(Context& ctx, schema::MunicipalityRegistered::Reader data) {
  const std::string id = Str(data.getMunicipalityId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::MUNICIPALITY, id, "municipality_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  ctx.Put(EntityKind::MUNICIPALITY, id, ctx.Create(EntityKind::MUNICIPALITY));
  ctx.SetStream("municipality", id);
  return Status::Ok();
}

Status MunicipalitiesMerged(Context& ctx, schema::MunicipalitiesMerged::Reader data) {
  const std::string successor_id = Str(data.getSuccessorId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::MUNICIPALITY, successor_id, "successor_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  const auto predecessors = data.getPredecessorIds();
  if (predecessors.size() == 0) return Invalid("predecessor_ids", "must list at least one municipality");
  std::set<std::string> seen;
  for (unsigned i = 0; i < predecessors.size(); ++i) {
    const std::string field = "predecessor_ids[" + std::to_string(i) + "]";
    const std::string id = Str(predecessors[i]);
    if (!seen.insert(id).second) return Invalid(field, "municipality '" + id + "' is listed twice");
    EntityState predecessor;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::MUNICIPALITY, id, field, &predecessor));
    if (!predecessor.merged_into.empty()) {
      return Invalid(field, "municipality '" + id + "' was already merged into '" + predecessor.merged_into + "'");
    }
    predecessor.merged_into = successor_id;
    predecessor.ended_on = ctx.date();
    ctx.Put(EntityKind::MUNICIPALITY, id, std::move(predecessor));
  }
  ctx.Put(EntityKind::MUNICIPALITY, successor_id, ctx.Create(EntityKind::MUNICIPALITY));
  ctx.SetStream("municipality", successor_id);
  return Status::Ok();
}

Status ProviderRegistered(Context& ctx, schema::ProviderRegistered::Reader data) {
  const std::string id = Str(data.getProviderId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PROVIDER, id, "provider_id"));
  std::set<uint16_t> registers;
  for (unsigned i = 0; i < data.getRegisters().size(); ++i) {
    if (!registers.insert(static_cast<uint16_t>(data.getRegisters()[i].getRegister())).second) {
      return Invalid("registers[" + std::to_string(i) + "].register", "register is listed twice");
    }
  }
  ctx.Put(EntityKind::PROVIDER, id, ctx.Create(EntityKind::PROVIDER));
  ctx.SetStream("provider", id);
  return Status::Ok();
}

Status ProviderContracted(Context& ctx, schema::ProviderContracted::Reader data) {
  const std::string contract_id = Str(data.getContractId());
  const std::string provider_id = Str(data.getProviderId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::CONTRACT, contract_id, "contract_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, provider_id, "provider_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  DI_RETURN_IF_ERROR(NeedServices(data.getServices(), "services"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getPeriodStart(), data.getPeriodEnd(), "period_end", "period_start"));
  EntityState contract = ctx.Create(EntityKind::CONTRACT);
  contract.municipality_id = Str(data.getMunicipalityId());
  contract.valid_from = data.getPeriodStart();
  contract.valid_until = data.getPeriodEnd();
  ctx.Put(EntityKind::CONTRACT, contract_id, std::move(contract));
  ctx.SetStream("provider", provider_id);
  return Status::Ok();
}

Status RulesEnacted(Context& ctx, schema::RulesEnacted::Reader data) {
  // The document's structure is checked by the rules engine (projections); here: a JSON object (codec).
  ctx.SetStream("rules", Str(data.getRuleSetId()));
  return Status::Ok();
}

Status PersonEnrolled(Context& ctx, schema::PersonEnrolled::Reader data) {
  const std::string id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PERSON, id, "person_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getResidenceMunicipalityId()), "residence_municipality_id"));
  const int32_t birth = data.getBirthDate();
  if (birth > ctx.date()) {
    return Invalid("birth_date", FormatDate(birth) + " is after the enrolment date " + FormatDate(ctx.date()));
  }
  const TargetGroup group = data.getTargetGroup();
  const int age = AgeInYears(birth, ctx.date());
  if (IsChildGroup(group) && age >= kAdultAge) {
    return Invalid("birth_date", "a person of group " + std::string(TargetGroupName(group)) +
                                     " must be 0-" + std::to_string(kAdultAge - 1) + " on the enrolment date; is " +
                                     std::to_string(age));
  }
  if (group == TargetGroup::ADULT_MENTAL_DISABILITY && age < kAdultAge) {
    return Invalid("birth_date", "a person of group adult_mental_disability must be " + std::to_string(kAdultAge) +
                                     " or older on the enrolment date; is " + std::to_string(age));
  }
  if (group == TargetGroup::PARENT_OF_CHILD) {
    if (!data.hasRepresentative()) return Invalid("representative", "is required for group parent_of_child");
    const auto children = data.getRepresentative().getChildIds();
    if (children.size() == 0) return Invalid("representative.child_ids", "must list at least one child");
    std::set<std::string> seen;
    for (unsigned i = 0; i < children.size(); ++i) {
      const std::string field = "representative.child_ids[" + std::to_string(i) + "]";
      const std::string child_id = Str(children[i]);
      if (!seen.insert(child_id).second) return Invalid(field, "child '" + child_id + "' is listed twice");
      EntityState child;
      DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, child_id, field, &child));
      if (!IsChildGroup(child.target_group)) {
        return Invalid(field, "person '" + child_id + "' is in group " +
                                  std::string(TargetGroupName(child.target_group)) + ", not a child group");
      }
    }
  } else if (data.hasRepresentative()) {
    return Invalid("representative", "only persons of group parent_of_child represent children");
  }
  EntityState person = ctx.Create(EntityKind::PERSON);
  person.target_group = group;
  person.birth_date = birth;
  person.municipality_id = Str(data.getResidenceMunicipalityId());
  ctx.Put(EntityKind::PERSON, id, std::move(person));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status ResidenceChanged(Context& ctx, schema::ResidenceChanged::Reader data) {
  const std::string id = Str(data.getPersonId());
  EntityState person;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id", &person));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  person.municipality_id = Str(data.getMunicipalityId());
  ctx.Put(EntityKind::PERSON, id, std::move(person));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status DisabilityRecorded(Context& ctx, schema::DisabilityRecorded::Reader data) {
  const std::string id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status SpecialCareOpinionRecorded(Context& ctx, schema::SpecialCareOpinionRecorded::Reader data) {
  const std::string id = Str(data.getPersonId());
  EntityState person;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id", &person));
  if (person.target_group != TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT) {
    return Invalid("person_id", "a special-care opinion is for a child_functional_impairment person; '" + id +
                                    "' is " + std::string(TargetGroupName(person.target_group)));
  }
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status ParentActivityRecorded(Context& ctx, schema::ParentActivityRecorded::Reader data) {
  const std::string id = Str(data.getPersonId());
  EntityState person;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id", &person));
  if (person.target_group != TargetGroup::PARENT_OF_CHILD) {
    return Invalid("person_id", "parent activity is recorded for parent_of_child persons; '" + id + "' is " +
                                    std::string(TargetGroupName(person.target_group)));
  }
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status NeedsAssessed(Context& ctx, schema::NeedsAssessed::Reader data) {
  const std::string assessment_id = Str(data.getAssessmentId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::ASSESSMENT, assessment_id, "assessment_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  EntityState assessment = ctx.Create(EntityKind::ASSESSMENT);
  assessment.person_id = person_id;
  ctx.Put(EntityKind::ASSESSMENT, assessment_id, std::move(assessment));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

Status SupportPlanApproved(Context& ctx, schema::SupportPlanApproved::Reader data) {
  const std::string plan_id = Str(data.getPlanId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PLAN, plan_id, "plan_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  EntityState assessment;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::ASSESSMENT, Str(data.getAssessmentId()), "assessment_id", &assessment));
  if (assessment.person_id != person_id) {
    return Invalid("assessment_id", "assessment '" + Str(data.getAssessmentId()) + "' is of person '" +
                                        assessment.person_id + "', not '" + person_id + "'");
  }
  if (assessment.created_on > ctx.date()) {
    return Status::InvalidArgument("plan approved " + FormatDate(ctx.date()) + " before its assessment on " +
                                       FormatDate(assessment.created_on),
                                   "effective_date");
  }
  DI_RETURN_IF_ERROR(NeedServices(data.getRecommendedServices(), "recommended_services"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  EntityState plan = ctx.Create(EntityKind::PLAN);
  plan.person_id = person_id;
  plan.valid_from = data.getValidFrom();
  plan.valid_until = data.getValidUntil();
  ctx.Put(EntityKind::PLAN, plan_id, std::move(plan));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

Status ApplicationSubmitted(Context& ctx, schema::ApplicationSubmitted::Reader data) {
  const std::string application_id = Str(data.getApplicationId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::APPLICATION, application_id, "application_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  DI_RETURN_IF_ERROR(NeedServices(data.getServices(), "services"));
  if (data.hasSubmittedById()) {
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, Str(data.getSubmittedById()), "submitted_by_id"));
  }
  EntityState application = ctx.Create(EntityKind::APPLICATION);
  application.person_id = person_id;
  application.municipality_id = Str(data.getMunicipalityId());
  for (Service service : data.getServices()) application.services.push_back(service);
  ctx.Put(EntityKind::APPLICATION, application_id, std::move(application));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

Status ApplicationDecided(Context& ctx, schema::ApplicationDecided::Reader data) {
  const std::string application_id = Str(data.getApplicationId());
  EntityState application;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::APPLICATION, application_id, "application_id", &application));
  if (application.decided) return Invalid("application_id", "application '" + application_id + "' is already decided");
  if (ctx.date() < application.created_on) {
    return Status::InvalidArgument("decided " + FormatDate(ctx.date()) + ", before the application was submitted on " +
                                       FormatDate(application.created_on),
                                   "effective_date");
  }
  if (data.getDecision() == schema::Decision::REFUSED && !data.hasReason()) {
    return Invalid("reason", "is required when the application is refused");
  }
  application.decided = true;
  application.decision = data.getDecision();
  const std::string person_id = application.person_id;
  ctx.Put(EntityKind::APPLICATION, application_id, std::move(application));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

Status ServiceGranted(Context& ctx, schema::ServiceGranted::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::GRANT, grant_id, "grant_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  DI_RETURN_IF_ERROR(NeedPositive(data.getQuantity(), "quantity"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  if (data.getCostBasis() == schema::CostBasis::UNIT_COST) {
    if (data.getUnitCostCents() == 0) return Invalid("unit_cost_cents", "is required when cost_basis is unit_cost");
    DI_RETURN_IF_ERROR(NeedAmount(data.getUnitCostCents(), "unit_cost_cents", false));
  } else if (data.getUnitCostCents() != 0) {
    return Invalid("unit_cost_cents", "is only allowed when cost_basis is unit_cost");
  }
  if (data.hasApplicationId()) {
    const std::string application_id = Str(data.getApplicationId());
    EntityState application;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::APPLICATION, application_id, "application_id", &application));
    if (application.person_id != person_id) {
      return Invalid("application_id", "application '" + application_id + "' is of person '" +
                                           application.person_id + "', not '" + person_id + "'");
    }
    if (!application.decided || application.decision != schema::Decision::GRANTED) {
      return Invalid("application_id", "application '" + application_id +
                                           (application.decided ? "' was refused" : "' is not decided yet"));
    }
    if (std::find(application.services.begin(), application.services.end(), data.getService()) ==
        application.services.end()) {
      return Invalid("service", "service '" + std::string(ServiceName(data.getService())) +
                                    "' was not applied for in application '" + application_id + "'");
    }
  }
  if (data.hasPlanId()) {
    EntityState plan;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PLAN, Str(data.getPlanId()), "plan_id", &plan));
    if (plan.person_id != person_id) {
      return Invalid("plan_id", "support plan '" + Str(data.getPlanId()) + "' is of person '" + plan.person_id +
                                    "', not '" + person_id + "'");
    }
  }
  if (data.hasProviderId()) DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, Str(data.getProviderId()), "provider_id"));
  EntityState grant = ctx.Create(EntityKind::GRANT);
  grant.person_id = person_id;
  grant.municipality_id = Str(data.getMunicipalityId());
  grant.service = data.getService();
  grant.cost_basis = data.getCostBasis();
  grant.valid_from = data.getValidFrom();
  grant.valid_until = data.getValidUntil();
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status NeedOpenGrant(Context& ctx, const std::string& grant_id, EntityState* grant) {
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::GRANT, grant_id, "grant_id", grant));
  if (grant->ended_on != kNoDate) {
    return Invalid("grant_id", "grant '" + grant_id + "' ended on " + FormatDate(grant->ended_on));
  }
  return Status::Ok();
}

Status GrantAmended(Context& ctx, schema::GrantAmended::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), grant.created_on, "the grant was recorded"));
  const bool has_until = data.getValidUntil() != kNoDate;
  if (data.getQuantity() == 0 && !has_until && data.getUnitCostCents() == 0 && !data.hasProviderId()) {
    return Invalid("quantity", "an amendment must change at least one of quantity, valid_until, "
                               "unit_cost_cents, provider_id");
  }
  if (data.getQuantity() != 0) DI_RETURN_IF_ERROR(NeedPositive(data.getQuantity(), "quantity"));
  if (has_until) {
    DI_RETURN_IF_ERROR(NeedDateOrder(grant.valid_from, data.getValidUntil(), "valid_until", "the grant's valid_from"));
    grant.valid_until = data.getValidUntil();
  }
  if (data.getUnitCostCents() != 0) {
    if (grant.cost_basis != schema::CostBasis::UNIT_COST) {
      return Invalid("unit_cost_cents", "grant '" + grant_id + "' is compensated at actual cost");
    }
    DI_RETURN_IF_ERROR(NeedAmount(data.getUnitCostCents(), "unit_cost_cents", false));
  }
  if (data.hasProviderId()) DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, Str(data.getProviderId()), "provider_id"));
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status GrantEnded(Context& ctx, schema::GrantEnded::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  if (ctx.date() < grant.valid_from || ctx.date() > grant.valid_until) {
    return Status::InvalidArgument("end date " + FormatDate(ctx.date()) + " is outside the grant's validity " +
                                       FormatDate(grant.valid_from) + ".." + FormatDate(grant.valid_until),
                                   "effective_date");
  }
  grant.ended_on = ctx.date();
  grant.suspended_on = kNoDate;  // an ended grant is no longer suspended: it is over
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status ServiceSuspended(Context& ctx, schema::ServiceSuspended::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  if (grant.suspended_on != kNoDate) {
    return Invalid("grant_id", "grant '" + grant_id + "' is already suspended since " + FormatDate(grant.suspended_on));
  }
  if (ctx.date() < grant.valid_from || ctx.date() > grant.valid_until) {
    return Status::InvalidArgument("suspension date " + FormatDate(ctx.date()) + " is outside the grant's validity " +
                                       FormatDate(grant.valid_from) + ".." + FormatDate(grant.valid_until),
                                   "effective_date");
  }
  grant.suspended_on = ctx.date();
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status ServiceResumed(Context& ctx, schema::ServiceResumed::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  if (grant.suspended_on == kNoDate) return Invalid("grant_id", "grant '" + grant_id + "' is not suspended");
  if (ctx.date() < grant.suspended_on) {
    return Status::InvalidArgument("resumed " + FormatDate(ctx.date()) + ", before the suspension on " +
                                       FormatDate(grant.suspended_on),
                                   "effective_date");
  }
  grant.suspended_on = kNoDate;
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

// Checks a delivered quantity against the span of days it covers, in the service's unit.
Status CheckQuantityForSpan(Service service, int64_t quantity, int64_t days, const std::string& field) {
  DI_RETURN_IF_ERROR(NeedPositive(quantity, field));
  switch (ServiceUnit(service)) {
    case schema::Unit::DAYS:
      if (quantity > days) {
        return Invalid(field, std::to_string(quantity) + " days delivered in a span of " + std::to_string(days) +
                                  " day(s)");
      }
      break;
    case schema::Unit::MINUTES:
      if (quantity > kMinutesPerDay * days) {
        return Invalid(field, std::to_string(quantity) + " minutes delivered in a span of " +
                                  std::to_string(days) + " day(s) (at most " + std::to_string(kMinutesPerDay) +
                                  " per day)");
      }
      break;
    case schema::Unit::SESSIONS:
      if (quantity > kMaxSessionsPerDay * days) {
        return Invalid(field, std::to_string(quantity) + " sessions in " + std::to_string(days) +
                                  " day(s) (at most " + std::to_string(kMaxSessionsPerDay) + " per day)");
      }
      break;
  }
  return Status::Ok();
}

Status ServiceDelivered(Context& ctx, schema::ServiceDelivered::Reader data) {
  const std::string delivery_id = Str(data.getDeliveryId());
  const std::string grant_id = Str(data.getGrantId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::DELIVERY, delivery_id, "delivery_id"));
  EntityState grant;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::GRANT, grant_id, "grant_id", &grant));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, Str(data.getProviderId()), "provider_id"));
  const bool day_based = ServiceUnit(grant.service) == schema::Unit::DAYS;
  int32_t last_date = ctx.date();
  if (data.getLastDate() != kNoDate) {
    if (!day_based) {
      return Invalid("last_date", "only day-based services span several days; '" +
                                      std::string(ServiceName(grant.service)) + "' is counted in " +
                                      std::string(UnitName(ServiceUnit(grant.service))));
    }
    DI_RETURN_IF_ERROR(NeedDateOrder(ctx.date(), data.getLastDate(), "last_date", "the delivery date"));
    last_date = data.getLastDate();
  }
  const int32_t grant_last_day = GrantLastDay(grant);
  if (ctx.date() < grant.valid_from || last_date > grant_last_day) {
    return Status::InvalidArgument("delivery " + FormatDate(ctx.date()) +
                                       (last_date != ctx.date() ? ".." + FormatDate(last_date) : std::string()) +
                                       " is outside grant '" + grant_id + "' (" + FormatDate(grant.valid_from) +
                                       ".." + FormatDate(grant_last_day) + ")",
                                   "effective_date");
  }
  DI_RETURN_IF_ERROR(CheckQuantityForSpan(grant.service, data.getQuantity(), last_date - ctx.date() + 1, "quantity"));
  DI_RETURN_IF_ERROR(NeedAmount(data.getCostCents(), "cost_cents", true));
  if (data.getPurpose() != schema::DeliveryPurpose::UNSPECIFIED && grant.service != Service::CHILD_CARE) {
    return Invalid("purpose", "a purpose (care/leisure) applies to child_care only");
  }
  EntityState delivery = ctx.Create(EntityKind::DELIVERY);
  delivery.grant_id = grant_id;
  delivery.service = grant.service;
  delivery.last_date = last_date;
  delivery.cost_cents = data.getCostCents();
  ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status NeedLiveDelivery(Context& ctx, const std::string& delivery_id, EntityState* delivery) {
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::DELIVERY, delivery_id, "delivery_id", delivery));
  if (delivery->voided) return Invalid("delivery_id", "delivery '" + delivery_id + "' was voided");
  return Status::Ok();
}

Status DeliveryCorrected(Context& ctx, schema::DeliveryCorrected::Reader data) {
  const std::string delivery_id = Str(data.getDeliveryId());
  EntityState delivery;
  DI_RETURN_IF_ERROR(NeedLiveDelivery(ctx, delivery_id, &delivery));
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), delivery.created_on, "the delivery"));
  DI_RETURN_IF_ERROR(CheckQuantityForSpan(delivery.service, data.getQuantity(),
                                          delivery.last_date - delivery.created_on + 1, "quantity"));
  DI_RETURN_IF_ERROR(NeedAmount(data.getCostCents(), "cost_cents", true));
  if (data.getPurpose() != schema::DeliveryPurpose::UNSPECIFIED && delivery.service != Service::CHILD_CARE) {
    return Invalid("purpose", "a purpose (care/leisure) applies to child_care only");
  }
  delivery.cost_cents = data.getCostCents();
  const std::string grant_id = delivery.grant_id;
  ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status DeliveryVoided(Context& ctx, schema::DeliveryVoided::Reader data) {
  const std::string delivery_id = Str(data.getDeliveryId());
  EntityState delivery;
  DI_RETURN_IF_ERROR(NeedLiveDelivery(ctx, delivery_id, &delivery));
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), delivery.created_on, "the delivery"));
  delivery.voided = true;
  const std::string grant_id = delivery.grant_id;
  ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

// True if `municipality_id` is `claimant_id` or was merged (transitively) into it.
bool BelongsToClaimant(Context& ctx, const std::string& municipality_id, const std::string& claimant_id) {
  for (const TerritoryStep& step : ctx.TerritoryOf(municipality_id)) {
    if (step.municipality_id == claimant_id) return true;
  }
  return false;
}

Status ReimbursementClaimed(Context& ctx, schema::ReimbursementClaimed::Reader data) {
  const std::string claim_id = Str(data.getClaimId());
  const std::string municipality_id = Str(data.getMunicipalityId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::CLAIM, claim_id, "claim_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(municipality_id, "municipality_id"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getPeriodStart(), data.getPeriodEnd(), "period_end", "period_start"));
  const auto lines = data.getLines();
  if (lines.size() == 0) return Invalid("lines", "a claim must have at least one line");
  if (data.getPeriodEnd() > ctx.date()) {
    return Invalid("period_end", "the claim period ends " + FormatDate(data.getPeriodEnd()) +
                                     ", after the claim date " + FormatDate(ctx.date()));
  }
  EntityState claim = ctx.Create(EntityKind::CLAIM);
  claim.municipality_id = municipality_id;
  std::set<std::string> seen;
  int64_t total = 0;
  for (unsigned i = 0; i < lines.size(); ++i) {
    const std::string prefix = "lines[" + std::to_string(i) + "].";
    const std::string delivery_id = Str(lines[i].getDeliveryId());
    if (!seen.insert(delivery_id).second) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is claimed twice in this claim");
    }
    EntityState delivery;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::DELIVERY, delivery_id, prefix + "delivery_id", &delivery));
    if (delivery.voided) return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' was voided");
    if (delivery.created_on < data.getPeriodStart() || delivery.created_on > data.getPeriodEnd()) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' of " + FormatDate(delivery.created_on) +
                                                 " is outside the claim period " +
                                                 FormatDate(data.getPeriodStart()) + ".." +
                                                 FormatDate(data.getPeriodEnd()));
    }
    EntityState grant;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::GRANT, delivery.grant_id, prefix + "delivery_id", &grant));
    if (!BelongsToClaimant(ctx, grant.municipality_id, municipality_id)) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' was granted by municipality '" +
                                                 grant.municipality_id + "', not by '" + municipality_id +
                                                 "' or a predecessor");
    }
    if (!delivery.claim_id.empty()) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is already claimed in claim '" +
                                                 delivery.claim_id + "'");
    }
    DI_RETURN_IF_ERROR(NeedAmount(lines[i].getAmountCents(), prefix + "amount_cents", false));
    if (lines[i].getAmountCents() > delivery.cost_cents) {
      return Invalid(prefix + "amount_cents", "claims " + std::to_string(lines[i].getAmountCents()) +
                                                  " cents for delivery '" + delivery_id + "' that cost " +
                                                  std::to_string(delivery.cost_cents));
    }
    delivery.claim_id = claim_id;
    ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
    total += lines[i].getAmountCents();
    claim.claim_lines.emplace_back(delivery_id, lines[i].getAmountCents());
  }
  if (total != data.getTotalCents()) {
    return Invalid("total_cents", "is " + std::to_string(data.getTotalCents()) + " but the lines sum to " +
                                      std::to_string(total));
  }
  ctx.Put(EntityKind::CLAIM, claim_id, std::move(claim));
  ctx.SetStream("claim", claim_id);
  return Status::Ok();
}

Status ClaimReviewed(Context& ctx, schema::ClaimReviewed::Reader data) {
  const std::string claim_id = Str(data.getClaimId());
  EntityState claim;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::CLAIM, claim_id, "claim_id", &claim));
  if (claim.reviewed) return Invalid("claim_id", "claim '" + claim_id + "' is already reviewed");
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), claim.created_on, "the claim"));
  const auto lines = data.getLines();
  if (lines.size() != claim.claim_lines.size()) {
    return Invalid("lines", "the review has " + std::to_string(lines.size()) + " line(s); the claim has " +
                                std::to_string(claim.claim_lines.size()));
  }
  std::set<std::string> seen;
  int64_t approved_total = 0;
  for (unsigned i = 0; i < lines.size(); ++i) {
    const std::string prefix = "lines[" + std::to_string(i) + "].";
    const std::string delivery_id = Str(lines[i].getDeliveryId());
    auto claimed = std::find_if(claim.claim_lines.begin(), claim.claim_lines.end(),
                                [&](const auto& line) { return line.first == delivery_id; });
    if (claimed == claim.claim_lines.end()) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is not a line of claim '" + claim_id + "'");
    }
    if (!seen.insert(delivery_id).second) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is reviewed twice");
    }
    const int64_t approved = lines[i].getApprovedCents();
    DI_RETURN_IF_ERROR(NeedAmount(approved, prefix + "approved_cents", true));
    if (approved > claimed->second) {
      return Invalid(prefix + "approved_cents", std::to_string(approved) + " exceeds the claimed " +
                                                    std::to_string(claimed->second));
    }
    if (!lines[i].getAccepted() && approved != 0) {
      return Invalid(prefix + "approved_cents", "must be 0 for a rejected line");
    }
    if (lines[i].getAccepted() && approved == 0) {
      return Invalid(prefix + "approved_cents", "an accepted line approves more than 0 (reject it instead)");
    }
    if (!lines[i].getAccepted()) {
      // A rejected line frees its delivery: the municipality may claim it again (e.g. with evidence).
      EntityState delivery;
      if (ctx.Find(EntityKind::DELIVERY, delivery_id, &delivery) && delivery.claim_id == claim_id) {
        delivery.claim_id.clear();
        ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
      }
    }
    if ((!lines[i].getAccepted() || approved < claimed->second) && !lines[i].hasReason()) {
      return Invalid(prefix + "reason", "is required for a rejected or partly approved line");
    }
    approved_total += approved;
  }
  if (approved_total != data.getApprovedTotalCents()) {
    return Invalid("approved_total_cents", "is " + std::to_string(data.getApprovedTotalCents()) +
                                               " but the approved lines sum to " + std::to_string(approved_total));
  }
  claim.reviewed = true;
  claim.reviewed_on = ctx.date();
  claim.approved_total_cents = approved_total;
  ctx.Put(EntityKind::CLAIM, claim_id, std::move(claim));
  ctx.SetStream("claim", claim_id);
  return Status::Ok();
}

Status ReimbursementPaid(Context& ctx, schema::ReimbursementPaid::Reader data) {
  const std::string claim_id = Str(data.getClaimId());
  const std::string payment_id = Str(data.getPaymentId());
  EntityState claim;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::CLAIM, claim_id, "claim_id", &claim));
  if (!claim.reviewed) return Invalid("claim_id", "claim '" + claim_id + "' is not reviewed yet");
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), claim.reviewed_on, "the claim's review"));
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PAYMENT, payment_id, "payment_id"));
  DI_RETURN_IF_ERROR(CheckBudget(data.getAmountCents(), data.getEsfCents(), data.getStateCents(), "amount_cents",
                                 "esf_cents", "state_cents"));
  if (claim.paid_total_cents + data.getAmountCents() > claim.approved_total_cents) {
    return Invalid("amount_cents", "paying " + std::to_string(data.getAmountCents()) + " would bring claim '" +
                                       claim_id + "' to " + std::to_string(claim.paid_total_cents + data.getAmountCents()) +
                                       " cents paid, above the approved " + std::to_string(claim.approved_total_cents));
  }
  claim.paid_total_cents += data.getAmountCents();
  ctx.Put(EntityKind::CLAIM, claim_id, std::move(claim));
  ctx.Put(EntityKind::PAYMENT, payment_id, ctx.Create(EntityKind::PAYMENT));
  ctx.SetStream("claim", claim_id);
  return Status::Ok();
}

// Audit events (docs/audit.md). The store accepts them only from its own writer; these checks are the
// facts any such event must satisfy: it covers exactly the events before it, and it is well-formed and
// validly signed by the keys it names. Key continuity and the root itself are checked by the writer.
Status CheckSignedTreeHead(Context& ctx, schema::Event::Reader event, uint64_t tree_size) {
  SignedTreeHead head;
  const std::string problem = CheckAuditEvent(event, &head);
  if (!problem.empty()) return Invalid("signature", problem);
  if (tree_size != ctx.position() - 1) {
    return Invalid("tree_size", "must be " + std::to_string(ctx.position() - 1) +
                                    ": a signed tree head covers exactly the events before it");
  }
  return Status::Ok();
}

Status CheckpointSigned(Context& ctx, schema::Event::Reader event) {
  DI_RETURN_IF_ERROR(CheckSignedTreeHead(ctx, event, event.getPayload().getCheckpointSigned().getTreeSize()));
  ctx.SetStream("audit", "checkpoints");
  return Status::Ok();
}

Status SigningKeyRotated(Context& ctx, schema::Event::Reader event) {
  DI_RETURN_IF_ERROR(CheckSignedTreeHead(ctx, event, event.getPayload().getSigningKeyRotated().getTreeSize()));
  ctx.SetStream("audit", "signing_keys");
  return Status::Ok();
}

Status Dispatch(Context& ctx, schema::Event::Reader event) {
  const schema::Event::Payload::Reader payload = event.getPayload();
  using P = schema::Event::Payload;
  switch (payload.which()) {
    case P::PROJECT_REGISTERED: return ProjectRegistered(ctx, payload.getProjectRegistered());
    case P::BUDGET_AMENDED: return BudgetAmended(ctx, payload.getBudgetAmended());
    case P::PROJECT_EXPENSE_RECORDED: return ProjectExpenseRecorded(ctx, payload.getProjectExpenseRecorded());
    case P::MUNICIPALITY_REGISTERED: return MunicipalityRegistered(ctx, payload.getMunicipalityRegistered());
    case P::MUNICIPALITIES_MERGED: return MunicipalitiesMerged(ctx, payload.getMunicipalitiesMerged());
    case P::PROVIDER_REGISTERED: return ProviderRegistered(ctx, payload.getProviderRegistered());
    case P::PROVIDER_CONTRACTED: return ProviderContracted(ctx, payload.getProviderContracted());
    case P::RULES_ENACTED: return RulesEnacted(ctx, payload.getRulesEnacted());
    case P::PERSON_ENROLLED: return PersonEnrolled(ctx, payload.getPersonEnrolled());
    case P::RESIDENCE_CHANGED: return ResidenceChanged(ctx, payload.getResidenceChanged());
    case P::DISABILITY_RECORDED: return DisabilityRecorded(ctx, payload.getDisabilityRecorded());
    case P::SPECIAL_CARE_OPINION_RECORDED: return SpecialCareOpinionRecorded(ctx, payload.getSpecialCareOpinionRecorded());
    case P::PARENT_ACTIVITY_RECORDED: return ParentActivityRecorded(ctx, payload.getParentActivityRecorded());
    case P::NEEDS_ASSESSED: return NeedsAssessed(ctx, payload.getNeedsAssessed());
    case P::SUPPORT_PLAN_APPROVED: return SupportPlanApproved(ctx, payload.getSupportPlanApproved());
    case P::APPLICATION_SUBMITTED: return ApplicationSubmitted(ctx, payload.getApplicationSubmitted());
    case P::APPLICATION_DECIDED: return ApplicationDecided(ctx, payload.getApplicationDecided());
    case P::SERVICE_GRANTED: return ServiceGranted(ctx, payload.getServiceGranted());
    case P::GRANT_AMENDED: return GrantAmended(ctx, payload.getGrantAmended());
    case P::GRANT_ENDED: return GrantEnded(ctx, payload.getGrantEnded());
    case P::SERVICE_SUSPENDED: return ServiceSuspended(ctx, payload.getServiceSuspended());
    case P::SERVICE_RESUMED: return ServiceResumed(ctx, payload.getServiceResumed());
    case P::SERVICE_DELIVERED: return ServiceDelivered(ctx, payload.getServiceDelivered());
    case P::DELIVERY_CORRECTED: return DeliveryCorrected(ctx, payload.getDeliveryCorrected());
    case P::DELIVERY_VOIDED: return DeliveryVoided(ctx, payload.getDeliveryVoided());
    case P::REIMBURSEMENT_CLAIMED: return ReimbursementClaimed(ctx, payload.getReimbursementClaimed());
    case P::CLAIM_REVIEWED: return ClaimReviewed(ctx, payload.getClaimReviewed());
    case P::REIMBURSEMENT_PAID: return ReimbursementPaid(ctx, payload.getReimbursementPaid());
    case P::CHECKPOINT_SIGNED: return CheckpointSigned(ctx, event);
    case P::SIGNING_KEY_ROTATED: return SigningKeyRotated(ctx, event);
  }
  return Status::InvalidArgument("unknown event type (written by a newer schema?)", "type");
}

}  // namespace

Status ValidateEvent(schema::Event::Reader event, uint64_t position, EntityLookup& lookup, ValidatedEvent* out) {
  out->stream.clear();
  out->updates.clear();
  Context ctx(event, position, lookup, out);
  Status status = Dispatch(ctx, event);
  if (!status.ok()) return status.WithEventId(event.getId().cStr());
  // Every event type names its stream; an empty one would be a bug in this file.
  DI_ASSERT(!out->stream.empty());
  return Status::Ok();
}

std::string_view EntityKindName(EntityKind kind) {
  switch (kind) {
    case EntityKind::PROJECT: return "project";
    case EntityKind::MUNICIPALITY: return "municipality";
    case EntityKind::PROVIDER: return "provider";
    case EntityKind::CONTRACT: return "contract";
    case EntityKind::PERSON: return "person";
    case EntityKind::ASSESSMENT: return "assessment";
    case EntityKind::PLAN: return "support plan";
    case EntityKind::APPLICATION: return "application";
    case EntityKind::GRANT: return "grant";
    case EntityKind::DELIVERY: return "delivery";
    case EntityKind::CLAIM: return "claim";
    case EntityKind::PAYMENT: return "payment";
    case EntityKind::EXPENSE: return "expense";
  }
  return "entity";
}

std::string EncodeEntity(const EntityState& state) {
  // A record is ~40 words plus its ids and lists; the default first segment (8 KiB, zeroed) cost more than
  // the encoding. A bigger record grows into a second segment and canonicalize() below flattens it.
  capnp::MallocMessageBuilder message(128);
  auto record = message.initRoot<schema::EntityRecord>();
  record.setKind(state.kind);
  record.setCreatedAt(state.created_at);
  record.setCreatedOn(state.created_on);
  if (!state.person_id.empty()) record.setPersonId(state.person_id);
  if (!state.grant_id.empty()) record.setGrantId(state.grant_id);
  if (!state.municipality_id.empty()) record.setMunicipalityId(state.municipality_id);
  if (!state.merged_into.empty()) record.setMergedInto(state.merged_into);
  record.setTargetGroup(state.target_group);
  record.setBirthDate(state.birth_date);
  record.setValidFrom(state.valid_from);
  record.setValidUntil(state.valid_until);
  record.setEndedOn(state.ended_on);
  record.setSuspendedOn(state.suspended_on);
  record.setVoided(state.voided);
  record.setDecided(state.decided);
  record.setDecision(state.decision);
  if (!state.services.empty()) {
    auto services = record.initServices(static_cast<unsigned>(state.services.size()));
    for (unsigned i = 0; i < state.services.size(); ++i) services.set(i, state.services[i]);
  }
  record.setService(state.service);
  record.setCostBasis(state.cost_basis);
  record.setLastDate(state.last_date);
  if (!state.claim_lines.empty()) {
    auto lines = record.initClaimLines(static_cast<unsigned>(state.claim_lines.size()));
    for (unsigned i = 0; i < state.claim_lines.size(); ++i) {
      lines[i].setDeliveryId(state.claim_lines[i].first);
      lines[i].setAmountCents(state.claim_lines[i].second);
    }
  }
  record.setReviewed(state.reviewed);
  record.setApprovedTotalCents(state.approved_total_cents);
  record.setPaidTotalCents(state.paid_total_cents);
  record.setPeriodStart(state.period_start);
  record.setCostCents(state.cost_cents);
  if (!state.claim_id.empty()) record.setClaimId(state.claim_id);
  record.setReviewedOn(state.reviewed_on);
  const kj::Array<capnp::word> words = capnp::canonicalize(record.asReader());
  return std::string(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
}

bool DecodeEntity(std::string_view bytes, EntityState* state) {
  kj::Array<capnp::word> words = CopyToWords(bytes);
  if (words.size() == 0) return false;
  kj::ArrayPtr<const capnp::word> segment = words.asPtr();
  capnp::SegmentArrayMessageReader message(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(&segment, 1));
  auto record = message.getRoot<schema::EntityRecord>();
  state->kind = record.getKind();
  state->created_at = record.getCreatedAt();
  state->created_on = record.getCreatedOn();
  state->person_id = Str(record.getPersonId());
  state->grant_id = Str(record.getGrantId());
  state->municipality_id = Str(record.getMunicipalityId());
  state->merged_into = Str(record.getMergedInto());
  state->target_group = record.getTargetGroup();
  state->birth_date = record.getBirthDate();
  state->valid_from = record.getValidFrom();
  state->valid_until = record.getValidUntil();
  state->ended_on = record.getEndedOn();
  state->suspended_on = record.getSuspendedOn();
  state->voided = record.getVoided();
  state->decided = record.getDecided();
  state->decision = record.getDecision();
  state->services.clear();
  for (Service service : record.getServices()) state->services.push_back(service);
  state->service = record.getService();
  state->cost_basis = record.getCostBasis();
  state->last_date = record.getLastDate();
  state->claim_lines.clear();
  for (auto line : record.getClaimLines()) state->claim_lines.emplace_back(Str(line.getDeliveryId()), line.getAmountCents());
  state->reviewed = record.getReviewed();
  state->approved_total_cents = record.getApprovedTotalCents();
  state->paid_total_cents = record.getPaidTotalCents();
  state->period_start = record.getPeriodStart();
  state->cost_cents = record.getCostCents();
  state->claim_id = Str(record.getClaimId());
  state->reviewed_on = record.getReviewedOn();
  return true;
}

}  // namespace di::ledger
