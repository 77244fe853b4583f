// The adversarial history's claims, reviews and payments.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "di/projections/default_rules.h"
#include "fuzzy_generator.h"

namespace di::workload::fuzzy {

bool Generator::Claimable(const DeliveryState& delivery, const std::string& claimant, const std::string& project_id,
                          int32_t from, int32_t until) const {
  if (delivery.voided || !delivery.claim_id.empty() || delivery.cost_cents <= 0) return false;
  if (delivery.date < from || delivery.date > until) return false;
  const GrantState& grant = grants_.at(delivery.grant_id);
  return grant.project_id == project_id && BelongsTo(grant.municipality_id, claimant);
}

// A claim to one project: the ledger refuses a line of a delivery another project pays.
void Generator::FileClaim(const std::string& claimant, const std::string& project_id, int32_t date, int32_t from,
                          int32_t until) {
  Json lines = Json::array();
  std::vector<std::pair<std::string, int64_t>> claimed;
  int64_t total = 0;
  for (const auto& [id, delivery] : deliveries_) {
    if (claimed.size() >= 60) break;
    if (!Claimable(delivery, claimant, project_id, from, until) || Chance(70)) continue;
    const int64_t amount = Chance(900) ? delivery.cost_cents : Between(1, delivery.cost_cents);
    lines.push_back({{"delivery_id", id}, {"amount_cents", amount}});
    claimed.emplace_back(id, amount);
    total += amount;
  }
  if (claimed.empty()) return;
  const std::string claim_id = NumberedId("C-", ++claim_counter_, 4);
  Emit("reimbursement_claimed", date,
       {{"claim_id", claim_id}, {"project_id", project_id}, {"municipality_id", claimant},
        {"period_start", FormatDate(from)}, {"period_end", FormatDate(until)}, {"lines", lines}, {"total_cents", total}},
       claimant + ":finance");
  ClaimState& claim = claims_[claim_id];
  claim.project_id = project_id;
  claim.municipality_id = claimant;
  claim.date = date;
  claim.lines = claimed;
  for (const auto& [delivery_id, amount] : claimed) deliveries_[delivery_id].claim_id = claim_id;
  ++counts_.claims;
}

void Generator::Claims() {
  const int32_t date = static_cast<int32_t>(Between(MonthStart() + 3, MonthEnd() - 2));
  for (const auto& [id, municipality] : municipalities_) {
    if (!Active(id, date)) continue;
    const int every = municipality.claim_every_months;
    for (const std::string& project_id : {municipality.project_id, std::string("PR-IBM")}) {
      if (every == 1 || (month_ - 1) % 3 == 0) {
        const int first_month = month_index_ - every;
        FileClaim(id, project_id, date, first_month >= 0 ? MonthStartOf(first_month) : rules_.project_start,
                  MonthStart() - 1);
      }
      // Once a year, a catch-up claim for everything older that is still unclaimed (late, rejected).
      if (month_ == 3 && Chance(600)) FileClaim(id, project_id, date, rules_.project_start, Date(year_ - 1, 12, 31));
    }
  }
}

void Generator::Reviews() {
  for (auto& [id, claim] : claims_) {
    if (claim.reviewed || claim.date >= MonthStart() || !Chance(650)) continue;
    if (claim.project_id == "PR-IBM" && !pilot_budget_known_) continue;  // refused until the budget is recorded
    const int32_t date = Today();
    std::vector<std::pair<std::string, int64_t>> order = claim.lines;
    if (Chance(150)) Shuffle(&order);  // lines in another order than the claim's
    Json lines = Json::array();
    int64_t approved_total = 0;
    for (const auto& [delivery_id, claimed] : order) {
      const int64_t kind = Below(100);
      Json line = {{"delivery_id", delivery_id}};
      if (kind < 84 || (kind < 92 && claimed < 2)) {
        line["accepted"] = true;
        line["approved_cents"] = claimed;
      } else if (kind < 92) {
        line["accepted"] = true;
        line["approved_cents"] = Between(1, claimed - 1);
        line["reason"] = "partly documented";
        ++counts_.lines_partly_approved;
      } else {
        line["accepted"] = false;
        line["approved_cents"] = 0;
        line["reason"] = "not documented";
        ++counts_.lines_rejected;
        DeliveryState& delivery = deliveries_[delivery_id];
        if (delivery.claim_id == id) delivery.claim_id.clear();  // free to be claimed again
      }
      approved_total += line["approved_cents"].get<int64_t>();
      lines.push_back(std::move(line));
    }
    Emit("claim_reviewed", date, {{"claim_id", id}, {"lines", lines}, {"approved_total_cents", approved_total}},
         "zpr:finance");
    claim.reviewed = true;
    claim.reviewed_on = date;
    claim.approved_total = approved_total;
    ++counts_.reviews;
  }
}

void Generator::Payments() {
  for (auto& [id, claim] : claims_) {
    if (!claim.reviewed || claim.reviewed_on >= MonthStart() || claim.paid_total >= claim.approved_total) continue;
    if (!Chance(550)) continue;
    const int64_t remainder = claim.approved_total - claim.paid_total;
    const int64_t amount = Chance(650) ? remainder : Between(1, remainder);
    const int64_t esf = (amount * (Chance(500) ? 8500 : 8669) + 5000) / 10000;
    Json data = {{"claim_id", id}, {"payment_id", NumberedId("PAY-", ++payment_counter_, 5)}, {"amount_cents", amount},
                 {"esf_cents", esf}, {"state_cents", amount - esf}};
    if (Chance(500)) data["payment_reference"] = "ZPR " + std::to_string(payment_counter_);
    Emit("reimbursement_paid", Today(), data, "zpr:finance");
    claim.paid_total += amount;
    ++counts_.payments;
  }
}

}  // namespace di::workload::fuzzy
