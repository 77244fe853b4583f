#include "di/projections/reconciliation.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "di/ledger/catalog.h"
#include "di/ledger/invariant.h"
#include "di/projections/funding.h"

namespace di::projections {

using ledger::FormatDate;

Status ComputeReconciliation(const LedgerModel& model, int32_t valid_date, const ReconciliationQuery& query,
                             std::vector<ClaimReconciliation>* out) {
  out->clear();
  if (!query.claim_id.empty() && !model.claims().count(query.claim_id)) {
    return Status::NotFound("no claim '" + query.claim_id + "'");
  }
  const EligibilityResult eligibility = DecideEligibility(model, valid_date);
  std::map<std::string, const DeliveryDecision*> decisions;
  for (const DeliveryDecision& decision : eligibility.decisions) decisions[decision.delivery_id] = &decision;

  for (const auto& [claim_id, claim] : model.claims()) {
    if (claim.date > valid_date) continue;
    if (!query.claim_id.empty() && claim_id != query.claim_id) continue;
    if (!query.project_id.empty() && claim.project_id != query.project_id) continue;
    if (!query.municipality_id.empty() && claim.municipality_id != query.municipality_id) continue;
    ClaimReconciliation result;
    result.claim_id = claim_id;
    result.project_id = claim.project_id;
    result.municipality_id = claim.municipality_id;
    result.claim_date = claim.date;
    result.period_start = claim.period_start;
    result.period_end = claim.period_end;
    result.reviewed = claim.reviewed && claim.reviewed_on <= valid_date;
    auto project = model.projects().find(claim.project_id);
    const BudgetVersion* budget = project == model.projects().end() ? nullptr : BudgetInForce(project->second, claim.date);
    std::vector<std::pair<std::string, int64_t>> lines = claim.lines;
    std::sort(lines.begin(), lines.end());
    for (const auto& [delivery_id, claimed] : lines) {
      ReconciliationLine line;
      line.delivery_id = delivery_id;
      line.claimed_cents = claimed;
      auto delivery = model.deliveries().find(delivery_id);
      if (delivery != model.deliveries().end()) {
        line.delivery_date = delivery->second.date;
        line.positions.push_back(delivery->second.position);
        line.positions.insert(line.positions.end(), delivery->second.correction_positions.begin(),
                              delivery->second.correction_positions.end());
        if (const GrantFacts* grant = model.FindGrant(delivery->second.grant_id)) {
          line.service = std::string(ledger::ServiceName(grant->service));
        }
        if (delivery->second.voided) line.findings.push_back("the delivery was voided");
        if (claimed > delivery->second.cost_cents) {
          line.findings.push_back("claimed " + std::to_string(claimed) + " cents, above the delivery's cost of " +
                                  std::to_string(delivery->second.cost_cents));
        }
      }
      if (auto decision = decisions.find(delivery_id); decision != decisions.end()) {
        line.eligible_cents = decision->second->eligible_cost_cents;
        if (!decision->second->reason.empty()) line.findings.push_back(decision->second->reason);
      }
      line.claimed_over_eligible_cents = line.claimed_cents - line.eligible_cents;
      if (result.reviewed) {
        auto approved = claim.approved.find(delivery_id);
        line.approved_cents = approved == claim.approved.end() ? 0 : approved->second;
        if (auto reason = claim.review_reasons.find(delivery_id); reason != claim.review_reasons.end()) {
          line.findings.push_back("review: " + reason->second);
        }
        if (line.approved_cents > line.eligible_cents) {
          line.findings.push_back("approved " + std::to_string(line.approved_cents - line.eligible_cents) +
                                  " cents more than the rules make eligible");
        }
      }
      line.approved_esf_cents =
          budget == nullptr ? 0 : ProrateHalfUp(line.approved_cents, budget->esf_cents, budget->total_cents);
      line.approved_state_cents = line.approved_cents - line.approved_esf_cents;
      line.positions.insert(line.positions.end(), claim.positions.begin(), claim.positions.end());
      if (line.claimed_over_eligible_cents != 0 && line.findings.empty()) {
        line.findings.push_back("claimed " + std::to_string(line.claimed_cents) + " cents, eligible " +
                                std::to_string(line.eligible_cents));
      }
      result.claimed_cents += line.claimed_cents;
      result.eligible_cents += line.eligible_cents;
      result.approved_cents += line.approved_cents;
      result.approved_esf_cents += line.approved_esf_cents;
      result.approved_state_cents += line.approved_state_cents;
      if (!line.findings.empty()) ++result.lines_with_findings;
      result.lines.push_back(std::move(line));
    }
    for (const PaymentFacts& payment : claim.payments) {
      if (payment.date > valid_date) continue;
      result.payments.push_back(payment);
      result.paid_cents += payment.amount_cents;
      result.paid_esf_cents += payment.esf_cents;
      result.paid_state_cents += payment.state_cents;
    }
    result.outstanding_cents = result.approved_cents - result.paid_cents;
    DI_ASSERT(result.approved_esf_cents + result.approved_state_cents == result.approved_cents);
    DI_ASSERT(result.paid_esf_cents + result.paid_state_cents == result.paid_cents);
    out->push_back(std::move(result));
  }
  return Status::Ok();
}

nlohmann::ordered_json ReconciliationToJson(const std::vector<ClaimReconciliation>& claims, int32_t valid_date,
                                            uint64_t known_at_position, const std::string& note) {
  nlohmann::ordered_json json;
  json["valid_at"] = FormatDate(valid_date);
  json["known_at_position"] = known_at_position;
  json["claims"] = nlohmann::ordered_json::array();
  for (const ClaimReconciliation& claim : claims) {
    nlohmann::ordered_json item;
    item["claim_id"] = claim.claim_id;
    item["project_id"] = claim.project_id;
    item["municipality_id"] = claim.municipality_id;
    item["claim_date"] = FormatDate(claim.claim_date);
    item["period"] = FormatDate(claim.period_start) + ".." + FormatDate(claim.period_end);
    item["reviewed"] = claim.reviewed;
    item["claimed_cents"] = claim.claimed_cents;
    item["eligible_cents"] = claim.eligible_cents;
    item["approved_cents"] = claim.approved_cents;
    item["approved_esf_cents"] = claim.approved_esf_cents;
    item["approved_state_cents"] = claim.approved_state_cents;
    item["paid_cents"] = claim.paid_cents;
    item["paid_esf_cents"] = claim.paid_esf_cents;
    item["paid_state_cents"] = claim.paid_state_cents;
    item["outstanding_cents"] = claim.outstanding_cents;
    item["lines_with_findings"] = claim.lines_with_findings;
    item["lines"] = nlohmann::ordered_json::array();
    for (const ReconciliationLine& line : claim.lines) {
      item["lines"].push_back({{"delivery_id", line.delivery_id},
                               {"service", line.service},
                               {"delivery_date", line.delivery_date ? FormatDate(line.delivery_date) : ""},
                               {"claimed_cents", line.claimed_cents},
                               {"eligible_cents", line.eligible_cents},
                               {"approved_cents", line.approved_cents},
                               {"approved_esf_cents", line.approved_esf_cents},
                               {"approved_state_cents", line.approved_state_cents},
                               {"claimed_over_eligible_cents", line.claimed_over_eligible_cents},
                               {"findings", line.findings},
                               {"positions", line.positions}});
    }
    item["payments"] = nlohmann::ordered_json::array();
    for (const PaymentFacts& payment : claim.payments) {
      item["payments"].push_back({{"payment_id", payment.id},
                                  {"date", FormatDate(payment.date)},
                                  {"amount_cents", payment.amount_cents},
                                  {"esf_cents", payment.esf_cents},
                                  {"state_cents", payment.state_cents},
                                  {"position", payment.position}});
    }
    json["claims"].push_back(std::move(item));
  }
  if (!note.empty()) json["note"] = note;
  return json;
}

std::string ReconciliationToCsv(const std::vector<ClaimReconciliation>& claims) {
  std::ostringstream csv;
  csv << "claim_id,municipality_id,delivery_id,service,delivery_date,claimed_cents,eligible_cents,approved_cents,"
         "approved_esf_cents,approved_state_cents,claimed_over_eligible_cents,findings\n";
  for (const ClaimReconciliation& claim : claims) {
    for (const ReconciliationLine& line : claim.lines) {
      std::string findings;
      for (const std::string& finding : line.findings) findings += (findings.empty() ? "" : "; ") + finding;
      std::string quoted = "\"";
      for (char c : findings) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      quoted += "\"";
      csv << claim.claim_id << ',' << claim.municipality_id << ',' << line.delivery_id << ',' << line.service << ','
          << (line.delivery_date ? FormatDate(line.delivery_date) : "") << ',' << line.claimed_cents << ','
          << line.eligible_cents << ',' << line.approved_cents << ',' << line.approved_esf_cents << ','
          << line.approved_state_cents << ',' << line.claimed_over_eligible_cents << ',' << quoted << '\n';
    }
  }
  return csv.str();
}

}  // namespace di::projections
