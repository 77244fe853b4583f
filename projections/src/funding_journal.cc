#include "di/projections/funding_journal.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "di/ledger/invariant.h"
#include "di/projections/journal_funding.h"

namespace di::projections {

namespace {
void AddFigures(FundingFigures* to, const FundingFigures& from, int64_t sign) {
  to->deliveries += sign * from.deliveries;
  to->delivered_cents += sign * from.delivered_cents;
  to->eligible_cents += sign * from.eligible_cents;
  to->claimed_cents += sign * from.claimed_cents;
  to->approved_cents += sign * from.approved_cents;
  to->approved_esf_cents += sign * from.approved_esf_cents;
  to->approved_state_cents += sign * from.approved_state_cents;
  to->paid_cents += sign * from.paid_cents;
  to->paid_esf_cents += sign * from.paid_esf_cents;
  to->paid_state_cents += sign * from.paid_state_cents;
}
}  // namespace

void CellFigures::Add(const CellFigures& other) {
  AddFigures(&figures, other.figures, 1);
  presence += other.presence;
}

void CellFigures::Subtract(const CellFigures& other) {
  AddFigures(&figures, other.figures, -1);
  presence -= other.presence;
}

FundingContextChange ContextChangeOf(const LedgerModel& model, const ledger::StoredEvent& event) {
  FundingContextChange change;
  const auto payload = event.reader().getEvent().getPayload();
  using P = schema::Event::Payload;
  auto project = [&](const std::string& id) {
    if (auto found = model.projects().find(id); found != model.projects().end()) {
      change.projects.emplace_back(id, found->second.budgets);
    }
  };
  auto claim = [&](const std::string& id) {
    if (auto found = model.claims().find(id); found != model.claims().end()) {
      change.claims.emplace_back(id, ClaimApprovalOf(found->second));
    }
  };
  switch (payload.which()) {
    case P::PROJECT_REGISTERED: project(payload.getProjectRegistered().getProjectId().cStr()); break;
    case P::BUDGET_AMENDED: project(payload.getBudgetAmended().getProjectId().cStr()); break;
    case P::PROJECT_EXPENSE_RECORDED: project(payload.getProjectExpenseRecorded().getProjectId().cStr()); break;
    case P::MUNICIPALITY_REGISTERED:
    case P::MUNICIPALITIES_MERGED:  // registers the successor, and a predecessor never registered before
      for (const auto& [id, municipality] : model.municipalities()) change.municipalities.push_back(id);
      break;
    case P::REIMBURSEMENT_CLAIMED: claim(payload.getReimbursementClaimed().getClaimId().cStr()); break;
    case P::CLAIM_REVIEWED: claim(payload.getClaimReviewed().getClaimId().cStr()); break;
    case P::REIMBURSEMENT_PAID: claim(payload.getReimbursementPaid().getClaimId().cStr()); break;
    default: break;
  }
  return change;
}

void ApplyContextChange(FundingContextChange change, FundingContext* context) {
  for (auto& [id, versions] : change.projects) context->projects[id] = std::move(versions);
  for (auto& id : change.municipalities) context->municipalities.insert(std::move(id));
  for (auto& [id, claim] : change.claims) context->claims[id] = std::move(claim);
}

void FundingJournal::Reset(const LedgerModel& model) {
  *this = FundingJournal{};
  context_ = FundingContextOf(model);
  for (const auto& [id, grant] : model.grants()) grant_validity_.emplace(id, ValidityOf(grant));
  RefreshAll(model);
  pending_.clear();
  pending_usage_.clear();
  pending_lines_.clear();
  pending_members_.clear();
  moves_.clear();
  position_ = model.last_position();
}

namespace {

// What an event can change in the funding figures, and from which valid date on.
struct Reach {
  enum Kind {
    kNothing,       // no figure reads it (applications, residences, providers, expenses, a new grant...)
    kDelivery,      // a delivery recorded, corrected or voided: `id`
    kFamilyFrom,    // a fact of person `id` in force from `from_date`: the family's deliveries reaching that date
    kFamily,        // a fact that can reach any date, or a representation link: the family of person `id`, re-partitioned
    kClaim,         // claim `id`
    kProjectClaims, // the budget of project `id`: its claims' splits
    kCells,         // a municipality or a merger: the project or territory of cells, no decision
    kRulesOfProjects,  // rules for the projects the event names: the families holding a grant in one of them
    kProviderFrom,  // provider `id` closed or reopened from `from_date`: the families of its deliveries reaching it
    kEverything,    // rules for every project without its own
  } kind = kNothing;
  std::string id;
  int32_t from_date = ledger::kNoDate;
};

int32_t EarlierOf(int32_t effective_date, int32_t valid_from) { return std::min(effective_date, valid_from); }

Reach PersonReach(schema::Event::Payload::Reader payload, int32_t date, std::string person_id) {
  using P = schema::Event::Payload;
  switch (payload.which()) {
    case P::RESIDENCE_CHANGED:
    case P::APPLICATION_SUBMITTED:
    case P::APPLICATION_DECIDED: return {};
    case P::DISABILITY_RECORDED:
      return {Reach::kFamilyFrom, person_id, EarlierOf(date, payload.getDisabilityRecorded().getValidFrom())};
    case P::SPECIAL_CARE_OPINION_RECORDED:
      return {Reach::kFamilyFrom, person_id, EarlierOf(date, payload.getSpecialCareOpinionRecorded().getValidFrom())};
    case P::PARENT_ACTIVITY_RECORDED:
      return {Reach::kFamilyFrom, person_id, EarlierOf(date, payload.getParentActivityRecorded().getValidFrom())};
    case P::SUPPORT_PLAN_APPROVED:
      return {Reach::kFamilyFrom, person_id, EarlierOf(date, payload.getSupportPlanApproved().getValidFrom())};
    case P::NEEDS_ASSESSED: return {Reach::kFamilyFrom, person_id, date};  // assessed by its effective date
    case P::TRANSITION_PREPARED:
    case P::INDEPENDENT_LIFE_STARTED:
      // Indicators only: the person's member record is refreshed as for every person event.
      return {Reach::kNothing, {}};
    default: return {Reach::kFamily, person_id};  // an enrolment: group, birth date, representation
  }
}

// The first day whose decisions a grant's new validity can change, given the validity its deliveries were decided
// under (`seen`): the day after the earlier last day (deliveries between the two last days change side); for a
// quantity per validity window, the grant's first day (the window is the validity).
int32_t FirstDayOfNewValidity(const GrantFacts& grant, const FundingJournal::GrantValidity& seen) {
  if (grant.period == schema::Period::GRANT_PERIOD && seen.valid_until != grant.valid_until) return grant.valid_from;
  const int32_t earlier = std::min(seen.last_day, grant.LastDay());
  return earlier == ledger::kNoDate ? ledger::kNoDate : earlier + 1;
}

Reach GrantReach(schema::Event::Payload::Reader payload, int32_t date, const GrantFacts* grant,
                 const std::optional<FundingJournal::GrantValidity>& seen) {
  using P = schema::Event::Payload;
  switch (payload.which()) {
    case P::SERVICE_DELIVERED: return {Reach::kDelivery, payload.getServiceDelivered().getDeliveryId().cStr()};
    case P::DELIVERY_CORRECTED: return {Reach::kDelivery, payload.getDeliveryCorrected().getDeliveryId().cStr()};
    case P::DELIVERY_VOIDED: return {Reach::kDelivery, payload.getDeliveryVoided().getDeliveryId().cStr()};
    case P::SERVICE_GRANTED: return {};  // no delivery of it yet, and no other delivery reads it
    default: break;
  }
  if (grant == nullptr) return {};
  switch (payload.which()) {
    // Quantity and unit rate amendments are in force from their effective date; a suspension from it; a resumption
    // ends the suspension the day before it.
    case P::SERVICE_SUSPENDED:
    case P::SERVICE_RESUMED: return {Reach::kFamilyFrom, grant->person_id, date};
    case P::GRANT_AMENDED: {
      const auto amended = payload.getGrantAmended();
      if (amended.getValidUntil() == ledger::kNoDate) return {Reach::kFamilyFrom, grant->person_id, date};
      // A new validity, shorter or longer than the one it replaces.
      if (!seen) return {Reach::kFamily, grant->person_id};
      int32_t from = FirstDayOfNewValidity(*grant, *seen);
      if (amended.getQuantity() != 0 || amended.getUnitCostCents() != 0) from = std::min(from, date);
      return {Reach::kFamilyFrom, grant->person_id, from};
    }
    case P::GRANT_ENDED:  // an end, which may replace an earlier one
      if (!seen) return {Reach::kFamily, grant->person_id};
      return {Reach::kFamilyFrom, grant->person_id, FirstDayOfNewValidity(*grant, *seen)};
    default: return {Reach::kFamily, grant->person_id};
  }
}

Reach ReachOf(const LedgerModel& model, schema::RecordedEvent::Reader recorded,
              const std::optional<FundingJournal::GrantValidity>& seen_validity) {
  const std::string stream = recorded.getStream().cStr();
  const std::string_view kind = ledger::StreamKind(stream);
  std::string id(ledger::StreamId(stream));
  const auto event = recorded.getEvent();
  const auto payload = event.getPayload();
  using P = schema::Event::Payload;
  if (kind == "grant") return GrantReach(payload, event.getEffectiveDate(), model.FindGrant(id), seen_validity);
  if (kind == "person") return PersonReach(payload, event.getEffectiveDate(), std::move(id));
  if (kind == "claim") return {Reach::kClaim, std::move(id)};
  if (kind == "project") {
    const bool budget = payload.which() == P::PROJECT_REGISTERED || payload.which() == P::BUDGET_AMENDED;
    return budget ? Reach{Reach::kProjectClaims, std::move(id)} : Reach{};
  }
  if (kind == "municipality") return {Reach::kCells, {}};
  if (kind == "provider") {
    const bool closure = payload.which() == P::PROVIDER_CLOSED || payload.which() == P::PROVIDER_REOPENED;
    return closure ? Reach{Reach::kProviderFrom, std::move(id), event.getEffectiveDate()} : Reach{};
  }
  if (kind == "rules") {
    return payload.getRulesEnacted().hasProjectIds() ? Reach{Reach::kRulesOfProjects, {}} : Reach{Reach::kEverything, {}};
  }
  return {};
}

}  // namespace

std::optional<FundingJournal::GrantValidity> FundingJournal::SeenValidity(const LedgerModel& model,
                                                                           schema::RecordedEvent::Reader recorded) {
  using P = schema::Event::Payload;
  const P::Which which = recorded.getEvent().getPayload().which();
  if (which != P::SERVICE_GRANTED && which != P::GRANT_AMENDED && which != P::GRANT_ENDED) return std::nullopt;
  const std::string_view stream = recorded.getStream().cStr();
  const std::string id(ledger::StreamId(stream));
  const GrantFacts* grant = model.FindGrant(id);
  if (grant == nullptr) return std::nullopt;
  // What the grant's deliveries were decided under, and from now on what they are decided under.
  auto [seen, fresh] = grant_validity_.try_emplace(id, ValidityOf(*grant));
  if (fresh) return std::nullopt;
  const GrantValidity before = seen->second;
  seen->second = ValidityOf(*grant);
  return before;
}

void FundingJournal::Follow(const LedgerModel& model, const ledger::StoredEvent& event,
                            std::vector<FundingChange>* changes) {
  const auto recorded = event.reader();
  DI_ASSERT(model.last_position() == recorded.getPosition());
  const Reach reach = ReachOf(model, recorded, SeenValidity(model, recorded));
  last_context_change_ = ContextChangeOf(model, event);
  if (!last_context_change_.empty()) ApplyContextChange(last_context_change_, &context_);
  switch (reach.kind) {
    case Reach::kNothing: break;
    case Reach::kDelivery:
      OnDelivery(model, reach.id);
      pending_lines_.insert(reach.id);  // its facts changed, whatever its decision did
      break;
    case Reach::kFamilyFrom: RefreshFamilyFrom(model, reach.id, reach.from_date); break;
    case Reach::kFamily: RefreshPersons(model, {reach.id}); break;
    case Reach::kClaim: RefreshClaim(model, reach.id); break;
    case Reach::kProjectClaims:
      for (const auto& [claim_id, claim] : model.claims()) {
        if (claim.project_id == reach.id) RefreshClaim(model, claim_id);
      }
      break;
    case Reach::kCells: RefreshPlaces(model); break;
    case Reach::kRulesOfProjects: {
      // A delivery is decided under its grant's project's rules; a family's other deliveries may share its caps.
      std::set<std::string> projects;
      for (const auto project_id : recorded.getEvent().getPayload().getRulesEnacted().getProjectIds()) {
        projects.insert(project_id.cStr());
      }
      std::set<std::string> persons;
      for (const auto& [id, grant] : model.grants()) {
        if (projects.count(model.ProjectOfGrant(grant))) persons.insert(grant.person_id);
      }
      RefreshPersons(model, std::move(persons));
      break;
    }
    case Reach::kProviderFrom: {
      // Each family once: one of its persons with a delivery by the provider stands for it.
      std::map<std::string, std::string> person_of_family;
      for (const auto& [id, delivery] : model.deliveries()) {
        if (delivery.provider_id != reach.id) continue;
        if (const GrantFacts* grant = model.FindGrant(delivery.grant_id); grant != nullptr) {
          person_of_family.emplace(model.FamilyOf(grant->person_id), grant->person_id);
        }
      }
      for (const auto& [family, person] : person_of_family) RefreshFamilyFrom(model, person, reach.from_date);
      break;
    }
    case Reach::kEverything: RefreshAll(model); break;
  }
  for (FundingChange& move : moves_) {
    move.position = recorded.getPosition();
    changes->push_back(std::move(move));
  }
  for (auto& [step, delta] : pending_) {
    if (!delta.IsZero()) {
      changes->push_back(FundingChange{recorded.getPosition(), RowKeyOf(step.cell), step.valid_from, delta});
    }
  }
  pending_.clear();
  moves_.clear();
  last_usage_changes_.clear();
  for (auto& [counter_date, delta] : pending_usage_) {
    if (delta != 0) last_usage_changes_.push_back(UsageChange{counter_date.first, counter_date.second, delta});
  }
  pending_usage_.clear();
  last_line_changes_.assign(pending_lines_.begin(), pending_lines_.end());
  pending_lines_.clear();
  if (const std::string_view stream = recorded.getStream().cStr(); ledger::StreamKind(stream) == "person") {
    pending_members_.emplace(stream.substr(stream.find('/') + 1));  // its enrolment, residence, assessment, plan...
  }
  last_member_changes_.assign(pending_members_.begin(), pending_members_.end());
  pending_members_.clear();
  position_ = recorded.getPosition();
}

std::string MonthText(int32_t month_number) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d", month_number / 12, month_number % 12 + 1);
  return text;
}

bool ParseMonthText(std::string_view text, int32_t* month_number) {
  if (text.size() != 7 || text[4] != '-') return false;
  int32_t year = 0, month = 0;
  for (size_t i : {0, 1, 2, 3}) {
    if (text[i] < '0' || text[i] > '9') return false;
    year = year * 10 + (text[i] - '0');
  }
  for (size_t i : {5, 6}) {
    if (text[i] < '0' || text[i] > '9') return false;
    month = month * 10 + (text[i] - '0');
  }
  if (month < 1 || month > 12) return false;
  *month_number = year * 12 + month - 1;
  return true;
}

std::map<FundingRowKey, CellFigures> FundingCells::ToMap() const {
  std::map<FundingRowKey, CellFigures> out;
  for (const Cell& cell : cells) {
    FundingRowKey key = places.at(cell.place);
    key.month = MonthText(cell.month);
    const bool unique = out.emplace(std::move(key), cell.figures).second;
    DI_ASSERT(unique);
  }
  return out;
}

FundingCells FundingJournal::CellsAsOf(int32_t valid_date) const {
  FundingCells cells;
  cells.places.reserve(places_.size());
  for (const Place& place : places_) cells.places.push_back(place.key);
  for (const auto& [cell, sums] : sums_) {
    CellFigures figures;
    if (sums.steps.back().first <= valid_date) {
      figures = sums.total;
    } else {
      for (const auto& [valid_from, step] : sums.steps) {
        if (valid_from > valid_date) break;
        figures.Add(step);
      }
    }
    if (!figures.IsZero()) cells.cells.push_back({cell.place, cell.month, figures});
  }
  return cells;
}

void FundingJournal::ForEachCell(
    const std::function<void(const FundingRowKey&, int32_t, const CellFigures&, const CellSteps&)>& fn) const {
  for (const auto& [cell, sums] : sums_) fn(places_.at(cell.place).key, cell.month, sums.total, sums.steps);
}

void FundingJournal::Count(const CellStep& step, const CellFigures& delta, int sign) {
  DI_ASSERT(sign == 1 || sign == -1);
  auto add = [&](CellFigures* to) { sign > 0 ? to->Add(delta) : to->Subtract(delta); };
  add(&pending_[step]);
  CellSums& sums = sums_[step.cell];
  add(&sums.total);
  auto at = std::lower_bound(sums.steps.begin(), sums.steps.end(), step.valid_from,
                             [](const auto& entry, int32_t date) { return entry.first < date; });
  if (at == sums.steps.end() || at->first != step.valid_from) at = sums.steps.insert(at, {step.valid_from, {}});
  add(&at->second);
  if (at->second.IsZero()) sums.steps.erase(at);
  if (sums.steps.empty()) {
    DI_ASSERT(sums.total.IsZero());
    sums_.erase(step.cell);
  }
}

void FundingJournal::Replace(Contribution* stored, Contribution fresh) {
  for (const auto& [step, figures] : *stored) Count(step, figures, -1);
  for (const auto& [step, figures] : fresh) Count(step, figures, +1);
  *stored = std::move(fresh);
}

FundingJournal::PlaceId FundingJournal::PlaceOf(const LedgerModel& model, const GrantFacts& grant,
                                                const DeliveryFacts& delivery) {
  auto [it, inserted] =
      place_ids_.try_emplace(PlaceIdentity{grant.municipality_id, grant.service, delivery.provider_id, delivery.mode,
                                           grant.project_id},
                             0);
  if (inserted) {
    it->second = static_cast<PlaceId>(places_.size());
    Place place{grant.municipality_id, grant.service, delivery.provider_id, delivery.mode, grant.project_id,
                FundingRowOfDelivery(model, grant, delivery)};
    place.key.month.clear();
    places_.push_back(std::move(place));
  }
  return it->second;
}

int32_t MonthNumber(int32_t date) {
  const ledger::CivilDate civil = ledger::CivilFromDays(date);
  return civil.year * 12 + static_cast<int32_t>(civil.month) - 1;
}

FundingJournal::Cell FundingJournal::CellOf(const LedgerModel& model, const GrantFacts& grant,
                                            const DeliveryFacts& delivery) {
  return Cell{PlaceOf(model, grant, delivery), MonthNumber(delivery.date)};
}

FundingRowKey FundingJournal::RowKeyOf(Cell cell) const {
  FundingRowKey key = places_.at(cell.place).key;
  key.month = MonthText(cell.month);
  return key;
}

void FundingJournal::RefreshPlaces(const LedgerModel& model) {
  for (PlaceId id = 0; id < places_.size(); ++id) {
    Place& place = places_[id];
    GrantFacts grant;  // FundingRowOfDelivery reads the grant's municipality, service and project only
    grant.municipality_id = place.municipality_id;
    grant.service = place.service;
    grant.project_id = place.named_project_id;
    DeliveryFacts delivery;  // and the delivery's provider and mode
    delivery.provider_id = place.provider_id;
    delivery.mode = place.mode;
    FundingRowKey key = FundingRowOfDelivery(model, grant, delivery);
    key.month.clear();
    if (key == place.key) continue;
    for (auto cell = sums_.lower_bound(Cell{id, INT32_MIN}); cell != sums_.end() && cell->first.place == id; ++cell) {
      FundingRowKey old_key = RowKeyOf(cell->first), new_key = key;
      new_key.month = old_key.month;
      for (const auto& [valid_from, figures] : cell->second.steps) {
        CellFigures taken;
        taken.Subtract(figures);
        moves_.push_back(FundingChange{0, old_key, valid_from, taken});
        moves_.push_back(FundingChange{0, new_key, valid_from, figures});
      }
    }
    place.key = std::move(key);
  }
}

CellFigures FundingJournal::DeliveryContribution::Figures() const {
  CellFigures figures;
  figures.presence = 1;
  figures.figures.deliveries = 1;
  figures.figures.delivered_cents = cost_cents;
  figures.figures.eligible_cents = eligible_cost_cents;
  return figures;
}

void FundingJournal::SetDeliveryContribution(const LedgerModel& model, const std::string& delivery_id,
                                             const DeliveryDecision* decision) {
  auto stored = delivery_contributions_.find(delivery_id);
  const bool had = stored != delivery_contributions_.end();
  const DeliveryFacts* delivery = decision == nullptr ? nullptr : &model.deliveries().at(delivery_id);
  const GrantFacts* grant = delivery == nullptr ? nullptr : model.FindGrant(delivery->grant_id);
  if (grant == nullptr) {
    if (!had) return;
    const DeliveryContribution old = std::move(stored->second);
    delivery_contributions_.erase(stored);
    Count({old.cell, old.date}, old.Figures(), -1);
    pending_lines_.insert(delivery_id);
    if (old.receiving()) {
      // A contribution had a known grant, and the model never forgets a delivery or a grant.
      const GrantFacts* had_grant = model.FindGrant(model.deliveries().at(delivery_id).grant_id);
      DI_ASSERT(had_grant != nullptr);
      Unreceive(model, had_grant->person_id, old.date, delivery_id);
    }
    return;
  }
  DeliveryContribution fresh;
  // The cell's place is the grant's; its month moves with the date.
  fresh.cell = had && stored->second.date == delivery->date ? stored->second.cell
                                                            : CellOf(model, *grant, *delivery);
  fresh.date = delivery->date;
  fresh.cost_cents = delivery->cost_cents;
  fresh.eligible_quantity = decision->eligible_quantity;
  fresh.eligible_cost_cents = decision->eligible_cost_cents;
  fresh.rule = InternRule(decision->rule_id);
  const bool was_receiving = had && stored->second.receiving();
  const int32_t old_date = had ? stored->second.date : 0;
  if (had) {
    DeliveryContribution& old = stored->second;
    if (old.cell == fresh.cell && old.date == fresh.date && old.cost_cents == fresh.cost_cents &&
        old.eligible_cost_cents == fresh.eligible_cost_cents && old.receiving() == fresh.receiving()) {
      // The same figures; the decision's other parts may differ (a line's finding, what explain lists).
      if (old.eligible_quantity != fresh.eligible_quantity || old.rule != fresh.rule || old.reason != decision->reason) {
        old.eligible_quantity = fresh.eligible_quantity;
        old.rule = fresh.rule;
        old.reason = decision->reason;
        pending_lines_.insert(delivery_id);
      }
      return;  // unchanged: most of a re-decided suffix
    }
    fresh.reason = decision->reason;
    Count({old.cell, old.date}, old.Figures(), -1);
    old = fresh;
  } else {
    fresh.reason = decision->reason;
    delivery_contributions_.emplace(delivery_id, fresh);
  }
  pending_lines_.insert(delivery_id);
  Count({fresh.cell, fresh.date}, fresh.Figures(), +1);
  if (was_receiving) Unreceive(model, grant->person_id, old_date, delivery_id);
  if (fresh.receiving()) Receive(grant->person_id, fresh.date);
}

void FundingJournal::Receive(const std::string& person_id, int32_t date) {
  auto [first, inserted] = first_receiving_.try_emplace(person_id, FirstReceiving{date, 0});
  if (inserted || date < first->second.date) {
    first->second = FirstReceiving{date, 1};
    pending_members_.insert(person_id);
  } else if (date == first->second.date) {
    ++first->second.count;
  }
}

void FundingJournal::Unreceive(const LedgerModel& model, const std::string& person_id, int32_t date,
                               const std::string& changed_delivery_id) {
  auto first = first_receiving_.find(person_id);
  DI_ASSERT(first != first_receiving_.end() && first->second.date <= date);
  if (date != first->second.date || --first->second.count > 0) return;
  // The earliest receiving delivery went: the next earliest, from the person's deliveries as they stand now.
  pending_members_.insert(person_id);
  FirstReceiving next{ledger::kNoDate, 0};
  for (const std::string& grant_id : model.GrantsOfPerson(person_id)) {
    for (const std::string& delivery_id : model.DeliveriesOfGrant(grant_id)) {
      if (delivery_id == changed_delivery_id) continue;  // its new contribution is counted by the caller
      auto contribution = delivery_contributions_.find(delivery_id);
      if (contribution == delivery_contributions_.end() || !contribution->second.receiving()) continue;
      if (next.count == 0 || contribution->second.date < next.date) {
        next = FirstReceiving{contribution->second.date, 1};
      } else if (contribution->second.date == next.date) {
        ++next.count;
      }
    }
  }
  if (next.count == 0) {
    first_receiving_.erase(first);
  } else {
    first->second = next;
  }
}

int32_t FundingJournal::FirstReceivingOf(const std::string& person_id) const {
  auto first = first_receiving_.find(person_id);
  return first == first_receiving_.end() ? ledger::kNoDate : first->second.date;
}

bool FundingJournal::DecisionOf(const std::string& delivery_id, DecisionOutcome* outcome) const {
  auto found = delivery_contributions_.find(delivery_id);
  if (found == delivery_contributions_.end()) return false;
  const DeliveryContribution& contribution = found->second;
  *outcome = {contribution.eligible_quantity, contribution.eligible_cost_cents, rule_ids_[contribution.rule],
              contribution.reason};
  return true;
}

uint32_t FundingJournal::InternRule(const std::string& rule_id) {
  auto [found, inserted] = rule_index_.try_emplace(rule_id, static_cast<uint32_t>(rule_ids_.size()));
  if (inserted) rule_ids_.push_back(rule_id);
  return found->second;
}

void FundingJournal::TakeBackCharges(Family* family, size_t from) {
  for (size_t i = from; i < family->entries.size(); ++i) {
    for (const auto& [usage, amount] : family->entries[i].charges) usage->used -= amount;
    NoteCharges(family->entries[i].date, family->entries[i].charges, -1);
    family->entries[i].charges.clear();
  }
}

void FundingJournal::NoteCharges(int32_t date, const CapCharges& charges, int sign) {
  for (const auto& [usage, amount] : charges) {
    if (amount != 0) pending_usage_[{UsageCounterKey(*usage), date}] += sign * amount;
  }
}

std::unordered_map<std::string, int64_t> FundingJournal::UsageAsOf(const LedgerModel& model,
                                                                   const std::string& person_id,
                                                                   int32_t valid_date) const {
  std::unordered_map<const CapUsage*, int64_t> by_counter;
  if (auto family = families_.find(model.FamilyOf(person_id)); family != families_.end()) {
    for (const Entry& entry : family->second.entries) {
      if (entry.date > valid_date) break;  // valid-time order
      for (const auto& [usage, amount] : entry.charges) by_counter[usage] += amount;
    }
  }
  std::unordered_map<std::string, int64_t> used;
  for (const auto& [usage, amount] : by_counter) used[UsageCounterKey(*usage)] += amount;
  return used;
}

void FundingJournal::DecideFrom(const LedgerModel& model, Family* family, size_t from) {
  for (size_t i = from; i < family->entries.size(); ++i) {
    Entry& entry = family->entries[i];
    DI_ASSERT(entry.charges.empty());
    const DeliveryDecision decision =
        DecideDelivery(model, model.deliveries().at(entry.delivery_id), &family->usage, &entry.charges);
    NoteCharges(entry.date, entry.charges, +1);
    SetDeliveryContribution(model, entry.delivery_id, &decision);
  }
}

namespace {
bool IsLive(const DeliveryFacts& delivery) { return !delivery.voided && delivery.position != 0; }
}  // namespace

FundingJournal::Entry FundingJournal::MakeEntry(const DeliveryFacts& delivery) {
  Entry entry;
  entry.date = delivery.date;
  entry.last_day = std::max(delivery.date, delivery.last_date);
  entry.position = delivery.position;
  entry.delivery_id = delivery.id;
  return entry;
}

void FundingJournal::OnDelivery(const LedgerModel& model, const std::string& delivery_id) {
  auto facts = model.deliveries().find(delivery_id);
  const GrantFacts* grant = facts == model.deliveries().end() ? nullptr : model.FindGrant(facts->second.grant_id);
  const bool live = grant != nullptr && IsLive(facts->second);
  auto partitioned = entry_of_delivery_.find(delivery_id);
  const bool was_live = partitioned != entry_of_delivery_.end();
  if (!was_live) {
    if (!live) return SetDeliveryContribution(model, delivery_id, nullptr);
    // The first delivery of its holder: partition the family (and decide it) from the model.
    if (!family_of_person_.count(grant->person_id)) return RefreshPersons(model, {grant->person_id});
  }
  const std::string family_key = was_live ? partitioned->second.family_key : family_of_person_.at(grant->person_id);
  Family& family = families_.at(family_key);
  std::vector<Entry>& entries = family.entries;
  const auto in_order = [](const Entry& a, const Entry& b) { return a.Order() < b.Order(); };
  // Entries before `start` keep their decisions: the old place of the delivery and its new place are both after.
  size_t start = entries.size();
  std::vector<Entry>::iterator old = entries.end();
  if (was_live) {
    Entry probe;
    probe.date = partitioned->second.date;
    probe.position = partitioned->second.position;
    old = std::lower_bound(entries.begin(), entries.end(), probe, in_order);
    DI_ASSERT(old != entries.end() && old->delivery_id == delivery_id);
    start = static_cast<size_t>(old - entries.begin());
  }
  Entry fresh = live ? MakeEntry(facts->second) : Entry{};
  if (live) {
    start = std::min(start, static_cast<size_t>(std::upper_bound(entries.begin(), entries.end(), fresh, in_order) -
                                                entries.begin()));
  }
  // The later entries' charges are taken back but kept: an entry that reads no counter the change moved has the same
  // counters before it as before, hence the same decision, and gets its charges back without being decided again.
  std::vector<const CapUsage*> moved;
  if (was_live) {
    for (const auto& [usage, amount] : old->charges) moved.push_back(usage);
  }
  for (size_t i = start; i < entries.size(); ++i) {
    for (const auto& [usage, amount] : entries[i].charges) usage->used -= amount;
  }
  if (was_live) {
    NoteCharges(old->date, old->charges, -1);
    entries.erase(entries.begin() + (old - entries.begin()));
    entry_of_delivery_.erase(delivery_id);
  }
  if (live) {
    entry_of_delivery_[delivery_id] = EntryPlace{family_key, fresh.date, fresh.position};
    entries.insert(std::upper_bound(entries.begin(), entries.end(), fresh, in_order), std::move(fresh));
  } else {
    SetDeliveryContribution(model, delivery_id, nullptr);
  }
  DecideAfterDelivery(model, &family, start, delivery_id, std::move(moved));
}

void FundingJournal::DecideAfterDelivery(const LedgerModel& model, Family* family, size_t from,
                                         const std::string& delivery_id, std::vector<const CapUsage*> moved) {
  auto reads_moved = [&](const CapCharges& charges) {
    for (const auto& [usage, amount] : charges) {
      if (std::find(moved.begin(), moved.end(), usage) != moved.end()) return true;
    }
    return false;
  };
  for (size_t i = from; i < family->entries.size(); ++i) {
    Entry& entry = family->entries[i];
    if (entry.delivery_id != delivery_id && !reads_moved(entry.charges)) {
      for (const auto& [usage, amount] : entry.charges) usage->used += amount;
      continue;
    }
    CapCharges before = std::move(entry.charges);
    entry.charges.clear();
    const DeliveryDecision decision =
        DecideDelivery(model, model.deliveries().at(entry.delivery_id), &family->usage, &entry.charges);
    if (entry.charges != before) {
      NoteCharges(entry.date, before, -1);
      NoteCharges(entry.date, entry.charges, +1);
      // What it leaves in its counters changed: every later entry reading one of them is decided again.
      for (const auto& [usage, amount] : before) moved.push_back(usage);
      for (const auto& [usage, amount] : entry.charges) moved.push_back(usage);
    }
    SetDeliveryContribution(model, entry.delivery_id, &decision);
  }
}

void FundingJournal::RefreshPersons(const LedgerModel& model, std::set<std::string> persons) {
  // The families the persons are in now, and every family any of them was partitioned into before (a
  // representation link joins families): all of them are partitioned again from the model.
  std::set<std::string> old_families;
  for (bool grew = true; grew;) {
    grew = false;
    std::set<std::string> more;
    for (const std::string& person : persons) {
      for (const std::string& member : model.FamilyMembers(person)) more.insert(member);
      auto family = family_of_person_.find(person);
      if (family != family_of_person_.end() && old_families.insert(family->second).second) {
        const Family& old = families_.at(family->second);
        more.insert(old.persons.begin(), old.persons.end());
      }
    }
    for (const std::string& person : more) grew |= persons.insert(person).second;
  }
  std::set<std::string> touched_deliveries;
  for (const std::string& key : old_families) {
    auto family = families_.find(key);
    if (family == families_.end()) continue;
    for (const Entry& entry : family->second.entries) {
      touched_deliveries.insert(entry.delivery_id);
      entry_of_delivery_.erase(entry.delivery_id);
      NoteCharges(entry.date, entry.charges, -1);
    }
    for (const std::string& person : family->second.persons) family_of_person_.erase(person);
    families_.erase(family);
  }
  std::set<std::string> new_families;
  for (const std::string& person : persons) {
    const std::vector<std::string>& grants = model.GrantsOfPerson(person);
    if (grants.empty()) continue;
    const std::string key = model.FamilyOf(person);
    Family& family = families_[key];
    family.persons.insert(person);
    family_of_person_[person] = key;
    new_families.insert(key);
    for (const std::string& grant_id : grants) {
      for (const std::string& delivery_id : model.DeliveriesOfGrant(grant_id)) {
        const DeliveryFacts& delivery = model.deliveries().at(delivery_id);
        if (!IsLive(delivery)) continue;
        family.entries.push_back(MakeEntry(delivery));
        entry_of_delivery_[delivery_id] = EntryPlace{key, family.entries.back().date, family.entries.back().position};
      }
    }
  }
  for (const std::string& key : new_families) {
    Family& family = families_[key];
    std::sort(family.entries.begin(), family.entries.end(),
              [](const Entry& a, const Entry& b) { return a.Order() < b.Order(); });
    DecideFrom(model, &family, 0);
    for (const Entry& entry : family.entries) touched_deliveries.erase(entry.delivery_id);
  }
  // Deliveries no longer live (or no longer in any family) contribute nothing.
  for (const std::string& delivery_id : touched_deliveries) SetDeliveryContribution(model, delivery_id, nullptr);
}

void FundingJournal::RefreshFamilyFrom(const LedgerModel& model, const std::string& person_id, int32_t from_date) {
  auto family = families_.find(model.FamilyOf(person_id));
  if (family == families_.end()) return;  // nobody in the family has a delivery
  // Entries that end before the date keep their decisions (and charges): the facts changed from it on. Entries are in
  // start-date order, and a stay that began earlier may reach into it.
  std::vector<Entry>& entries = family->second.entries;
  size_t start = 0;
  while (start < entries.size() && entries[start].last_day < from_date) ++start;
  TakeBackCharges(&family->second, start);
  DecideFrom(model, &family->second, start);
}

void FundingJournal::RefreshClaim(const LedgerModel& model, const std::string& claim_id) {
  auto found = model.claims().find(claim_id);
  Contribution fresh =
      found == model.claims().end() ? Contribution{} : ClaimContribution(model, claim_id, found->second);
  auto stored = claim_contributions_.find(claim_id);
  if (stored == claim_contributions_.end()) {
    if (fresh.empty()) return;
    stored = claim_contributions_.emplace(claim_id, Contribution{}).first;
  }
  Replace(&stored->second, std::move(fresh));
  if (stored->second.empty()) claim_contributions_.erase(stored);
}

std::optional<FundingJournal::Cell> FundingJournal::LineCell(const LedgerModel& model, const std::string& delivery_id) {
  auto delivery = model.deliveries().find(delivery_id);
  if (delivery == model.deliveries().end()) return std::nullopt;
  const GrantFacts* grant = model.FindGrant(delivery->second.grant_id);
  if (grant == nullptr) return std::nullopt;
  return CellOf(model, *grant, delivery->second);
}

const FundingJournal::ClaimLines& FundingJournal::LinesOf(const LedgerModel& model, const std::string& claim_id,
                                                          const ClaimFacts& claim) {
  ClaimLines& lines = claim_lines_[claim_id];
  if (lines.cells.size() == claim.lines.size() && lines.order.size() == claim.lines.size()) return lines;
  lines.order = ClaimLineOrder(claim);
  lines.cells.clear();
  for (const auto& [delivery_id, claimed_cents] : claim.lines) lines.cells.push_back(LineCell(model, delivery_id));
  return lines;
}

FundingJournal::Contribution FundingJournal::ClaimContribution(const LedgerModel& model, const std::string& claim_id,
                                                               const ClaimFacts& claim) {
  // The valid dates from which the claim's figures change: its date, then its review and payments after it.
  std::set<int32_t> steps = {claim.date};
  if (claim.reviewed && claim.reviewed_on > claim.date) steps.insert(claim.reviewed_on);
  for (const PaymentFacts& payment : claim.payments) {
    if (payment.date > claim.date) steps.insert(payment.date);
  }
  const ClaimLines& lines = LinesOf(model, claim_id, claim);
  Contribution contribution;
  std::map<Cell, CellFigures> before;
  for (int32_t step : steps) {
    const ClaimSplit split = SplitClaim(model, claim, lines.order, step);
    DI_ASSERT(split.lines.size() == lines.cells.size());
    std::map<Cell, CellFigures> now;
    for (size_t i = 0; i < split.lines.size(); ++i) {
      const std::optional<Cell>& line_cell = lines.cells[split.lines[i] - claim.lines.data()];
      if (!line_cell) continue;
      CellFigures& cell = now[*line_cell];
      cell.presence += 1;
      AddClaimLine(split, i, &cell.figures);
    }
    for (const auto& [cell, figures] : now) {
      CellFigures delta = figures;
      if (auto was = before.find(cell); was != before.end()) delta.Subtract(was->second);
      if (!delta.IsZero()) contribution[{cell, step}] = delta;
    }
    for (const auto& [cell, figures] : before) {
      if (now.count(cell)) continue;
      CellFigures delta;
      delta.Subtract(figures);
      contribution[{cell, step}] = delta;
    }
    before = std::move(now);
  }
  return contribution;
}

void FundingJournal::RefreshAll(const LedgerModel& model) {
  RefreshPlaces(model);
  std::set<std::string> persons;
  for (const auto& [id, grant] : model.grants()) persons.insert(grant.person_id);
  for (const auto& [person, family] : family_of_person_) persons.insert(person);
  RefreshPersons(model, std::move(persons));
  std::set<std::string> claims;
  for (const auto& [id, claim] : model.claims()) claims.insert(id);
  for (const auto& [id, contribution] : claim_contributions_) claims.insert(id);
  for (const std::string& id : claims) RefreshClaim(model, id);
}

Status ComputeFundingFromJournal(const FundingJournal& journal, const LedgerModel& model, int32_t valid_date,
                                 const FundingQuery& query, FundingReport* out) {
  DI_ASSERT(journal.position() == model.last_position());
  const FundingCells cells = journal.CellsAsOf(valid_date);
  FundingQuery figures_only = query;
  figures_only.explain = false;
  DI_RETURN_IF_ERROR(
      ComputeFundingFromCells(cells, journal.context(), valid_date, model.last_position(), figures_only, out));
  if (!query.explain) return Status::Ok();
  // The events per row from the model's facts (every delivery's, the claims'): nothing decided.
  auto line_facts = [&](const std::string& delivery_id, ClaimLineFacts* facts) {
    *facts = DeliveryLineFacts(model, delivery_id);
    return Status::Ok();
  };
  return ExplainFundingRows(
      cells, model, valid_date, query,
      [&](const JournalStore::LineVisitor& visit) -> Status {
        for (const auto& [delivery_id, delivery] : model.deliveries()) {
          if (delivery.voided || delivery.date > valid_date) continue;  // never explained: spare their facts
          DI_RETURN_IF_ERROR(visit(delivery_id, DeliveryLineFacts(model, delivery)));
        }
        return Status::Ok();
      },
      line_facts, out);
}

PlaceGrouping GroupPlaces(const std::vector<FundingRowKey>& places, const FundingQuery& query,
                          const std::set<std::string>& keep) {
  PlaceGrouping grouping;
  grouping.key_of_place.assign(places.size(), -1);
  std::map<FundingRowKey, std::vector<size_t>> places_of_key;
  for (size_t place = 0; place < places.size(); ++place) {
    if (FundingQueryKeeps(query, places[place])) places_of_key[KeepDimensions(places[place], keep)].push_back(place);
  }
  for (auto& [key, kept] : places_of_key) {
    for (size_t place : kept) grouping.key_of_place[place] = static_cast<int64_t>(grouping.keys.size());
    grouping.keys.push_back(key);
  }
  return grouping;
}

namespace {

// The rows of `cells` under `query`: the cells grouped by (their place's kept key, month) as integers, so that only
// the rows' own keys are made.
void GroupCells(const FundingCells& cells, const FundingQuery& query, const std::set<std::string>& keep,
                FundingReport* out) {
  const bool keep_month = keep.empty() || keep.count("month") > 0;
  const PlaceGrouping grouping = GroupPlaces(cells.places, query, keep);
  // (key index, month): the order of the rows' keys, whose month is last and "YYYY-MM" sorts as its number.
  std::map<std::pair<int64_t, int32_t>, FundingFigures> grouped;
  for (const FundingCells::Cell& cell : cells.cells) {
    const int64_t group = grouping.key_of_place.at(cell.place);
    if (cell.figures.presence <= 0 || group < 0) continue;
    grouped[{group, keep_month ? cell.month : 0}].Add(cell.figures.figures);
    out->totals.Add(cell.figures.figures);
  }
  out->rows.reserve(grouped.size());
  for (const auto& [group, figures] : grouped) {
    const FundingRowKey& key = grouping.keys[static_cast<size_t>(group.first)];
    out->rows.push_back(FundingRow{key.project_id, key.territory_id, key.municipality_id, key.service, key.provider_id,
                                   key.mode,
                                   keep_month ? MonthText(group.second) : std::string(), figures, {}});
  }
}

}  // namespace

Status ComputeFundingFromCells(const FundingCells& cells, const FundingContext& context, int32_t valid_date,
                               uint64_t known_at_position, const FundingQuery& query, FundingReport* out) {
  if (query.explain) return Status::InvalidArgument("the journal keeps no events per row: ask ComputeFunding", "explain");
  *out = FundingReport{};
  out->valid_date = valid_date;
  out->known_at_position = known_at_position;
  std::set<std::string> keep;
  DI_RETURN_IF_ERROR(CheckFundingQuery(context, query, &keep));
  MarkDimensions(keep, out);
  GroupCells(cells, query, keep, out);
  DI_ASSERT(out->totals.approved_esf_cents + out->totals.approved_state_cents == out->totals.approved_cents);
  DI_ASSERT(out->totals.paid_esf_cents + out->totals.paid_state_cents == out->totals.paid_cents);
  AppendFundingBudgets(context, valid_date, query, out);
  return Status::Ok();
}

}  // namespace di::projections
