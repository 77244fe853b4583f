#include "di/projections/ledger_model.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "di/ledger/capnp_text.h"
#include "di/ledger/catalog.h"
#include "di/ledger/json_codec.h"
#include "parsed_rules.h"

namespace di::projections {
namespace {
using ledger::Str;

TargetsVersion ReadTargets(capnp::List<schema::IndicatorTarget>::Reader targets, int32_t date, uint64_t position) {
  TargetsVersion version;
  version.from = date;
  version.position = position;
  for (auto target : targets) {
    version.targets.push_back({target.getIndicator(), target.getTargetGroup(), target.getCount()});
  }
  return version;
}
}  // namespace

const PersonFacts* LedgerModel::FindPerson(const std::string& id) const {
  auto it = persons_.find(id);
  return it == persons_.end() ? nullptr : &it->second;
}

const GrantFacts* LedgerModel::FindGrant(const std::string& id) const {
  auto it = grants_.find(id);
  return it == grants_.end() ? nullptr : &it->second;
}

const std::string& PersonFacts::ResidenceOn(int32_t date) const {
  return ResidenceInForce(residences, residence_municipality_id, date);
}

const std::string& ResidenceInForce(const std::vector<std::pair<int32_t, std::string>>& residences,
                                    const std::string& last_recorded, int32_t date) {
  if (residences.empty()) return last_recorded;
  const std::pair<int32_t, std::string>* in_force = &residences.front();
  for (const auto& residence : residences) {
    if (residence.first <= date && (in_force->first > date || residence.first >= in_force->first)) in_force = &residence;
  }
  return in_force->second;
}

// Amendments are in force from their effective date, also one dated before the grant starts (it then
// governs from the start): the search starts below every date, not at valid_from.
int64_t GrantFacts::QuantityOn(int32_t date) const {
  int64_t in_force = quantity;
  int32_t in_force_from = ledger::kNoDate;
  for (const auto& [from, amended] : quantity_changes) {
    if (from <= date && from >= in_force_from) {
      in_force = amended;
      in_force_from = from;
    }
  }
  return in_force;
}

int64_t GrantFacts::UnitCostOn(int32_t date) const {
  int64_t in_force = unit_cost_cents;
  int32_t in_force_from = ledger::kNoDate;
  for (const auto& [from, amended] : unit_cost_changes) {
    if (from <= date && from >= in_force_from) {
      in_force = amended;
      in_force_from = from;
    }
  }
  return in_force;
}

namespace {

const std::vector<std::string>& IdsIn(const std::map<std::string, std::vector<std::string>>& index,
                                      const std::string& key) {
  static const std::vector<std::string> kNone;
  auto it = index.find(key);
  return it == index.end() ? kNone : it->second;
}

// Inserts `id` keeping the list sorted and free of duplicates (ids mostly arrive in ascending order: O(1)).
void InsertSorted(std::vector<std::string>* ids, const std::string& id) {
  if (ids->empty() || ids->back() < id) {
    ids->push_back(id);
    return;
  }
  auto at = std::lower_bound(ids->begin(), ids->end(), id);
  if (at == ids->end() || *at != id) ids->insert(at, id);
}

void EraseSorted(std::vector<std::string>* ids, const std::string& id) {
  auto at = std::lower_bound(ids->begin(), ids->end(), id);
  if (at != ids->end() && *at == id) ids->erase(at);
}

}  // namespace

const std::vector<std::string>& LedgerModel::GrantsOfPerson(const std::string& person_id) const {
  return IdsIn(grants_of_person_, person_id);
}

const std::vector<std::string>& LedgerModel::DeliveriesOfGrant(const std::string& grant_id) const {
  return IdsIn(deliveries_of_grant_, grant_id);
}

void LedgerModel::IndexGrant(const std::string& person_id, const std::string& grant_id) {
  InsertSorted(&grants_of_person_[person_id], grant_id);
}

void LedgerModel::IndexDelivery(const std::string& grant_id, const std::string& delivery_id) {
  InsertSorted(&deliveries_of_grant_[grant_id], delivery_id);
}

void LedgerModel::RebuildIndexes() {
  grants_of_person_.clear();
  deliveries_of_grant_.clear();
  for (const auto& [id, grant] : grants_) {
    if (!grant.person_id.empty()) IndexGrant(grant.person_id, id);
  }
  for (const auto& [id, delivery] : deliveries_) {
    if (delivery.position != 0) IndexDelivery(delivery.grant_id, id);
  }
}

std::string LedgerModel::FamilyOf(const std::string& person_id) const {
  const std::set<std::string> seen = FamilyMembers(person_id);
  // Named after its smallest representative (a parent), or the person when nobody represents anyone.
  for (const std::string& id : seen) {
    const PersonFacts* member = FindPerson(id);
    if (member != nullptr && !member->represented_child_ids.empty()) return id;
  }
  return *seen.begin();
}

std::set<std::string> LedgerModel::FamilyMembers(const std::string& person_id) const {
  // Breadth-first over representation links; bounded because families are small and the graph is finite.
  std::set<std::string> seen = {person_id};
  std::vector<std::string> frontier = {person_id};
  constexpr size_t kMaxFamily = 64;
  while (!frontier.empty() && seen.size() < kMaxFamily) {
    std::vector<std::string> next;
    for (const std::string& id : frontier) {
      const PersonFacts* person = FindPerson(id);
      if (person == nullptr) continue;
      for (const auto* links : {&person->representative_ids, &person->represented_child_ids}) {
        for (const std::string& linked : *links) {
          if (seen.insert(linked).second) next.push_back(linked);
        }
      }
    }
    frontier = std::move(next);
  }
  return seen;
}

bool LedgerModel::AssessedBy(const std::string& person_id, int32_t date) const {
  const PersonFacts* person = FindPerson(person_id);
  if (person == nullptr) return false;
  return std::any_of(person->assessment_dates.begin(), person->assessment_dates.end(),
                     [&](int32_t assessed_on) { return assessed_on <= date; });
}

std::string LedgerModel::TerritoryOf(const std::string& id) const {
  std::string current = id;
  for (int step = 0; step < ledger::kMaxMergerSteps; ++step) {
    auto it = municipalities_.find(current);
    if (it == municipalities_.end() || it->second.merged_into.empty()) return current;
    current = it->second.merged_into;
  }
  return current;
}

namespace {
// Keeps the earliest of the dates a fact was recorded for (a repeated record does not move it later).
void FirstDay(int32_t* day, int32_t date) {
  if (*day == ledger::kNoDate || date < *day) *day = date;
}
}  // namespace

void LedgerModel::Apply(const ledger::StoredEvent& stored) {
  const auto recorded = stored.reader();
  const uint64_t position = recorded.getPosition();
  last_position_ = position;
  const auto event = recorded.getEvent();
  const int32_t date = event.getEffectiveDate();
  const auto payload = event.getPayload();
  using P = schema::Event::Payload;
  switch (payload.which()) {
    case P::PERSON_ENROLLED: return ApplyPersonEnrolled(payload.getPersonEnrolled(), date);
    case P::RESIDENCE_CHANGED: return ApplyResidenceChanged(payload.getResidenceChanged(), date);
    case P::DISABILITY_RECORDED: return ApplyDisabilityRecorded(payload.getDisabilityRecorded(), position);
    case P::SPECIAL_CARE_OPINION_RECORDED:
      return ApplySpecialCareOpinionRecorded(payload.getSpecialCareOpinionRecorded(), position);
    case P::PARENT_ACTIVITY_RECORDED: return ApplyParentActivityRecorded(payload.getParentActivityRecorded(), position);
    case P::NEEDS_ASSESSED: return ApplyNeedsAssessed(payload.getNeedsAssessed(), date);
    case P::SUPPORT_PLAN_APPROVED: return ApplySupportPlanApproved(payload.getSupportPlanApproved(), date);
    case P::TRANSITION_PREPARED:
      return FirstDay(&persons_[Str(payload.getTransitionPrepared().getPersonId())].prepared_for_transition_on, date);
    case P::INDEPENDENT_LIFE_STARTED:
      return FirstDay(&persons_[Str(payload.getIndependentLifeStarted().getPersonId())].independent_life_from, date);
    case P::SERVICE_GRANTED: return ApplyServiceGranted(payload.getServiceGranted(), position);
    case P::GRANT_AMENDED: return ApplyGrantAmended(payload.getGrantAmended(), date, position);
    case P::GRANT_ENDED: return ApplyGrantEnded(payload.getGrantEnded(), date, position);
    case P::SERVICE_SUSPENDED: return ApplyServiceSuspended(payload.getServiceSuspended(), date, position);
    case P::SERVICE_RESUMED: return ApplyServiceResumed(payload.getServiceResumed(), date, position);
    case P::SERVICE_DELIVERED: return ApplyServiceDelivered(payload.getServiceDelivered(), date, position);
    case P::DELIVERY_CORRECTED: return ApplyDeliveryCorrected(payload.getDeliveryCorrected(), position);
    case P::DELIVERY_VOIDED: return ApplyDeliveryVoided(payload.getDeliveryVoided(), position);
    case P::RULES_ENACTED: return ApplyRulesEnacted(payload.getRulesEnacted(), position);
    case P::PROVIDER_CLOSED: return ApplyProviderClosed(payload.getProviderClosed(), date, position);
    case P::PROVIDER_REOPENED: return ApplyProviderReopened(payload.getProviderReopened(), date);
    case P::PROJECT_REGISTERED: return ApplyProjectRegistered(payload.getProjectRegistered(), date, position);
    case P::BUDGET_AMENDED: return ApplyBudgetAmended(payload.getBudgetAmended(), date, position);
    case P::PROJECT_EXPENSE_RECORDED: return ApplyProjectExpenseRecorded(payload.getProjectExpenseRecorded());
    case P::MUNICIPALITY_REGISTERED: return ApplyMunicipalityRegistered(payload.getMunicipalityRegistered(), date);
    case P::PARTNER_JOINED: return ApplyPartnerJoined(payload.getPartnerJoined(), date, position);
    case P::PARTNER_LEFT: return ApplyPartnerLeft(payload.getPartnerLeft(), date, position);
    case P::PROJECT_ACTIVITY_HELD: return ApplyProjectActivityHeld(payload.getProjectActivityHeld(), position);
    case P::PROVIDER_REGISTERED: {
      ProviderFacts& provider = providers_[Str(payload.getProviderRegistered().getProviderId())];
      provider.id = Str(payload.getProviderRegistered().getProviderId());
      provider.name = Str(payload.getProviderRegistered().getName());
      return;
    }
    case P::MUNICIPALITIES_MERGED: return ApplyMunicipalitiesMerged(payload.getMunicipalitiesMerged(), date);
    case P::REIMBURSEMENT_CLAIMED: return ApplyReimbursementClaimed(payload.getReimbursementClaimed(), date, position);
    case P::CLAIM_REVIEWED: return ApplyClaimReviewed(payload.getClaimReviewed(), date, position);
    case P::REIMBURSEMENT_PAID: return ApplyReimbursementPaid(payload.getReimbursementPaid(), date, position);
    default:
      return;  // provider contracts, applications: not needed by these projections
  }
}

void LedgerModel::ApplyPersonEnrolled(schema::PersonEnrolled::Reader data, int32_t date) {
  PersonFacts& person = persons_[Str(data.getPersonId())];
  person.id = Str(data.getPersonId());
  person.enrolled = true;
  person.target_group = data.getTargetGroup();
  person.birth_date = data.getBirthDate();
  person.residence_municipality_id = Str(data.getResidenceMunicipalityId());
  person.enrolled_on = date;
  person.residences.emplace_back(date, person.residence_municipality_id);
  person.project_id = Str(data.getProjectId());
  if (data.hasRepresentative()) {
    for (auto child : data.getRepresentative().getChildIds()) {
      person.represented_child_ids.push_back(Str(child));
      persons_[Str(child)].representative_ids.push_back(person.id);
    }
  }
}

void LedgerModel::ApplyResidenceChanged(schema::ResidenceChanged::Reader data, int32_t date) {
  PersonFacts& person = persons_[Str(data.getPersonId())];
  person.residence_municipality_id = Str(data.getMunicipalityId());
  person.residences.emplace_back(date, person.residence_municipality_id);
}

void LedgerModel::ApplyDisabilityRecorded(schema::DisabilityRecorded::Reader data, uint64_t position) {
  persons_[Str(data.getPersonId())].disabilities.push_back(
      {data.getGroup(), data.getValidFrom(), data.getValidUntil(), position});
}

void LedgerModel::ApplySpecialCareOpinionRecorded(schema::SpecialCareOpinionRecorded::Reader data, uint64_t position) {
  persons_[Str(data.getPersonId())].special_care_opinions.push_back(
      {true, data.getValidFrom(), data.getValidUntil(), position});
}

void LedgerModel::ApplyParentActivityRecorded(schema::ParentActivityRecorded::Reader data, uint64_t position) {
  persons_[Str(data.getPersonId())].parent_activities.push_back(
      {data.getActivity(), data.getValidFrom(), data.getValidUntil(), position});
}

void LedgerModel::ApplyNeedsAssessed(schema::NeedsAssessed::Reader data, int32_t date) {
  assessment_person_[Str(data.getAssessmentId())] = Str(data.getPersonId());
  persons_[Str(data.getPersonId())].assessed = true;
  persons_[Str(data.getPersonId())].assessment_dates.push_back(date);
}

void LedgerModel::ApplySupportPlanApproved(schema::SupportPlanApproved::Reader data, int32_t date) {
  PlanFacts& plan = plans_[Str(data.getPlanId())];
  plan.id = Str(data.getPlanId());
  plan.person_id = Str(data.getPersonId());
  plan.approved_on = date;
  for (auto service : data.getRecommendedServices()) plan.services.push_back(service);
  plan.valid_from = data.getValidFrom();
  plan.valid_until = data.getValidUntil();
  persons_[plan.person_id].plan_ids.push_back(plan.id);
}

void LedgerModel::ApplyServiceGranted(schema::ServiceGranted::Reader data, uint64_t position) {
  GrantFacts& grant = grants_[Str(data.getGrantId())];
  grant.id = Str(data.getGrantId());
  // The ledger refuses a second grant with the same id; the model stays consistent regardless.
  if (!grant.person_id.empty()) EraseSorted(&grants_of_person_[grant.person_id], grant.id);
  grant.person_id = Str(data.getPersonId());
  IndexGrant(grant.person_id, grant.id);
  grant.municipality_id = Str(data.getMunicipalityId());
  grant.service = data.getService();
  grant.quantity = data.getQuantity();
  grant.period = data.getPeriod();
  grant.valid_from = data.getValidFrom();
  grant.valid_until = data.getValidUntil();
  grant.cost_basis = data.getCostBasis();
  grant.project_id = Str(data.getProjectId());
  grant.unit_cost_cents = data.getUnitCostCents();
  grant.provider_id = data.hasProviderId() ? Str(data.getProviderId()) : std::string();
  grant.positions.push_back(position);
}

void LedgerModel::ApplyGrantAmended(schema::GrantAmended::Reader data, int32_t date, uint64_t position) {
  GrantFacts& grant = grants_[Str(data.getGrantId())];
  if (data.getQuantity() != 0) grant.quantity_changes.emplace_back(date, data.getQuantity());
  if (data.getValidUntil() != ledger::kNoDate) grant.valid_until = data.getValidUntil();
  if (data.getUnitCostCents() != 0) grant.unit_cost_changes.emplace_back(date, data.getUnitCostCents());
  if (data.hasProviderId()) grant.provider_id = Str(data.getProviderId());  // as amended (entitlements name it)
  grant.positions.push_back(position);
}

void LedgerModel::ApplyGrantEnded(schema::GrantEnded::Reader data, int32_t date, uint64_t position) {
  GrantFacts& grant = grants_[Str(data.getGrantId())];
  grant.ended_on = date;
  grant.positions.push_back(position);
}

void LedgerModel::ApplyServiceSuspended(schema::ServiceSuspended::Reader data, int32_t date, uint64_t position) {
  GrantFacts& grant = grants_[Str(data.getGrantId())];
  grant.suspensions.emplace_back(date, ledger::kNoDate);
  grant.positions.push_back(position);
}

void LedgerModel::ApplyServiceResumed(schema::ServiceResumed::Reader data, int32_t date, uint64_t position) {
  GrantFacts& grant = grants_[Str(data.getGrantId())];
  // Resumed on `date`: the suspension covered the days before it.
  if (!grant.suspensions.empty() && grant.suspensions.back().second == ledger::kNoDate) {
    grant.suspensions.back().second = date - 1;
  }
  grant.positions.push_back(position);
}

void LedgerModel::ApplyServiceDelivered(schema::ServiceDelivered::Reader data, int32_t date, uint64_t position) {
  DeliveryFacts& delivery = deliveries_[Str(data.getDeliveryId())];
  delivery.id = Str(data.getDeliveryId());
  if (delivery.position != 0) EraseSorted(&deliveries_of_grant_[delivery.grant_id], delivery.id);
  delivery.grant_id = Str(data.getGrantId());
  IndexDelivery(delivery.grant_id, delivery.id);
  delivery.provider_id = Str(data.getProviderId());
  delivery.date = date;
  delivery.last_date = data.getLastDate() == ledger::kNoDate ? date : data.getLastDate();
  delivery.quantity = data.getQuantity();
  delivery.cost_cents = data.getCostCents();
  delivery.purpose = data.getPurpose();
  delivery.mode = data.getMode();
  delivery.kind = data.hasKind() ? Str(data.getKind()) : std::string();
  delivery.position = position;
}

void LedgerModel::ApplyDeliveryCorrected(schema::DeliveryCorrected::Reader data, uint64_t position) {
  DeliveryFacts& delivery = deliveries_[Str(data.getDeliveryId())];
  delivery.quantity = data.getQuantity();
  delivery.cost_cents = data.getCostCents();
  if (data.getPurpose() != schema::DeliveryPurpose::UNSPECIFIED) delivery.purpose = data.getPurpose();
  if (data.hasKind()) delivery.kind = Str(data.getKind());
  delivery.correction_positions.push_back(position);
}

void LedgerModel::ApplyDeliveryVoided(schema::DeliveryVoided::Reader data, uint64_t position) {
  DeliveryFacts& delivery = deliveries_[Str(data.getDeliveryId())];
  delivery.voided = true;
  delivery.correction_positions.push_back(position);
}

namespace internal {

Status ParsedRuleSet(std::string_view document_text, std::shared_ptr<const RuleSet>* out) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const RuleSet>, std::less<>> parsed;
  {
    std::lock_guard lock(mutex);
    if (auto found = parsed.find(document_text); found != parsed.end()) {
      *out = found->second;
      return Status::Ok();
    }
  }
  nlohmann::json document;
  auto rule_set = std::make_shared<RuleSet>();
  DI_RETURN_IF_ERROR(ledger::ParseJson(document_text, "document", &document));
  DI_RETURN_IF_ERROR(ParseRuleSet(document, rule_set.get()));
  std::lock_guard lock(mutex);
  if (parsed.size() >= kParsedRuleSetsKept) parsed.erase(parsed.begin());
  *out = parsed.emplace(std::string(document_text), std::move(rule_set)).first->second;
  return Status::Ok();
}

}  // namespace internal

void LedgerModel::ApplyRulesEnacted(schema::RulesEnacted::Reader data, uint64_t position) {
  const auto text = data.getDocument();
  std::shared_ptr<const RuleSet> rule_set;
  Status status = internal::ParsedRuleSet(std::string_view(text.begin(), text.size()), &rule_set);
  auto apply = [&](RulesInForce& scope) {
    if (status.ok()) {
      scope.rules = rule_set;
      scope.position = position;
      scope.document.assign(text.begin(), text.end());
      scope.problem.clear();
    } else {
      // A document that does not parse is a recorded fact too; the previous rules stay in force.
      scope.problem = "rules at position " + std::to_string(position) + " ignored: " + status.ToString();
    }
  };
  if (!data.hasProjectIds()) return apply(general_rules_);
  for (const auto project_id : data.getProjectIds()) apply(project_rules_[Str(project_id)]);
}

void LedgerModel::ApplyProviderClosed(schema::ProviderClosed::Reader data, int32_t date, uint64_t position) {
  ProviderFacts& provider = providers_[Str(data.getProviderId())];
  provider.id = Str(data.getProviderId());
  ClosureFacts& closure = provider.closures.emplace_back();
  closure.from = date;
  for (const auto service : data.getServices()) closure.services.push_back(service);
  closure.reason = Str(data.getReason());
  closure.position = position;
}

void LedgerModel::ApplyProviderReopened(schema::ProviderReopened::Reader data, int32_t date) {
  auto provider = providers_.find(Str(data.getProviderId()));
  // The ledger refuses a reopening of a provider not closed; the model stays consistent regardless.
  if (provider == providers_.end() || provider->second.closures.empty()) return;
  ClosureFacts& closure = provider->second.closures.back();
  if (closure.until == ledger::kNoDate) closure.until = date - 1;
}

const ClosureFacts* LedgerModel::ClosureOn(const std::string& provider_id, schema::Service service,
                                           int32_t date) const {
  if (providers_.empty()) return nullptr;  // the common case: no provider was ever closed
  auto provider = providers_.find(provider_id);
  if (provider == providers_.end()) return nullptr;
  for (const ClosureFacts& closure : provider->second.closures) {
    if (closure.Covers(service, date)) return &closure;
  }
  return nullptr;
}

const RuleSet* LedgerModel::RulesOfProject(const std::string& project_id) const {
  if (auto own = project_rules_.find(project_id); own != project_rules_.end() && own->second.rules != nullptr) {
    return own->second.rules.get();
  }
  return general_rules_.rules.get();
}

const std::string& LedgerModel::RulesProblemOfProject(const std::string& project_id) const {
  auto own = project_rules_.find(project_id);
  if (own == project_rules_.end()) return general_rules_.problem;
  // A project with rules of its own is not concerned by a general document that failed; one without them is.
  if (!own->second.problem.empty() || own->second.rules != nullptr) return own->second.problem;
  return general_rules_.problem;
}

const std::string& LedgerModel::ProjectOfGrant(const GrantFacts& grant) const {
  static const std::string kNone;
  if (!grant.project_id.empty()) return grant.project_id;  // a grant names the project that pays it, or
  auto municipality = municipalities_.find(grant.municipality_id);  // its municipality's own project pays
  return municipality == municipalities_.end() ? kNone : municipality->second.project_id;
}

void LedgerModel::ApplyProjectRegistered(schema::ProjectRegistered::Reader data, int32_t date, uint64_t position) {
  ProjectFacts& project = projects_[Str(data.getProjectId())];
  project.id = Str(data.getProjectId());
  project.name = Str(data.getName());
  project.services_paid_until = data.getServicesPaidUntil();
  if (data.getBudgetTotalCents() != 0) {  // else not known yet: a budget_amended states it
    project.budgets.push_back(
        {date, data.getBudgetTotalCents(), data.getBudgetEsfCents(), data.getBudgetStateCents(), position});
  }
  if (data.hasTargets()) project.targets.push_back(ReadTargets(data.getTargets(), date, position));
}

void LedgerModel::ApplyBudgetAmended(schema::BudgetAmended::Reader data, int32_t date, uint64_t position) {
  ProjectFacts& project = projects_[Str(data.getProjectId())];
  project.budgets.push_back({date, data.getTotalCents(), data.getEsfCents(), data.getStateCents(), position});
  // Targets in an amendment replace the earlier ones from its date on.
  if (data.hasTargets()) project.targets.push_back(ReadTargets(data.getTargets(), date, position));
}

void LedgerModel::ApplyProjectExpenseRecorded(schema::ProjectExpenseRecorded::Reader data) {
  projects_[Str(data.getProjectId())].expenses_cents += data.getAmountCents();
}

void LedgerModel::ApplyMunicipalityRegistered(schema::MunicipalityRegistered::Reader data, int32_t date) {
  MunicipalityFacts& municipality = municipalities_[Str(data.getMunicipalityId())];
  municipality.id = Str(data.getMunicipalityId());
  municipality.registered_on = date;
  municipality.name = Str(data.getName());
  municipality.project_id = Str(data.getProjectId());
}

void LedgerModel::ApplyPartnerJoined(schema::PartnerJoined::Reader data, int32_t date, uint64_t position) {
  ProjectFacts& project = projects_[Str(data.getProjectId())];
  PartnershipFacts& partnership = project.partnerships.emplace_back();
  partnership.partner_id = Str(data.getPartnerId());
  partnership.kind = data.getKind();
  for (const auto branch : data.getBranches()) partnership.branches.push_back(Str(branch));
  partnership.note = Str(data.getNote());
  partnership.from = date;
  partnership.positions.push_back(position);
}

void LedgerModel::ApplyPartnerLeft(schema::PartnerLeft::Reader data, int32_t date, uint64_t position) {
  ProjectFacts& project = projects_[Str(data.getProjectId())];
  const std::string partner_id = Str(data.getPartnerId());
  auto open = std::find_if(project.partnerships.rbegin(), project.partnerships.rend(), [&](const PartnershipFacts& p) {
    return p.partner_id == partner_id && p.until == ledger::kNoDate;
  });
  PartnershipFacts* partnership = open == project.partnerships.rend() ? nullptr : &*open;
  if (partnership == nullptr) {  // a municipality registered with the project leaves it
    partnership = &project.partnerships.emplace_back();
    partnership->partner_id = partner_id;
  }
  partnership->until = date;
  partnership->reason = Str(data.getReason());
  partnership->positions.push_back(position);
}

void LedgerModel::ApplyProjectActivityHeld(schema::ProjectActivityHeld::Reader data, uint64_t position) {
  ActivityFacts& activity = projects_[Str(data.getProjectId())].activities[Str(data.getActivityId())];
  activity.id = Str(data.getActivityId());
  activity.kind = data.getKind();
  activity.title = Str(data.getTitle());
  activity.first_date = data.getFirstDate();
  activity.last_date = data.getLastDate();
  activity.participants = data.getParticipants();
  activity.venue = Str(data.getVenue());
  activity.note = Str(data.getNote());
  activity.positions.push_back(position);
}

void LedgerModel::ApplyMunicipalitiesMerged(schema::MunicipalitiesMerged::Reader data, int32_t date) {
  MunicipalityFacts& successor = municipalities_[Str(data.getSuccessorId())];
  successor.id = Str(data.getSuccessorId());
  successor.name = Str(data.getSuccessorName());
  successor.project_id = Str(data.getProjectId());
  successor.registered_on = date;
  for (auto predecessor : data.getPredecessorIds()) {
    MunicipalityFacts& merged = municipalities_[Str(predecessor)];
    merged.merged_into = successor.id;
    merged.merged_on = date;
  }
}

void LedgerModel::ApplyReimbursementClaimed(schema::ReimbursementClaimed::Reader data, int32_t date,
                                            uint64_t position) {
  ClaimFacts& claim = claims_[Str(data.getClaimId())];
  claim.id = Str(data.getClaimId());
  claim.project_id = Str(data.getProjectId());
  claim.municipality_id = Str(data.getMunicipalityId());
  claim.date = date;
  claim.period_start = data.getPeriodStart();
  claim.period_end = data.getPeriodEnd();
  for (auto line : data.getLines()) claim.lines.emplace_back(Str(line.getDeliveryId()), line.getAmountCents());
  claim.positions.push_back(position);
}

void LedgerModel::ApplyClaimReviewed(schema::ClaimReviewed::Reader data, int32_t date, uint64_t position) {
  ClaimFacts& claim = claims_[Str(data.getClaimId())];
  claim.reviewed = true;
  claim.reviewed_on = date;
  for (auto line : data.getLines()) {
    claim.approved[Str(line.getDeliveryId())] = line.getApprovedCents();
    if (line.hasReason()) claim.review_reasons[Str(line.getDeliveryId())] = Str(line.getReason());
  }
  claim.positions.push_back(position);
}

void LedgerModel::ApplyReimbursementPaid(schema::ReimbursementPaid::Reader data, int32_t date, uint64_t position) {
  ClaimFacts& claim = claims_[Str(data.getClaimId())];
  claim.payments.push_back({Str(data.getPaymentId()), date, data.getAmountCents(), data.getEsfCents(),
                            data.getStateCents(), position});
  claim.positions.push_back(position);
}

}  // namespace di::projections
