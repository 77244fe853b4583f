// The adversarial history's grants and deliveries: cap scenarios, boundary dates, late entries, corrections.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "di/projections/default_rules.h"
#include "fuzzy_generator.h"

namespace di::workload::fuzzy {

std::vector<std::string> Generator::ServicesOf(const PersonState& person) const {
  if (person.group == "child_functional_impairment") {
    return {"child_care", "child_care", "child_care", "respite", "respite", "child_rehabilitation",
            "child_day_centre", "family_assistant"};
  }
  if (person.group == "parent_of_child") {
    return {"parent_rehabilitation", "parent_rehabilitation", "parent_rehabilitation", "parent_support_group",
            "family_assistant"};
  }
  if (person.group == "adult_mental_disability") {
    return {"adult_home_care", "adult_day_centre", "adult_specialised_workshop", "adult_group_home", "adult_respite",
            "adult_specialist_consultation", "adult_specialist_consultation", "adult_psychologist_consultation",
            "adult_psychologist_consultation", "adult_support_group", "social_mentor"};
  }
  if (person.group == "child_in_care") return {"child_day_centre", "child_rehabilitation"};
  return {"parent_support_group"};  // a foster candidate: no rule covers them
}

void Generator::ChooseShape(const std::string& service, std::string* period, int64_t* quantity) {
  struct Shape {
    const char* period;
    std::vector<int64_t> quantities;
  };
  std::vector<Shape> shapes;
  if (service == "child_care") shapes = {{"month", {12000, 4800, 2400, 13000, 6000}}, {"week", {3000, 600, 1200}}};
  else if (service == "respite") shapes = {{"year", {30, 20, 40}}};
  else if (service == "child_rehabilitation") shapes = {{"grant_period", {40, 100, 20}}, {"month", {4, 8}}};
  else if (service == "child_day_centre") shapes = {{"month", {20, 22, 15}}};
  else if (service == "parent_rehabilitation") shapes = {{"grant_period", {20, 40, 80}}, {"year", {20}}};
  else if (service == "parent_support_group") shapes = {{"month", {2, 4}}};
  else if (service == "family_assistant" || service == "social_mentor") shapes = {{"month", {1200, 2400}}};
  else if (service == "adult_home_care") shapes = {{"month", {2400, 4800, 6000}}};
  else if (service == "adult_day_centre" || service == "adult_specialised_workshop") shapes = {{"month", {16, 20, 22}}};
  else if (service == "adult_group_home") shapes = {{"month", {31, 30}}};
  else if (service == "adult_respite") shapes = {{"year", {30, 14}}};
  else if (service == "adult_specialist_consultation") shapes = {{"grant_period", {50, 100}}, {"month", {8}}};
  else if (service == "adult_psychologist_consultation") shapes = {{"grant_period", {100, 40}}, {"month", {4}}};
  else shapes = {{"month", {4, 8}}};  // adult_support_group
  const Shape& shape = Pick(shapes);
  *period = shape.period;
  *quantity = Pick(shape.quantities);
}

std::string Generator::ProviderFor(const std::string& service) {
  if (service == "respite" || service == "adult_respite") return "PV-ATELPA";
  if (service == "child_care") return Chance(500) ? "PV-CARE-1" : "PV-CARE-2";
  if (service == "adult_psychologist_consultation") return "PV-PSY";
  return "PV-REHAB";
}

bool Generator::HasActiveGrant(const PersonState& person, const std::string& service) const {
  for (const auto& [id, grant] : grants_) {
    if (grant.person_id == person.id && grant.service == service && grant.LastDay() >= MonthStart()) return true;
  }
  return false;
}

int Generator::ActiveGrants(const PersonState& person) const {
  int count = 0;
  for (const auto& [id, grant] : grants_) count += grant.person_id == person.id && grant.LastDay() >= MonthStart();
  return count;
}

void Generator::NewGrant(PersonState& person) {
  const std::string service = Pick(ServicesOf(person));
  if (HasActiveGrant(person, service) && !Chance(150)) return;  // now and then two grants for one service
  int32_t decided_on = Today();
  std::string application_id, decision_event;
  if (Chance(600)) {
    const int32_t submitted_on = static_cast<int32_t>(Between(MonthStart(), decided_on));
    application_id = NumberedId("AP-", ++application_counter_, 4);
    Json services = {service};
    if (Chance(300) && service != "family_assistant") services.push_back("family_assistant");
    Json data = {{"application_id", application_id}, {"person_id", person.id},
                 {"municipality_id", ActiveFor(person.residence_id, submitted_on)}, {"services", services},
                 {"channel", Chance(800) ? "written" : "electronic"}};
    if (!person.parents.empty() && persons_[person.parents.front()].enrolled) data["submitted_by_id"] = person.parents.front();
    Emit("application_submitted", submitted_on, data, SocialService(ActiveFor(person.residence_id, submitted_on)));
    applications_[application_id] = {person.id, submitted_on, false};
    const bool refused = Chance(60);
    Json decision = {{"application_id", application_id}, {"decision", refused ? "refused" : "granted"}};
    if (refused) decision["reason"] = "does not meet the conditions";
    decision_event = Emit("application_decided", decided_on, decision, SocialService(ActiveFor(person.residence_id, decided_on)));
    applications_[application_id].decided = true;
    if (refused) {
      refused_applications_.push_back(application_id);
      return;
    }
  }
  GrantState grant;
  grant.id = NumberedId("G-", ++grant_counter_, 4);
  grant.person_id = person.id;
  grant.service = service;
  grant.created_on = decided_on;
  grant.municipality_id = ActiveFor(person.residence_id, decided_on);
  if (Chance(50)) {  // granted by another municipality than the residence
    std::vector<std::string> active;
    for (const auto& [id, municipality] : municipalities_) {
      if (Active(id, decided_on)) active.push_back(id);
    }
    grant.municipality_id = Pick(active);
  }
  grant.valid_from = decided_on + static_cast<int32_t>(Between(0, 25));
  grant.valid_until = grant.valid_from + static_cast<int32_t>(Between(150, 1000));
  grant.valid_until = std::min(grant.valid_until, Date(2023, 12, 31));
  if (grant.valid_until > rules_.services_paid_until && Chance(600)) grant.valid_until = rules_.services_paid_until;
  if (grant.valid_from > grant.valid_until) return;
  ChooseShape(service, &grant.period, &grant.quantity);
  grant.unit_cost = service == "adult_psychologist_consultation" || (service == "adult_specialist_consultation" && Chance(150));
  if (grant.unit_cost) grant.unit_cost_cents = service == "adult_psychologist_consultation" ? 3000 : 4000;
  Json data = {{"grant_id", grant.id}, {"person_id", person.id}, {"municipality_id", grant.municipality_id},
               {"service", service}, {"quantity", grant.quantity}, {"period", grant.period},
               {"valid_from", FormatDate(grant.valid_from)}, {"valid_until", FormatDate(grant.valid_until)},
               {"cost_basis", grant.unit_cost ? "unit_cost" : "actual_cost"}};
  if (grant.unit_cost) data["unit_cost_cents"] = grant.unit_cost_cents;
  if (!application_id.empty()) data["application_id"] = application_id;
  if (!person.plan_ids.empty() && Chance(500)) data["plan_id"] = person.plan_ids.back();
  grant.project_id = municipalities_[grant.municipality_id].project_id;
  // Bauska in the individual budget pilot from 2019-11 (BA 233): some of its grants are the pilot's.
  if (grant.municipality_id == "M-BAUSKA" && grant.valid_from >= Date(2019, 11, 1) && Chance(400)) {
    grant.project_id = "PR-IBM";
    data["project_id"] = "PR-IBM";
  }
  grant.provider_id = ProviderFor(service);
  if (Chance(800)) data["provider_id"] = grant.provider_id;
  GrantState& stored = grants_[grant.id] = grant;
  Emit("service_granted", decided_on, data, SocialService(grant.municipality_id), &stored, decision_event);
  ++counts_.grants;
}

void Generator::GrantLifecycle() {
  for (const std::string& id : person_order_) {
    PersonState& person = persons_[id];
    if (person.enrolled && ActiveGrants(person) < person.grants_wanted && Chance(250)) NewGrant(person);
  }
  for (auto& [id, grant] : grants_) {
    if (!grant.Open() || grant.valid_until < MonthStart() - 31) continue;
    const std::string actor = SocialService(ActiveFor(grant.municipality_id, MonthEnd()));
    if (Chance(25)) {
      Json data = {{"grant_id", id}, {"reason", "re-decided"}};
      const int32_t date = std::max(grant.created_on, Today());
      if (Chance(600)) data["quantity"] = std::max<int64_t>(1, grant.quantity * Between(50, 150) / 100);
      if (Chance(350)) {
        // Extended, or shortened (perhaps below deliveries already recorded).
        int32_t until = Chance(500) ? std::min(Date(2023, 12, 31), grant.valid_until + static_cast<int32_t>(Between(30, 365)))
                                    : Today() - static_cast<int32_t>(Between(0, 60));
        until = std::max(until, grant.valid_from);
        data["valid_until"] = FormatDate(until);
        grant.valid_until = until;
      }
      if (grant.unit_cost && Chance(500)) data["unit_cost_cents"] = grant.unit_cost_cents = Chance(500) ? 3200 : 2800;
      if (Chance(100)) data["provider_id"] = Pick(providers_);
      if (data.size() == 2) data["quantity"] = grant.quantity + 1;
      if (data.contains("quantity")) grant.quantity = data["quantity"].get<int64_t>();
      Emit("grant_amended", date, data, actor, &grant);
      ++counts_.grant_amendments;
      continue;
    }
    if (grant.suspended_on == kNoDate && Chance(10)) {
      const int32_t date = Today();
      if (date >= grant.valid_from && date <= grant.valid_until) {
        Emit("service_suspended", date, {{"grant_id", id}, {"reason", "in hospital"}}, actor, &grant);
        grant.suspended_on = date;
        ++counts_.suspensions;
      }
      continue;
    }
    if (grant.suspended_on != kNoDate && Chance(400)) {
      const int32_t date = std::max(grant.suspended_on, Today());
      Emit("service_resumed", date, {{"grant_id", id}}, actor, &grant);
      grant.suspended_on = kNoDate;
      ++counts_.resumptions;
      continue;
    }
    if (Chance(8)) {
      // Ended, sometimes recorded months after the last day (deliveries after it are already recorded).
      const int32_t low = std::max(grant.valid_from, MonthStart() - 120), high = std::min(grant.valid_until, MonthEnd());
      if (low <= high) {
        static const std::vector<std::string> kReasons = {"completed", "person_moved", "withdrawn_by_person",
                                                          "no_longer_eligible", "other"};
        const int32_t date = static_cast<int32_t>(Between(low, high));
        Json data = {{"grant_id", id}, {"reason", Pick(kReasons)}};
        if (data["reason"] == "other") data["note"] = "see the file";
        Emit("grant_ended", date, data, actor, &grant);
        grant.ended_on = date;
        grant.suspended_on = kNoDate;
        ++counts_.grant_ends;
      }
    }
  }
}

std::string Generator::PeriodKey(const GrantState& grant, int32_t date) const {
  const CivilDate civil = CivilFromDays(date);
  if (grant.period == "month") return grant.id + "|" + FormatDate(date).substr(0, 7);
  if (grant.period == "year") return grant.id + "|" + std::to_string(civil.year);
  if (grant.period == "week") {
    const int weekday = ((date % 7) + 7 + 3) % 7;  // 0 = Monday (1970-01-01 was a Thursday)
    return grant.id + "|w" + std::to_string(date - weekday);
  }
  return grant.id + "|grant";
}

// The kind of therapy of a session-based rehabilitation or group delivery: a few kinds, so that Kurzeme's limits per
// kind (10 of each, at most 4 or 2 kinds; the world's PR-KUR rules) are crossed; sometimes none is recorded.
std::string Generator::TherapyKind(const std::string& service) {
  static const std::vector<std::string> kChild = {"psychologist", "speech_therapy", "physiotherapy", "art_therapy",
                                                  "music_therapy", "ergotherapy"};
  static const std::vector<std::string> kParent = {"psychologist", "rehabilitologist", "physiotherapy", "support_group",
                                                   "art_therapy"};
  static const std::vector<std::string> kGroups = {"support_group", "group_session"};
  const std::vector<std::string>* kinds = service == "child_rehabilitation"    ? &kChild
                                          : service == "parent_rehabilitation" ? &kParent
                                          : service == "adult_support_group"   ? &kGroups
                                                                               : nullptr;
  if (kinds == nullptr || Chance(80)) return "";
  return Pick(*kinds);
}

int64_t Generator::Cost(const GrantState& grant, int64_t quantity) {
  if (Chance(25)) return 0;  // free: cannot be claimed
  const int64_t base = grant.unit_cost ? grant.unit_cost_cents : Spec(grant.service).cents_per_unit;
  int64_t cost = base * quantity * Between(90, 110) / 100;
  if (grant.unit_cost && Chance(400)) cost = std::max<int64_t>(0, base * quantity - 570 * quantity);  // 24.30, not 30.00
  return cost;
}

void Generator::Deliver(GrantState& grant, int32_t date, int32_t last_date, int64_t quantity) {
  const Unit unit = Spec(grant.service).unit;
  if (unit != Unit::DAYS) last_date = date;
  last_date = std::min(last_date, grant.LastDay());
  if (date < grant.valid_from || last_date < date) return;
  quantity = std::clamp<int64_t>(quantity, 1, MaxPerDay(unit) * (last_date - date + 1));
  const std::string delivery_id = NumberedId("D-", ++delivery_counter_, 6);
  Json data = {{"delivery_id", delivery_id}, {"grant_id", grant.id},
               {"provider_id", Chance(900) ? grant.provider_id : Pick(providers_)}, {"quantity", quantity},
               {"cost_cents", Cost(grant, quantity)}, {"mode", Chance(850) ? "in_person" : "remote"}};
  if (grant.service == "child_care") {
    const int64_t purpose = Below(100);
    if (purpose < 50) data["purpose"] = "care";
    else if (purpose < 85) data["purpose"] = "leisure";
  }
  if (const std::string kind = TherapyKind(grant.service); !kind.empty()) data["kind"] = kind;
  if (last_date > date) data["last_date"] = FormatDate(last_date);
  const std::string actor = Chance(500) ? "provider:" + data["provider_id"].get<std::string>()
                                        : SocialService(ActiveFor(grant.municipality_id, MonthEnd()));
  Emit("service_delivered", date, data, actor, &grant);
  DeliveryState& delivery = deliveries_[delivery_id];
  delivery.grant_id = grant.id;
  delivery.date = date;
  delivery.last_date = last_date;
  delivery.quantity = quantity;
  delivery.cost_cents = data["cost_cents"].get<int64_t>();
  delivery_ids_.push_back(delivery_id);
  used_[PeriodKey(grant, date)] += quantity;
  ++counts_.deliveries;
  ++deliveries_this_month_;
  if (last_date > date) ++counts_.stays;
}

void Generator::LightDelivery(GrantState& grant, int32_t low, int32_t high) {
  const int32_t date = static_cast<int32_t>(Between(low, high));
  switch (Spec(grant.service).unit) {
    case Unit::MINUTES:
      Deliver(grant, date, date, Between(2, grant.service == "child_care" ? 30 : 8) * 30);
      break;
    case Unit::SESSIONS:
      Deliver(grant, date, date, Between(1, 2));
      break;
    case Unit::DAYS:
      if (Chance(600)) {
        Deliver(grant, date, date, 1);
      } else {
        const int32_t span = static_cast<int32_t>(Between(2, 7));  // may run into the next month
        Deliver(grant, date, date + span - 1, Chance(800) ? span : span - 1);
      }
      break;
  }
}

void Generator::FillPeriod(GrantState& grant, int32_t low, int32_t high, int64_t total) {
  const Unit unit = Spec(grant.service).unit;
  const int64_t days = high - low + 1;
  if (total <= 0 || days <= 0) return;
  if (unit == Unit::DAYS) {
    const int64_t quantity = std::min(total, days);
    const int32_t start = static_cast<int32_t>(Between(low, high - (quantity - 1)));
    const int32_t span = static_cast<int32_t>(quantity) + (Chance(150) && start + quantity <= high ? 1 : 0);
    Deliver(grant, start, start + span - 1, quantity);
    return;
  }
  const int64_t per_delivery = unit == Unit::MINUTES ? 1200 : 6;
  int64_t count = std::min<int64_t>({(total + per_delivery - 1) / per_delivery, days, 16});
  total = std::min(total, MaxPerDay(unit) * count);
  std::vector<int32_t> offsets;
  for (int32_t offset = 0; offset < days; ++offset) offsets.push_back(offset);
  Shuffle(&offsets);
  offsets.resize(count);
  std::sort(offsets.begin(), offsets.end());
  for (int64_t i = 0; i < count; ++i) {
    const int64_t quantity = total / count + (i < total % count ? 1 : 0);
    Deliver(grant, low + offsets[i], low + offsets[i], quantity);
  }
}

void Generator::Deliveries() {
  const int months_left = kMonths - month_index_;
  int64_t budget = (target_deliveries_ - counts_.deliveries + months_left - 1) / months_left;
  std::vector<std::string> active;
  for (const auto& [id, grant] : grants_) {
    if (grant.valid_from <= MonthEnd() && grant.LastDay() >= MonthStart()) active.push_back(id);
  }
  Shuffle(&active);
  for (const std::string& id : active) {
    if (budget <= 0) break;
    GrantState& grant = grants_[id];
    const int64_t before = counts_.deliveries;
    int32_t low = std::max(grant.valid_from, MonthStart()), high = std::min(grant.LastDay(), MonthEnd());
    if (grant.period == "week") {  // the week of a random day, within this month
      const int32_t day = static_cast<int32_t>(Between(low, high));
      const int32_t monday = day - ((day % 7) + 7 + 3) % 7;
      low = std::max(low, monday);
      high = std::min(high, monday + 6);
    }
    const int64_t used = used_[PeriodKey(grant, low)];
    const int64_t remaining = grant.quantity - used;
    const int64_t scenario = Below(100);
    if (scenario < 55 || remaining <= 0) {
      LightDelivery(grant, low, high);
      if (scenario >= 90) LightDelivery(grant, low, high);
    } else {
      // Exactly at the grant's quantity, one unit over, or across it.
      ++counts_.cap_scenarios;
      int64_t total = remaining;
      if (scenario >= 70 && scenario < 80) total += 1;
      if (scenario >= 80) total += Between(1, std::max<int64_t>(1, grant.quantity / 4));
      FillPeriod(grant, low, high, total);
    }
    budget -= counts_.deliveries - before;
    FlushNoise();
  }
}

void Generator::BoundaryDeliveries() {
  auto first = special_dates_.lower_bound(MonthStart());
  std::vector<std::pair<int32_t, std::string>> todo;
  for (auto it = first; it != special_dates_.end() && it->first <= MonthEnd(); ++it) {
    for (const std::string& person_id : it->second) todo.emplace_back(it->first, person_id);
  }
  if (Chance(350)) todo.emplace_back(MonthEnd(), "");
  for (const auto& [date, person_id] : todo) {
    int made = 0;
    for (auto& [id, grant] : grants_) {
      if (made >= 6) break;
      if (date < grant.valid_from || date > grant.LastDay()) continue;
      if (!person_id.empty() ? grant.person_id != person_id : !Chance(450)) continue;
      const int64_t before = counts_.deliveries;
      switch (Spec(grant.service).unit) {
        case Unit::MINUTES: Deliver(grant, date, date, Between(8, 24) * 60); break;
        case Unit::SESSIONS: Deliver(grant, date, date, Between(1, 3)); break;
        case Unit::DAYS: {  // a stay across the boundary
          const int32_t span = static_cast<int32_t>(Between(2, 5));
          Deliver(grant, date - (Chance(500) ? 1 : 0), date + span - 1, span);
          break;
        }
      }
      made += static_cast<int>(counts_.deliveries - before);
      counts_.boundary_deliveries += counts_.deliveries - before;
    }
  }
}

void Generator::LateDeliveries() {
  if (!Chance(450)) return;
  const int count = static_cast<int>(Between(1, 3));
  for (int i = 0; i < count; ++i) {
    const int32_t low_bound = MonthStart() - 300, high_bound = MonthStart() - 31;
    std::vector<std::string> candidates;
    for (const auto& [id, grant] : grants_) {
      if (grant.valid_from <= high_bound && grant.LastDay() >= low_bound) candidates.push_back(id);
    }
    if (candidates.empty()) return;
    GrantState& grant = grants_[Pick(candidates)];
    const int64_t before = counts_.deliveries;
    LightDelivery(grant, std::max(grant.valid_from, low_bound), std::min(grant.LastDay(), high_bound));
    counts_.late_deliveries += counts_.deliveries - before;
  }
}

std::string Generator::RandomLiveDelivery() {
  for (int attempt = 0; attempt < 20 && !delivery_ids_.empty(); ++attempt) {
    const size_t recent = std::min<size_t>(80, delivery_ids_.size());
    const std::string& id = Chance(600) ? delivery_ids_[delivery_ids_.size() - 1 - Below(recent)] : Pick(delivery_ids_);
    if (!deliveries_[id].voided) return id;
  }
  return "";
}

void Generator::CorrectionsAndVoids() {
  const int64_t corrections = (deliveries_this_month_ * 45 + static_cast<int64_t>(Below(1000))) / 1000;
  const int64_t voids = (deliveries_this_month_ * 28 + static_cast<int64_t>(Below(1000))) / 1000;
  for (int64_t i = 0; i < corrections; ++i) {
    const std::string id = RandomLiveDelivery();
    if (id.empty()) return;
    DeliveryState& delivery = deliveries_[id];
    GrantState& grant = grants_[delivery.grant_id];
    const Unit unit = Spec(grant.service).unit;
    const int64_t most = MaxPerDay(unit) * (delivery.last_date - delivery.date + 1);
    int64_t quantity = delivery.quantity + (Chance(500) ? 1 : -1) * Between(1, std::max<int64_t>(1, delivery.quantity / 3));
    if (Chance(200)) quantity = most;  // corrected up to the most the span allows: across any cap
    quantity = std::clamp<int64_t>(quantity, 1, most);
    const int64_t cost = Cost(grant, quantity);
    Json data = {{"delivery_id", id}, {"quantity", quantity}, {"cost_cents", cost}, {"reason", "timesheet"}};
    if (grant.service == "child_care" && Chance(300)) data["purpose"] = Chance(500) ? "care" : "leisure";
    if (Chance(100)) {  // the kind recorded wrongly: under a cap per kind, a kind's place moves
      if (const std::string kind = TherapyKind(grant.service); !kind.empty()) data["kind"] = kind;
    }
    Emit("delivery_corrected", std::max(delivery.date, Today()), data, SocialService(ActiveFor(grant.municipality_id, MonthEnd())),
         &grant);
    used_[PeriodKey(grant, delivery.date)] += quantity - delivery.quantity;
    delivery.quantity = quantity;
    delivery.cost_cents = cost;
    ++counts_.corrections;
    if (!delivery.claim_id.empty()) ++counts_.changes_of_claimed;
  }
  for (int64_t i = 0; i < voids; ++i) {
    const std::string id = RandomLiveDelivery();
    if (id.empty()) return;
    DeliveryState& delivery = deliveries_[id];
    GrantState& grant = grants_[delivery.grant_id];
    Emit("delivery_voided", std::max(delivery.date, Today()), {{"delivery_id", id}, {"reason", "did not happen"}},
         SocialService(ActiveFor(grant.municipality_id, MonthEnd())), &grant);
    used_[PeriodKey(grant, delivery.date)] -= delivery.quantity;
    delivery.voided = true;
    ++counts_.voids;
    if (!delivery.claim_id.empty()) ++counts_.changes_of_claimed;
  }
}

}  // namespace di::workload::fuzzy
