// The monthly work of the region history: deliveries and reimbursement claims.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "region_simulator.h"

namespace di::workload::region {

// ---------------------------------------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------------------------------------

int64_t Simulator::DeliveryCost(const Grant& grant, int64_t quantity, int32_t day) const {
  const int64_t rate = grant.RateOn(day);
  return UnitOf(grant.service) == Unit::MINUTES ? DivideHalfUp(quantity * rate, 60)
                                                         : quantity * rate;
}

// What is left of the grant's quantity for its period on `day` and of the rules' person-level caps that
// count the delivery (the leisure sub-cap only for leisure).
int64_t Simulator::Room(const Grant& grant, int32_t day, bool leisure) const {
  const int64_t instance =
      grant.period == Period::kGrantPeriod ? 0 : CapInstance(static_cast<CapPeriodKind>(grant.period), day);
  int64_t room = grant.QuantityOn(day) - (instance == grant.period_instance ? grant.period_used : 0);
  const Person& person = persons_[grant.person];
  for (int i = 0; i < grant.person_cap_count; ++i) {
    const PersonCap& cap = grant.person_caps[static_cast<size_t>(i)];
    if (cap.leisure_only && !leisure) continue;
    const auto used = person.cap_usage.find(CapKey(cap, day));
    room = std::min(room, cap.limit - (used == person.cap_usage.end() ? 0 : used->second));
  }
  return std::max<int64_t>(0, room);
}

void Simulator::UseCaps(Grant& grant, int32_t day, int64_t quantity, bool leisure) {
  const int64_t instance =
      grant.period == Period::kGrantPeriod ? 0 : CapInstance(static_cast<CapPeriodKind>(grant.period), day);
  if (instance != grant.period_instance) {
    grant.period_instance = instance;
    grant.period_used = 0;
  }
  grant.period_used += quantity;
  Person& person = persons_[grant.person];
  for (int i = 0; i < grant.person_cap_count; ++i) {
    const PersonCap& cap = grant.person_caps[static_cast<size_t>(i)];
    if (!cap.leisure_only || leisure) person.cap_usage[CapKey(cap, day)] += quantity;
  }
}

void Simulator::DeliverMonth(int32_t month_start, int32_t month_end,
                             std::vector<ClaimableDelivery>* claimable) {
  const CivilDate month = CivilFromDays(month_start);
  const uint64_t month_key = static_cast<uint64_t>(month.year * 12 + month.month);
  for (Grant& grant : grants_) {
    if (grant.valid_from > month_end || grant.last_day < month_start) continue;
    GrantMonth m{grant,
                 std::max(month_start, grant.valid_from),
                 std::min(std::min(month_end, grant.last_day), services_end_),
                 month_end,
                 Rng(options_.seed, Stream::kDeliveries, grant.number, month_key),
                 claimable};
    switch (ProfileOf(grant.service).pattern) {
      case Pattern::kVisits:
        DeliverVisits(m);
        break;
      case Pattern::kWeeklyStays:
        DeliverWeeklyStays(m);
        break;
      case Pattern::kBlocks:
        DeliverStay(m);
        break;
    }
  }
}

// The quantity the provider records: within the grant and the rules' caps when it keeps to them.
int64_t Simulator::WithinLimits(const Grant& grant, int32_t day, int64_t quantity, bool leisure) const {
  if (!grant.keeps_limits) return quantity;
  const int64_t room = Room(grant, day, leisure);
  if (UnitOf(grant.service) != Unit::MINUTES) return std::min(quantity, room);
  const int64_t minutes = std::min(quantity, room / 15 * 15);
  return minutes >= std::min<int64_t>(30, quantity) ? minutes : 0;  // no visits of a few minutes
}

// Visits on the grant's weekdays (every other week if fortnightly), some missed; day services entered once a
// week (weekly_entries) are one entry for the week's days, with a last date.
void Simulator::DeliverVisits(GrantMonth& m) {
  const Grant& grant = m.grant;
  int32_t week_first = kNoDate;
  int32_t week_last = kNoDate;
  int64_t week_days = 0;
  auto flush_week = [&]() {
    if (week_days > 0) {
      const int64_t days = WithinLimits(grant, week_first, week_days, false);
      if (days > 0) Deliver(m, week_first, week_last > week_first ? week_last : kNoDate, days, nullptr, false);
    }
    week_days = 0;
  };
  for (int32_t day = m.from; day <= m.to; ++day) {
    const int weekday = Weekday(day);
    if (weekday == 0) flush_week();
    if ((grant.weekdays >> weekday & 1) == 0) continue;
    if (grant.fortnightly && WeekIndex(day) % 2 == 1) continue;
    if (grant.SuspendedOn(day)) continue;
    if (m.rng.Chance(50)) continue;  // illness, holidays, cancelled visits
    if (grant.weekly_entries) {
      if (week_days == 0) week_first = day;
      week_last = day;
      ++week_days;
      continue;
    }
    DeliverVisit(m, day);
  }
  flush_week();
}

void Simulator::DeliverVisit(GrantMonth& m, int32_t day) {
  const Grant& grant = m.grant;
  int64_t quantity = 1;
  if (UnitOf(grant.service) == Unit::MINUTES) {
    quantity = std::clamp<int64_t>(grant.visit_quantity + 15 * m.rng.Between(-2, 2), 15, 1440);
  } else if (UnitOf(grant.service) == Unit::SESSIONS && m.rng.Chance(50)) {
    quantity = 2;  // two sessions on one day
  }
  // Child care is for care or for meaningful leisure; the leisure hours have a sub-cap.
  const bool child_care = grant.service == Service::CHILD_CARE;
  bool leisure = child_care && (grant.leisure_only || m.rng.Chance(grant.leisure_per_mille));
  int64_t delivered = WithinLimits(grant, day, quantity, leisure);
  if (leisure && delivered < quantity && !grant.leisure_only) {
    leisure = false;
    delivered = WithinLimits(grant, day, quantity, false);
  }
  if (delivered <= 0) return;
  Deliver(m, day, kNoDate, delivered, child_care ? (leisure ? "leisure" : "care") : nullptr, leisure);
}

// Monday-to-Sunday stays, cut at the month's edges so each entry belongs to one month's claim.
void Simulator::DeliverWeeklyStays(GrantMonth& m) {
  const Grant& grant = m.grant;
  for (int32_t week_start = m.from; week_start <= m.to;) {
    int32_t first = week_start;
    int32_t last = std::min(m.to, week_start + (6 - Weekday(week_start)));
    week_start = last + 1;
    if (grant.suspended_from != kNoDate && first < grant.resumed_on && last >= grant.suspended_from) {
      if (first < grant.suspended_from) {
        last = grant.suspended_from - 1;
      } else if (last >= grant.resumed_on) {
        first = grant.resumed_on;
      } else {
        continue;
      }
    }
    if (first > last) continue;
    const int64_t days = last - first + 1;
    const int64_t away = days > 3 && m.rng.Chance(150) ? m.rng.Between(1, 2) : 0;  // home visits, hospital
    const int64_t delivered = WithinLimits(grant, first, days - away, false);
    if (delivered <= 0) continue;
    Deliver(m, first, last > first ? last : kNoDate, delivered, nullptr, false);
  }
}

// Now and then a stay (respite), booked within the days left for the year; families that go past the 30 days
// a year book longer stays.
void Simulator::DeliverStay(GrantMonth& m) {
  const Grant& grant = m.grant;
  const ServiceProfile& profile = ProfileOf(grant.service);
  if (!m.rng.Chance(grant.stay_per_mille) || m.from > m.to) return;
  const int32_t length = static_cast<int32_t>(m.rng.Between(profile.min_stay_days, profile.max_stay_days)) +
                         (grant.keeps_limits ? 0 : 1);
  const int32_t first = static_cast<int32_t>(m.rng.Between(m.from, std::max(m.from, m.to - length + 1)));
  int32_t last = std::min(m.to, first + length - 1);
  if (grant.suspended_from != kNoDate && first < grant.resumed_on && last >= grant.suspended_from) return;
  const int64_t days = WithinLimits(grant, first, last - first + 1, false);
  if (days <= 0) return;
  last = first + static_cast<int32_t>(days) - 1;
  Deliver(m, first, last > first ? last : kNoDate, days, nullptr, false);
}

void Simulator::Deliver(GrantMonth& m, int32_t first, int32_t last, int64_t quantity, const char* purpose,
                        bool leisure) {
  RecordDelivery(m, first, last, quantity, purpose);
  UseCaps(m.grant, first, quantity, leisure);
}

void Simulator::RecordDelivery(GrantMonth& m, int32_t first, int32_t last, int64_t quantity, const char* purpose) {
  const Grant& grant = m.grant;
  Rng& rng = m.rng;
  const uint32_t number = static_cast<uint32_t>(++deliveries_);
  const std::string delivery_id = NumberedId("D-", number, 8);
  const int provider = grant.ProviderOn(first);
  int64_t cost = DeliveryCost(grant, quantity, first);
  const bool lockdown = first >= lockdown_start_ && first < lockdown_end_;
  const char* mode = "in_person";
  if ((lockdown && ProfileOf(grant.service).remote_in_lockdown && rng.Chance(800)) ||
      (UnitOf(grant.service) == Unit::SESSIONS && first >= lockdown_end_ && rng.Chance(30))) {
    mode = "remote";
  }
  Json data;
  data["delivery_id"] = delivery_id;
  data["grant_id"] = grant.id;
  data["provider_id"] = providers_[provider].id;
  data["quantity"] = quantity;
  data["cost_cents"] = cost;
  data["mode"] = mode;
  if (purpose != nullptr) data["purpose"] = purpose;
  if (last != kNoDate) data["last_date"] = FormatDate(last);
  // Entered the same day or within the next days (timesheets typed in at the end of the week).
  const int32_t end = last != kNoDate ? last : first;
  int32_t recorded_on = end + static_cast<int32_t>(rng.Chance(600) ? rng.Between(0, 2) : rng.Between(3, 10));
  if (grant.suspended_from != kNoDate && end < grant.suspended_from) {
    recorded_on = std::max(end, std::min(recorded_on, grant.suspended_from - 1));
  }
  const std::string actor = !providers_[provider].natural_person && rng.Chance(450)
                                ? "provider:" + providers_[provider].id
                                : Clerk(grant.municipality, recorded_on);
  log_.Add(recorded_on, EventType::SERVICE_DELIVERED, "delivery:" + delivery_id, first, actor,
           std::move(data));

  // A few entries are corrected or voided before the month's claim is filed (month end + 14 days at
  // the earliest), so the claim lists the corrected amounts.
  const int64_t fate = rng.Between(0, 999);
  if (fate < 25) {
    const int32_t fixed_on =
        static_cast<int32_t>(rng.Between(recorded_on + 1, std::max(recorded_on + 1, m.month_end + 12)));
    if (fate < 10) {
      VoidDelivery(delivery_id, grant.municipality, fixed_on, rng.Pick(kVoidReasons));
      return;
    }
    cost = CorrectDelivery(grant, delivery_id, first, quantity, cost, purpose, fixed_on, rng);
  }
  if (cost > 0) m.claimable->push_back(ClaimableDelivery{number, grant.municipality, cost});
}

void Simulator::VoidDelivery(const std::string& delivery_id, int municipality, int32_t on, const char* reason) {
  Json voided;
  voided["delivery_id"] = delivery_id;
  voided["reason"] = reason;
  log_.Add(on, EventType::DELIVERY_VOIDED, "void:" + delivery_id, on, Clerk(municipality, on), std::move(voided),
           "delivery:" + delivery_id);
}

// A correction of the quantity (a quarter of an hour to an hour less, or one unit less), else of the cost; a
// child's care may turn out to have been leisure. Returns the corrected cost.
int64_t Simulator::CorrectDelivery(const Grant& grant, const std::string& delivery_id, int32_t first,
                                   int64_t quantity, int64_t cost, const char* purpose, int32_t on, Rng& rng) {
  int64_t corrected_quantity = quantity;
  const char* reason = "Labots pakalpojuma apjoms atbilstoši uzskaites tabelei";
  const char* corrected_purpose = nullptr;
  if (UnitOf(grant.service) == Unit::MINUTES && quantity > 15) {
    corrected_quantity = std::max<int64_t>(15, quantity - 15 * rng.Between(1, 4));
  } else if (UnitOf(grant.service) != Unit::MINUTES && quantity > 1) {
    corrected_quantity = quantity - 1;
  }
  int64_t corrected_cost = DeliveryCost(grant, corrected_quantity, first);
  if (corrected_quantity == quantity) {
    corrected_cost = std::max<int64_t>(1, cost * rng.Between(80, 95) / 100);
    reason = "Precizētas izmaksas atbilstoši rēķinam";
  }
  if (purpose != nullptr && std::string_view(purpose) == "care" && rng.Chance(300)) {
    corrected_purpose = "leisure";
    reason = "Precizēts aprūpes mērķis (jēgpilna brīvā laika pavadīšana)";
  }
  Json corrected;
  corrected["delivery_id"] = delivery_id;
  corrected["quantity"] = corrected_quantity;
  corrected["cost_cents"] = corrected_cost;
  corrected["reason"] = reason;
  if (corrected_purpose != nullptr) corrected["purpose"] = corrected_purpose;
  log_.Add(on, EventType::DELIVERY_CORRECTED, "correction:" + delivery_id, on, Clerk(grant.municipality, on),
           std::move(corrected), "delivery:" + delivery_id);
  return corrected_cost;
}

// ---------------------------------------------------------------------------------------------------------
// Claims, reviews, payments
// ---------------------------------------------------------------------------------------------------------

const BudgetVersion& Simulator::BudgetOn(int32_t day) const {
  const BudgetVersion* in_force = &kBudgetVersions[0];
  for (const BudgetVersion& version : kBudgetVersions) {
    if (Date(version.year, version.month, version.day) <= day) in_force = &version;
  }
  return *in_force;
}

void Simulator::ClaimMonth(int32_t month_start, int32_t month_end,
                           const std::vector<ClaimableDelivery>& deliveries) {
  if (deliveries.empty()) return;
  const CivilDate month = CivilFromDays(month_start);
  Rng rng(options_.seed, Stream::kClaims, static_cast<uint64_t>(month.year * 12 + month.month));
  // Claims for months up to April 2021 are filed by the old municipalities before the reform; from May
  // 2021 on they are filed (after 2021-07-01) by the successors, which answer for their predecessors.
  const bool by_successor = month_end + 42 >= reform_;
  std::vector<std::vector<const ClaimableDelivery*>> by_claimant(municipalities_.size());
  for (const ClaimableDelivery& delivery : deliveries) {
    const int claimant = by_successor ? SuccessorOf(delivery.municipality) : delivery.municipality;
    by_claimant[claimant].push_back(&delivery);
  }
  char period[16];
  std::snprintf(period, sizeof(period), "%04d-%02d", month.year, month.month);
  for (int claimant = 0; claimant < static_cast<int>(by_claimant.size()); ++claimant) {
    const auto& lines = by_claimant[claimant];
    if (lines.empty()) continue;
    int32_t claimed_on = month_end + static_cast<int32_t>(rng.Between(14, 42));
    if (by_successor) claimed_on = std::max(claimed_on, reform_ + static_cast<int32_t>(rng.Between(1, 10)));
    claimed_on = Workday(claimed_on);
    const std::string claim_id = std::string("C-") + period + "-" + municipalities_[claimant].id;
    FileClaim(claim_id, claimant, claimed_on, month_start, month_end, lines);
    const int32_t reviewed_on = Workday(claimed_on + static_cast<int32_t>(rng.Between(14, 40)));
    const int64_t approved_total = ReviewClaim(claim_id, claimant, claimed_on, reviewed_on, lines, rng);
    if (approved_total > 0) PayClaim(claim_id, claimed_on, reviewed_on, approved_total, rng);
  }
}

void Simulator::FileClaim(const std::string& claim_id, int claimant, int32_t claimed_on, int32_t month_start,
                          int32_t month_end, const std::vector<const ClaimableDelivery*>& lines) {
  Json claim_lines = Json::array();
  int64_t total = 0;
  for (const ClaimableDelivery* line : lines) {
    Json entry;
    entry["delivery_id"] = NumberedId("D-", line->number, 8);
    entry["amount_cents"] = line->amount_cents;
    claim_lines.push_back(std::move(entry));
    total += line->amount_cents;
  }
  Json claim;
  claim["claim_id"] = claim_id;
  claim["project_id"] = kProjectId;
  claim["municipality_id"] = municipalities_[claimant].id;
  claim["period_start"] = FormatDate(month_start);
  claim["period_end"] = FormatDate(month_end);
  claim["lines"] = std::move(claim_lines);
  claim["total_cents"] = total;
  log_.Add(claimed_on, EventType::REIMBURSEMENT_CLAIMED, "claim:" + claim_id, claimed_on,
           "clerk:" + municipalities_[claimant].id, std::move(claim));
}

// The project team reviews the claim; now and then a delivery is withdrawn after the claim was filed, and
// the review rejects that line. Returns the approved total.
int64_t Simulator::ReviewClaim(const std::string& claim_id, int claimant, int32_t claimed_on, int32_t reviewed_on,
                               const std::vector<const ClaimableDelivery*>& lines, Rng& rng) {
  Json review_lines = Json::array();
  int64_t approved_total = 0;
  for (const ClaimableDelivery* line : lines) {
    const std::string delivery_id = NumberedId("D-", line->number, 8);
    Json entry;
    entry["delivery_id"] = delivery_id;
    const int64_t outcome = rng.Between(0, 9999);
    int64_t approved = line->amount_cents;
    const char* reason = nullptr;
    if (outcome < 30) {
      const int32_t voided_on = static_cast<int32_t>(rng.Between(claimed_on + 1, reviewed_on - 1));
      VoidDelivery(delivery_id, claimant, voided_on,
                   "Pakalpojuma sniegšanas fakts atsaukts pēc pieprasījuma iesniegšanas");
      approved = 0;
      reason = "Pakalpojuma ieraksts anulēts";
    } else if (outcome < 130) {
      approved = 0;
      reason = rng.Pick(kRejectionReasons);
    } else if (outcome < 250 && line->amount_cents >= 2) {
      approved = std::min(line->amount_cents - 1, line->amount_cents * rng.Between(50, 95) / 100);
      reason = rng.Pick(kPartialReasons);
    }
    entry["accepted"] = approved > 0;
    entry["approved_cents"] = approved;
    if (reason != nullptr) entry["reason"] = reason;
    review_lines.push_back(std::move(entry));
    approved_total += approved;
  }
  Json review;
  review["claim_id"] = claim_id;
  review["lines"] = std::move(review_lines);
  review["approved_total_cents"] = approved_total;
  log_.Add(reviewed_on, EventType::CLAIM_REVIEWED, "review:" + claim_id, reviewed_on, kProjectActor,
           std::move(review), "claim:" + claim_id);
  return approved_total;
}

// Payment, split ESF / state budget by the budget ratio in force on the claim's date (ESF rounded half-up to
// the cent, state = the rest); some claims are paid in two instalments, each carrying the split of the running
// paid total less what the earlier one carried, so that the claim paid in full carries exactly its approved
// split (docs/projections.md, reconciliation).
void Simulator::PayClaim(const std::string& claim_id, int32_t claimed_on, int32_t reviewed_on,
                         int64_t approved_total, Rng& rng) {
  const BudgetVersion& budget = BudgetOn(claimed_on);
  int64_t paid_so_far = 0, esf_so_far = 0;
  std::vector<int64_t> instalments = {approved_total};
  if (approved_total >= 100 && rng.Chance(150)) {
    const int64_t first_part = approved_total * rng.Between(50, 90) / 100;
    instalments = {first_part, approved_total - first_part};
  }
  int32_t paid_on = Workday(reviewed_on + static_cast<int32_t>(rng.Between(7, 30)));
  for (const int64_t amount : instalments) {
    const std::string payment_id = NumberedId("PAY-", ++payments_, 6);
    paid_so_far += amount;
    const int64_t esf = ShareHalfUp(paid_so_far, budget.esf_cents, budget.total_cents) - esf_so_far;
    esf_so_far += esf;
    Json payment;
    payment["claim_id"] = claim_id;
    payment["payment_id"] = payment_id;
    payment["amount_cents"] = amount;
    payment["esf_cents"] = esf;
    payment["state_cents"] = amount - esf;
    payment["payment_reference"] =
        "ZPR-" + std::to_string(CivilFromDays(paid_on).year) + "-" + NumberedId("", payments_, 6);
    log_.Add(paid_on, EventType::REIMBURSEMENT_PAID, "payment:" + payment_id, paid_on, kFinanceActor,
             std::move(payment), "review:" + claim_id);
    paid_on = Workday(paid_on + static_cast<int32_t>(rng.Between(20, 60)));
  }
}

}  // namespace di::workload::region
