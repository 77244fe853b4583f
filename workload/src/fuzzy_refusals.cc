// Events the adversarial history writes for the ledger to refuse: each is wrong in exactly one way.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "di/projections/default_rules.h"
#include "fuzzy_generator.h"

namespace di::workload::fuzzy {

Json Generator::DeliveryData(const GrantState& grant, int64_t quantity) {
  return {{"delivery_id", NumberedId("DX-", ++refused_counter_, 5)}, {"grant_id", grant.id},
          {"provider_id", grant.provider_id}, {"quantity", quantity}, {"cost_cents", 1000}, {"mode", "in_person"}};
}

Json Generator::ClaimData(const std::string& project_id, const std::string& claimant, int32_t from, int32_t until,
                          const std::string& delivery_id, int64_t amount, int64_t total) {
  return {{"claim_id", NumberedId("CX-", ++refused_counter_, 5)}, {"project_id", project_id},
          {"municipality_id", claimant}, {"period_start", FormatDate(from)}, {"period_end", FormatDate(until)},
          {"lines", {{{"delivery_id", delivery_id}, {"amount_cents", amount}}}}, {"total_cents", total}};
}

Json Generator::DeliveryClaimData(const std::string& delivery_id, int32_t date, int64_t amount, int64_t total) {
  const DeliveryState& delivery = deliveries_[delivery_id];
  const std::string claimant = ActiveFor(grants_[delivery.grant_id].municipality_id, date);
  return ClaimData(grants_[delivery.grant_id].project_id, claimant, delivery.date, delivery.date, delivery_id, amount,
                   total);
}

Json Generator::RespiteGrantData(const std::string& person_id, int32_t valid_from, int32_t valid_until) {
  return {{"grant_id", NumberedId("GX-", ++refused_counter_, 5)}, {"person_id", person_id},
          {"municipality_id", ActiveFor("M-JELGAVA", valid_from)}, {"service", "respite"}, {"quantity", 30},
          {"period", "year"}, {"valid_from", FormatDate(valid_from)}, {"valid_until", FormatDate(valid_until)},
          {"cost_basis", "actual_cost"}};
}

void Generator::Refuse(const std::string& type, int32_t date, Json data, std::string field, std::string what, std::string code) {
  EmitRefused(MakeEvent("X", type, date, std::move(data), "fuzz:clerk"), std::move(code), std::move(field), std::move(what));
}

// The kinds of refused events by the event they refuse. `today` is drawn first, whatever the kind.
bool Generator::TryInvalid(int kind) {
  const int32_t today = Today();
  switch (kind) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 43:
      return RefuseDelivery(kind, today);
    case 7: case 8: case 9: case 42: case 44:
      return RefuseDeliveryChange(kind, today);
    case 10: case 11: case 12: case 13: case 14: case 45:
      return RefuseClaim(kind, today);
    case 15: case 16: case 17: case 47:
      return RefuseReview(kind, today);
    case 18: case 19: case 20: case 21:
      return RefusePayment(kind, today);
    case 22: case 23: case 24: case 25: case 26: case 27: case 28: case 39:
      return RefuseGrantChange(kind, today);
    case 29: case 30: case 31:
      return RefusePersonRecord(kind, today);
    case 32: case 33: case 40: case 41: case 46:
      return RefuseDecision(kind, today);
    case 34: case 35: case 36: case 37: case 38:
      return RefuseMalformed(kind);
  }
  return false;
}

bool Generator::RefuseDelivery(int kind, int32_t today) {
  if (kind == 0) {  // unknown grant
    if (grants_.empty()) return false;
    Json data = DeliveryData(grants_.begin()->second, 60);
    data["grant_id"] = "G-NOPE-" + std::to_string(refused_counter_);
    Refuse("service_delivered", today, data, "data.grant_id", "delivery on an unknown grant");
    return true;
  }
  auto any = [](const GrantState&) { return true; };
  auto minutes = [](const GrantState& g) { return Spec(g.service).unit == Unit::MINUTES; };
  auto stays = [](const GrantState& g) { return Spec(g.service).unit == Unit::DAYS && g.LastDay() > g.valid_from; };
  GrantState* grant = kind == 2 || kind == 3 ? RandomGrant(minutes) : kind == 4 ? RandomGrant(stays) : RandomGrant(any);
  if (grant == nullptr) return false;
  switch (kind) {
    case 1:  // delivered the day before the grant starts
      Refuse("service_delivered", grant->valid_from - 1, DeliveryData(*grant, 1), "effective_date",
             "delivery before the grant's validity");
      return true;
    case 2:  // 24 h and a minute in one day
      Refuse("service_delivered", grant->valid_from, DeliveryData(*grant, 1441), "data.quantity", "1441 minutes in a day");
      return true;
    case 3:  // a span of days for a service counted in minutes
    case 4: {  // three days in a two-day stay
      Json data = DeliveryData(*grant, kind == 3 ? 60 : 3);
      data["last_date"] = FormatDate(grant->valid_from + 1);
      Refuse("service_delivered", grant->valid_from, data, kind == 3 ? "data.last_date" : "data.quantity",
             kind == 3 ? "last_date on a minutes service" : "3 days in a 2-day span");
      return true;
    }
    case 5:  // nothing delivered
      Refuse("service_delivered", grant->valid_from, DeliveryData(*grant, 0), "data.quantity", "quantity 0");
      return true;
    case 6: {  // a negative cost
      Json data = DeliveryData(*grant, 1);
      data["cost_cents"] = -5;
      Refuse("service_delivered", grant->valid_from, data, "data.cost_cents", "negative cost");
      return true;
    }
    default: {  // 43: an unknown provider
      Json data = DeliveryData(*grant, 1);
      data["provider_id"] = "PV-NOPE";
      Refuse("service_delivered", grant->valid_from, data, "data.provider_id", "unknown provider");
      return true;
    }
  }
}

bool Generator::RefuseDeliveryChange(int kind, int32_t today) {
  if (kind == 9) {  // void of an unknown delivery
    Refuse("delivery_voided", today, {{"delivery_id", "D-NOPE"}, {"reason", "typo"}}, "data.delivery_id",
           "void of an unknown delivery");
    return true;
  }
  const bool of_voided = kind == 7 || kind == 44;
  const std::string id = RandomIdOf(deliveries_, [&](const DeliveryState& d) { return d.voided == of_voided; });
  if (id.empty()) return false;
  const DeliveryState& delivery = deliveries_[id];
  switch (kind) {
    case 7:  // correction of a voided delivery
      Refuse("delivery_corrected", std::max(delivery.date, today),
             {{"delivery_id", id}, {"quantity", 1}, {"cost_cents", 100}, {"reason", "typo"}}, "data.delivery_id",
             "correction of a voided delivery");
      return true;
    case 8:  // correction dated before the delivery
      Refuse("delivery_corrected", delivery.date - 1,
             {{"delivery_id", id}, {"quantity", 1}, {"cost_cents", 100}, {"reason", "typo"}}, "effective_date",
             "correction before the delivery");
      return true;
    case 42: {  // a correction beyond the delivery's span
      const int64_t most = MaxPerDay(Spec(grants_[delivery.grant_id].service).unit) * (delivery.last_date - delivery.date + 1);
      Refuse("delivery_corrected", std::max(delivery.date, today),
             {{"delivery_id", id}, {"quantity", most + 1}, {"cost_cents", 100}, {"reason", "typo"}}, "data.quantity",
             "correction beyond the span");
      return true;
    }
    default:  // 44: a void of a voided delivery
      Refuse("delivery_voided", std::max(delivery.date, today), {{"delivery_id", id}, {"reason", "again"}},
             "data.delivery_id", "void of a voided delivery");
      return true;
  }
}

bool Generator::RefuseClaim(int kind, int32_t today) {
  const int32_t date = MonthEnd();
  switch (kind) {
    case 10:    // claim above the delivery's cost
    case 11: {  // claim whose total is not the sum of its lines
      const std::string id = RandomIdOf(deliveries_, [&](const DeliveryState& d) {
        return !d.voided && d.claim_id.empty() && d.cost_cents >= 1 && d.date <= date;
      });
      if (id.empty()) return false;
      const int64_t amount = deliveries_[id].cost_cents + (kind == 10 ? 1 : 0);
      Refuse("reimbursement_claimed", date, DeliveryClaimData(id, date, amount, amount + (kind == 11 ? 1 : 0)),
             kind == 10 ? "data.lines[0].amount_cents" : "data.total_cents",
             kind == 10 ? "claims more than the delivery cost" : "total is not the sum of the lines");
      return true;
    }
    case 12:  // claim by a municipality merged away
      if (Active("M-BAUSKA", date) || delivery_ids_.empty()) return false;
      Refuse("reimbursement_claimed", date,
             ClaimData("PR-ZEM", "M-BAUSKA", MonthStart(), date, delivery_ids_.front(), 100, 100),
             "data.municipality_id", "claim by a merged municipality");
      return true;
    case 45: {  // a delivery claimed from another project than the one paying it (its grant's)
      const std::string id = RandomIdOf(deliveries_, [&](const DeliveryState& d) {
        return !d.voided && d.claim_id.empty() && d.cost_cents >= 1 && d.date <= date;
      });
      if (id.empty()) return false;
      Json data = DeliveryClaimData(id, date, 1, 1);
      data["project_id"] = grants_[deliveries_[id].grant_id].project_id == "PR-ZEM" ? "PR-KUR" : "PR-ZEM";
      Refuse("reimbursement_claimed", date, data, "data.lines[0].delivery_id", "delivery paid by another project");
      return true;
    }
    case 13: {  // a delivery claimed twice
      const std::string id = RandomIdOf(deliveries_, [&](const DeliveryState& d) {
        return !d.voided && !d.claim_id.empty() && d.date <= date && d.cost_cents >= 1;
      });
      if (id.empty()) return false;
      Refuse("reimbursement_claimed", date, DeliveryClaimData(id, date, 1, 1), "data.lines[0].delivery_id",
             "delivery already in a claim");
      return true;
    }
    default: {  // 14: the claimed period ends after the claim date
      const std::string claimant = ActiveFor("M-JELGAVA", today);
      if (delivery_ids_.empty()) return false;
      Refuse("reimbursement_claimed", today,
             ClaimData("PR-ZEM", claimant, today - 10, today + 5, delivery_ids_.back(), 100, 100), "data.period_end",
             "claim period ends after the claim date");
      return true;
    }
  }
}

bool Generator::RefuseReview(int kind, int32_t today) {
  if (kind == 17) {  // a claim reviewed twice
    const std::string id = RandomIdOf(claims_, [](const ClaimState& c) { return c.reviewed; });
    if (id.empty()) return false;
    Refuse("claim_reviewed", std::max(claims_[id].reviewed_on, today),
           {{"claim_id", id}, {"lines", {{{"delivery_id", claims_[id].lines.front().first}, {"accepted", false},
                                          {"approved_cents", 0}, {"reason", "again"}}}},
            {"approved_total_cents", 0}},
           "data.claim_id", "second review");
    return true;
  }
  if (kind == 47) {  // the pilot's claim reviewed before its budget is recorded
    const std::string id = RandomIdOf(claims_, [&](const ClaimState& c) {
      return !c.reviewed && c.project_id == "PR-IBM" && !pilot_budget_known_;
    });
    if (id.empty()) return false;
    const ClaimState& claim = claims_[id];
    Json review = Json::array();
    int64_t total = 0;
    for (const auto& [delivery_id, claimed] : claim.lines) {
      review.push_back({{"delivery_id", delivery_id}, {"accepted", true}, {"approved_cents", claimed}});
      total += claimed;
    }
    Refuse("claim_reviewed", std::max(claim.date, today),
           {{"claim_id", id}, {"lines", review}, {"approved_total_cents", total}}, "data.claim_id",
           "review before the project's budget is known");
    return true;
  }
  // 15: review approving more than claimed; 16: partly approved without a reason.
  const std::string id = RandomIdOf(claims_, [&](const ClaimState& c) {
    if (c.reviewed || (c.project_id == "PR-IBM" && !pilot_budget_known_)) return false;  // refused for that first
    if (kind == 15) return true;
    return std::any_of(c.lines.begin(), c.lines.end(), [](const auto& line) { return line.second >= 2; });
  });
  if (id.empty()) return false;
  const ClaimState& claim = claims_[id];
  std::vector<std::pair<std::string, int64_t>> lines = claim.lines;
  if (kind == 16) {
    std::stable_partition(lines.begin(), lines.end(), [](const auto& line) { return line.second >= 2; });
  }
  Json review = Json::array();
  int64_t total = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    int64_t approved = lines[i].second;
    if (i == 0) approved = kind == 15 ? approved + 1 : approved - 1;
    review.push_back({{"delivery_id", lines[i].first}, {"accepted", true}, {"approved_cents", approved}});
    total += approved;
  }
  Refuse("claim_reviewed", std::max(claim.date, today),
         {{"claim_id", id}, {"lines", review}, {"approved_total_cents", total}},
         kind == 15 ? "data.lines[0].approved_cents" : "data.lines[0].reason",
         kind == 15 ? "approves more than claimed" : "partly approved without a reason");
  return true;
}

bool Generator::RefusePayment(int kind, int32_t today) {
  if (kind == 21) {  // payment on a claim not reviewed
    const std::string id = RandomIdOf(claims_, [](const ClaimState& c) { return !c.reviewed; });
    if (id.empty()) return false;
    Refuse("reimbursement_paid", std::max(claims_[id].date, today),
           {{"claim_id", id}, {"payment_id", NumberedId("PAYX-", ++refused_counter_, 5)}, {"amount_cents", 1},
            {"esf_cents", 1}, {"state_cents", 0}},
           "data.claim_id", "payment before any review");
    return true;
  }
  // 18: paying more than approved; 19: ESF + state != amount; 20: paid before the review.
  const std::string id = RandomIdOf(claims_, [&](const ClaimState& c) {
    return c.reviewed && (kind == 18 || c.approved_total > c.paid_total);
  });
  if (id.empty()) return false;
  const ClaimState& claim = claims_[id];
  const int64_t amount = kind == 18 ? claim.approved_total - claim.paid_total + 1 : 1;
  Json data = {{"claim_id", id}, {"payment_id", NumberedId("PAYX-", ++refused_counter_, 5)}, {"amount_cents", amount},
               {"esf_cents", amount}, {"state_cents", kind == 19 ? 1 : 0}};
  const int32_t date = kind == 20 ? claim.reviewed_on - 1 : std::max(claim.reviewed_on, today);
  Refuse("reimbursement_paid", date, data, kind == 20 ? "effective_date" : "data.amount_cents",
         kind == 18 ? "pays more than approved" : kind == 19 ? "ESF + state != amount" : "paid before the review");
  return true;
}

bool Generator::RefuseGrantChange(int kind, int32_t today) {
  auto open = [](const GrantState& grant) { return grant.Open(); };
  auto open_not_suspended = [](const GrantState& g) { return g.Open() && g.suspended_on == kNoDate; };
  GrantState* grant = kind == 22   ? RandomGrant([](const GrantState& g) { return !g.Open(); })
                      : kind == 24 ? RandomGrant([](const GrantState& g) { return g.Open() && !g.unit_cost; })
                      : kind == 26 || kind == 27 ? RandomGrant(open_not_suspended)
                                                 : RandomGrant(open);
  if (grant == nullptr) return false;
  const int32_t amended_on = std::max(grant->created_on, today);
  switch (kind) {
    case 22:  // amendment of an ended grant
      Refuse("grant_amended", amended_on, {{"grant_id", grant->id}, {"quantity", 5}, {"reason", "late"}},
             "data.grant_id", "amendment of an ended grant");
      return true;
    case 23:  // validity ending before it starts
      Refuse("grant_amended", amended_on,
             {{"grant_id", grant->id}, {"valid_until", FormatDate(grant->valid_from - 1)}, {"reason", "typo"}},
             "data.valid_until", "valid_until before valid_from");
      return true;
    case 24:  // a unit cost on an actual-cost grant
      Refuse("grant_amended", amended_on, {{"grant_id", grant->id}, {"unit_cost_cents", 999}, {"reason", "typo"}},
             "data.unit_cost_cents", "unit cost on an actual-cost grant");
      return true;
    case 25:  // an amendment that changes nothing
      Refuse("grant_amended", amended_on, {{"grant_id", grant->id}, {"reason", "nothing"}}, "data.quantity",
             "amendment without a change");
      return true;
    case 26:  // resuming a grant that is not suspended
      Refuse("service_resumed", today, {{"grant_id", grant->id}}, "data.grant_id", "resumed without a suspension");
      return true;
    case 27:  // suspended after the validity
      Refuse("service_suspended", grant->valid_until + 1, {{"grant_id", grant->id}, {"reason", "late"}},
             "effective_date", "suspension after the validity");
      return true;
    case 28:  // ended before it started
      Refuse("grant_ended", grant->valid_from - 1, {{"grant_id", grant->id}, {"reason", "completed"}},
             "effective_date", "end before the validity");
      return true;
    default: {  // 39: a stale expected_version on an otherwise valid amendment
      Json event = MakeEvent("X", "grant_amended", amended_on,
                             {{"grant_id", grant->id}, {"quantity", grant->quantity + 1}, {"reason", "race"}},
                             "fuzz:clerk");
      event["expected_version"] = grant->stream_version + 2;
      EmitRefused(std::move(event), "conflict", "expected_version", "stale expected_version");
      return true;
    }
  }
}

bool Generator::RefusePersonRecord(int kind, int32_t today) {
  if (kind == 29) {  // a child of 18
    const CivilDate civil = CivilFromDays(today);
    Refuse("person_enrolled", today,
           {{"person_id", NumberedId("PX-", ++refused_counter_, 5)}, {"project_id", "PR-ZEM"},
            {"target_group", "child_functional_impairment"},
            {"birth_date", FormatDate(Date(civil.year - 18, civil.month, std::min(civil.day, 28)))},
            {"residence_municipality_id", ActiveFor("M-JELGAVA", today)}},
           "data.birth_date", "child aged 18");
    return true;
  }
  if (kind == 30) {  // a parent of an unknown child
    Refuse("person_enrolled", today,
           {{"person_id", NumberedId("PX-", ++refused_counter_, 5)}, {"project_id", "PR-ZEM"},
            {"target_group", "parent_of_child"}, {"birth_date", "1985-01-01"},
            {"residence_municipality_id", ActiveFor("M-JELGAVA", today)},
            {"representative", {{"relation", "parent"}, {"child_ids", {"P-NOPE"}}}}},
           "data.representative.child_ids[0]", "parent of an unknown child");
    return true;
  }
  // 31: a special-care opinion for someone not an FT child.
  for (const std::string& id : person_order_) {
    const PersonState& person = persons_[id];
    if (!person.enrolled || person.group == "child_functional_impairment") continue;
    Refuse("special_care_opinion_recorded", today, {{"person_id", id}, {"valid_from", FormatDate(today)}},
           "data.person_id", "opinion for a " + person.group);
    return true;
  }
  return false;
}

bool Generator::RefuseDecision(int kind, int32_t today) {
  if (kind == 32) {  // a grant ending before it starts
    for (const std::string& id : person_order_) {
      if (!persons_[id].enrolled) continue;
      Refuse("service_granted", today, RespiteGrantData(id, today, today - 1), "data.valid_until",
             "grant valid_until before valid_from");
      return true;
    }
    return false;
  }
  if (kind == 33) {  // a grant citing another person's application
    if (applications_.empty()) return false;
    const auto& [application_id, application] = *std::next(applications_.begin(), Below(applications_.size()));
    for (const std::string& id : person_order_) {
      if (!persons_[id].enrolled || id == application.person_id) continue;
      Json data = RespiteGrantData(id, today, today + 30);
      data["application_id"] = application_id;
      Refuse("service_granted", today, data, "data.application_id", "another person's application");
      return true;
    }
    return false;
  }
  if (kind == 46) {  // a grant paid by a project its municipality is not a partner of
    for (const std::string& id : person_order_) {
      if (!persons_[id].enrolled) continue;
      Json data = RespiteGrantData(id, today, today + 30);
      data["project_id"] = "PR-IBM";
      Refuse("service_granted", today, data, "data.project_id", "grant of a project the municipality is not in");
      return true;
    }
    return false;
  }
  if (kind == 40) {  // a plan approved before its assessment
    if (assessments_.empty()) return false;
    const auto& [assessment_id, assessment] = *std::next(assessments_.begin(), Below(assessments_.size()));
    Refuse("support_plan_approved", assessment.date - 1,
           {{"plan_id", NumberedId("PLX-", ++refused_counter_, 5)}, {"person_id", assessment.person_id},
            {"assessment_id", assessment_id}, {"recommended_services", {"respite"}},
            {"valid_from", FormatDate(assessment.date)}},
           "effective_date", "plan before its assessment");
    return true;
  }
  // 41: an application decided twice.
  for (const auto& [id, application] : applications_) {
    if (!application.decided) continue;
    Refuse("application_decided", std::max(application.submitted_on, today),
           {{"application_id", id}, {"decision", "granted"}}, "data.application_id", "decided twice");
    return true;
  }
  return false;
}

bool Generator::RefuseMalformed(int kind) {
  if (kind == 34) {  // the same id, different content
    if (appended_.empty()) return false;
    Json event = history_[Pick(appended_)];
    event["actor"] = "someone:else";
    EmitRefused(std::move(event), "duplicate_id", "id", "an event id reused with other content");
    return true;
  }
  // 35: 29 February 2021; 36: an unknown key; 37: "unspecified" spelled out; 38: a fractional quantity.
  GrantState* grant = RandomGrant([&](const GrantState& g) { return kind != 37 || g.service == "child_care"; });
  if (grant == nullptr) return false;
  Json event = MakeEvent("X", "service_delivered", grant->valid_from, DeliveryData(*grant, 60), "fuzz:clerk");
  std::string field;
  if (kind == 35) event["effective_date"] = "2021-02-29", field = "effective_date";
  if (kind == 36) event["data"]["colour"] = "red", field = "data.colour";
  if (kind == 37) event["data"]["purpose"] = "unspecified", field = "data.purpose";
  if (kind == 38) event["data"]["quantity"] = 60.5, field = "data.quantity";
  EmitRefused(std::move(event), "invalid_argument", field, "codec: " + field);
  return true;
}

void Generator::EmitInvalid() {
  constexpr int kKinds = 48;
  for (int attempt = 0; attempt < 16; ++attempt) {
    if (TryInvalid(static_cast<int>(Below(kKinds)))) return;
  }
  TryInvalid(9);  // always possible
}

}  // namespace di::workload::fuzzy
