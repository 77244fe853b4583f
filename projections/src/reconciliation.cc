#include "di/projections/reconciliation.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "di/ledger/catalog.h"
#include "di/ledger/invariant.h"
#include "di/projections/csv.h"
#include "di/projections/funding.h"

namespace di::projections {

using ledger::FormatDate;

namespace {

SplitCents Split(int64_t total, const BudgetVersion* budget) {
  const int64_t esf = EsfPartOf(total, budget);
  return {total, esf, total - esf};
}

std::string Cents(int64_t cents) { return std::to_string(cents) + " cents"; }

// One claim line: claimed against eligible and approved, with the reasons for every difference.
ReconciliationLine ReconcileLine(const ClaimFacts& claim, const ClaimSplit& split, size_t i,
                                 const ClaimLineFacts& delivery, int32_t valid_date) {
  ReconciliationLine line;
  line.delivery_id = split.lines[i]->first;
  line.claimed_cents = split.lines[i]->second;
  if (delivery.recorded) {
    line.delivery_date = delivery.date;
    line.positions = delivery.positions;
    line.service = delivery.service;
    if (delivery.voided) line.findings.push_back("the delivery was voided");
    if (line.claimed_cents > delivery.cost_cents) {
      line.findings.push_back("claimed " + Cents(line.claimed_cents) + ", above the delivery's cost of " +
                              std::to_string(delivery.cost_cents));
    }
  }
  // DecideEligibility(model, valid_date) decides the live deliveries dated on or before the valid date.
  if (delivery.decided && delivery.date <= valid_date) {
    line.eligible_cents = delivery.outcome.eligible_cost_cents;
    if (!delivery.outcome.reason.empty()) line.findings.push_back(delivery.outcome.reason);
  }
  line.claimed_over_eligible_cents = line.claimed_cents - line.eligible_cents;
  if (split.reviewed) {
    line.approved_cents = split.approved[i];
    if (auto reason = claim.review_reasons.find(line.delivery_id); reason != claim.review_reasons.end()) {
      line.findings.push_back("review: " + reason->second);
    }
    if (line.approved_cents > line.eligible_cents) {
      line.findings.push_back("approved " + Cents(line.approved_cents - line.eligible_cents) +
                              " more than the rules make eligible");
    }
  }
  line.approved_esf_cents = split.approved_esf[i];
  line.approved_state_cents = line.approved_cents - line.approved_esf_cents;
  line.paid_cents = split.paid[i];
  line.paid_esf_cents = split.paid_esf[i];
  line.paid_state_cents = line.paid_cents - line.paid_esf_cents;
  line.positions.insert(line.positions.end(), claim.positions.begin(), claim.positions.end());
  if (line.claimed_over_eligible_cents != 0 && line.findings.empty()) {
    line.findings.push_back("claimed " + Cents(line.claimed_cents) + ", eligible " +
                            std::to_string(line.eligible_cents));
  }
  return line;
}

// The payments as of the valid date, each against the approved split. What the payments up to and including
// one should carry is the approved split of their running total (the whole approved ESF part once the claim
// is paid in full); a payment's expected parts are the difference from what the earlier ones should have
// carried, so partial payments are not each rounded on their own.
void ReconcilePayments(const ClaimFacts& claim, const ClaimSplit& split, int32_t valid_date,
                       ClaimReconciliation* result) {
  int64_t paid_before = 0, esf_expected_before = 0;
  for (const PaymentFacts& payment : claim.payments) {
    if (payment.date > valid_date) continue;
    PaymentReconciliation item{payment, {}, {}};
    const int64_t paid_after = paid_before + payment.amount_cents;
    const int64_t esf_expected_after =
        paid_after == split.approved_cents ? split.approved_esf_cents : EsfPartOf(paid_after, split.budget);
    item.expected = {payment.amount_cents, esf_expected_after - esf_expected_before,
                     payment.amount_cents - (esf_expected_after - esf_expected_before)};
    if (split.budget != nullptr && payment.esf_cents != item.expected.esf) {
      item.findings.push_back("ESF part " + Cents(payment.esf_cents) + ", state part " + Cents(payment.state_cents) +
                              "; the approved split gives ESF " + Cents(item.expected.esf) + ", state " +
                              Cents(item.expected.state) + " (budget in force from " +
                              FormatDate(split.budget->from) + ")");
    }
    if (paid_after > split.approved_cents && paid_before <= split.approved_cents) {
      item.findings.push_back("takes the paid total to " + Cents(paid_after) + ", above the approved " +
                              Cents(split.approved_cents));
    }
    if (!item.findings.empty()) ++result->payments_with_findings;
    paid_before = paid_after;
    esf_expected_before = esf_expected_after;
    result->payments.push_back(std::move(item));
  }
}

}  // namespace

ClaimLineFacts DeliveryLineFacts(const LedgerModel& model, const std::string& delivery_id) {
  auto delivery = model.deliveries().find(delivery_id);
  return delivery == model.deliveries().end() ? ClaimLineFacts{} : DeliveryLineFacts(model, delivery->second);
}

ClaimLineFacts DeliveryLineFacts(const LedgerModel& model, const DeliveryFacts& delivery) {
  ClaimLineFacts facts;
  facts.recorded = true;
  facts.date = delivery.date;
  facts.cost_cents = delivery.cost_cents;
  facts.voided = delivery.voided;
  facts.provider_id = delivery.provider_id;
  facts.mode = ledger::EnumValueName(delivery.mode);
  facts.positions.push_back(delivery.position);
  facts.positions.insert(facts.positions.end(), delivery.correction_positions.begin(),
                         delivery.correction_positions.end());
  if (const GrantFacts* grant = model.FindGrant(delivery.grant_id)) {
    facts.service = std::string(ledger::ServiceName(grant->service));
    facts.municipality_id = grant->municipality_id;
    facts.project_id = model.ProjectOfGrant(*grant);
  }
  return facts;
}

Status ComputeReconciliation(const LedgerModel& model, int32_t valid_date, const ReconciliationQuery& query,
                             std::vector<ClaimReconciliation>* out) {
  if (!query.claim_id.empty() && !model.claims().count(query.claim_id)) {
    out->clear();
    return Status::NotFound("no claim '" + query.claim_id + "'");
  }
  const EligibilityResult eligibility = DecideEligibility(model, valid_date);
  std::map<std::string, const DeliveryDecision*> decisions;
  for (const DeliveryDecision& decision : eligibility.decisions) decisions[decision.delivery_id] = &decision;
  return ComputeReconciliationOfLines(
      model, valid_date, query,
      [&](const std::string& delivery_id, ClaimLineFacts* facts) {
        *facts = DeliveryLineFacts(model, delivery_id);
        if (auto decision = decisions.find(delivery_id); decision != decisions.end()) {
          facts->decided = true;
          facts->outcome = OutcomeOf(*decision->second);
        }
        return Status::Ok();
      },
      out);
}

Status ComputeReconciliationOfLines(const LedgerModel& claims, int32_t valid_date, const ReconciliationQuery& query,
                                    const ClaimLineSource& lines, std::vector<ClaimReconciliation>* out) {
  out->clear();
  if (!query.claim_id.empty() && !claims.claims().count(query.claim_id)) {
    return Status::NotFound("no claim '" + query.claim_id + "'");
  }
  ClaimLineFacts facts;
  for (const auto& [claim_id, claim] : claims.claims()) {
    if (claim.date > valid_date) continue;
    if (!query.claim_id.empty() && claim_id != query.claim_id) continue;
    if (!query.project_id.empty() && claim.project_id != query.project_id) continue;
    if (!query.municipality_id.empty() && claim.municipality_id != query.municipality_id) continue;
    const ClaimSplit split = SplitClaim(claims, claim, valid_date);
    ClaimReconciliation result;
    result.claim_id = claim_id;
    result.project_id = claim.project_id;
    result.municipality_id = claim.municipality_id;
    result.claim_date = claim.date;
    result.period_start = claim.period_start;
    result.period_end = claim.period_end;
    result.reviewed = split.reviewed;
    result.budget_in_force_from = split.budget == nullptr ? ledger::kNoDate : split.budget->from;
    result.budget_position = split.budget == nullptr ? 0 : split.budget->position;
    int64_t eligible = 0;
    for (size_t i = 0; i < split.lines.size(); ++i) {
      facts = ClaimLineFacts{};
      DI_RETURN_IF_ERROR(lines(split.lines[i]->first, &facts));
      ReconciliationLine line = ReconcileLine(claim, split, i, facts, valid_date);
      eligible += line.eligible_cents;
      if (!line.findings.empty()) ++result.lines_with_findings;
      result.lines.push_back(std::move(line));
    }
    result.claimed = Split(split.claimed_cents, split.budget);
    result.eligible = Split(eligible, split.budget);
    result.approved = {split.approved_cents, split.approved_esf_cents, split.approved_cents - split.approved_esf_cents};
    result.paid = {split.paid_cents, split.paid_esf_cents, split.paid_cents - split.paid_esf_cents};
    result.outstanding = {result.approved.total - result.paid.total, result.approved.esf - result.paid.esf,
                          result.approved.state - result.paid.state};
    ReconcilePayments(claim, split, valid_date, &result);
    if (result.paid.total > result.approved.total) {
      result.findings.push_back("paid " + Cents(result.paid.total) + ", " +
                                Cents(result.paid.total - result.approved.total) + " more than approved");
    }
    DI_ASSERT(result.approved.esf + result.approved.state == result.approved.total);
    DI_ASSERT(result.paid.esf + result.paid.state == result.paid.total);
    out->push_back(std::move(result));
  }
  return Status::Ok();
}

namespace {

// "claimed_cents", "claimed_esf_cents", "claimed_state_cents" for a figure named "claimed".
void PutSplit(nlohmann::ordered_json& json, const std::string& name, const SplitCents& split) {
  json[name + "_cents"] = split.total;
  json[name + "_esf_cents"] = split.esf;
  json[name + "_state_cents"] = split.state;
}

nlohmann::ordered_json LineToJson(const ReconciliationLine& line) {
  return {{"delivery_id", line.delivery_id},
          {"service", line.service},
          {"delivery_date", line.delivery_date ? FormatDate(line.delivery_date) : ""},
          {"claimed_cents", line.claimed_cents},
          {"eligible_cents", line.eligible_cents},
          {"approved_cents", line.approved_cents},
          {"approved_esf_cents", line.approved_esf_cents},
          {"approved_state_cents", line.approved_state_cents},
          {"paid_cents", line.paid_cents},
          {"paid_esf_cents", line.paid_esf_cents},
          {"paid_state_cents", line.paid_state_cents},
          {"claimed_over_eligible_cents", line.claimed_over_eligible_cents},
          {"findings", line.findings},
          {"positions", line.positions}};
}

nlohmann::ordered_json PaymentToJson(const PaymentReconciliation& item) {
  const PaymentFacts& payment = item.payment;
  return {{"payment_id", payment.id},
          {"date", FormatDate(payment.date)},
          {"amount_cents", payment.amount_cents},
          {"esf_cents", payment.esf_cents},
          {"state_cents", payment.state_cents},
          {"expected_esf_cents", item.expected.esf},
          {"expected_state_cents", item.expected.state},
          {"findings", item.findings},
          {"position", payment.position}};
}

std::string BudgetLabel(const ClaimReconciliation& claim) {
  return claim.budget_in_force_from == ledger::kNoDate ? "" : FormatDate(claim.budget_in_force_from);
}

std::string Joined(const std::vector<std::string>& findings) {
  std::string joined;
  for (const std::string& finding : findings) joined += (joined.empty() ? "" : "; ") + finding;
  return joined;
}

void CsvSplit(std::ostringstream& csv, const SplitCents& split) {
  csv << ',' << split.total << ',' << split.esf << ',' << split.state;
}

}  // namespace

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
    item["budget_in_force_from"] = BudgetLabel(claim);
    PutSplit(item, "claimed", claim.claimed);
    PutSplit(item, "eligible", claim.eligible);
    PutSplit(item, "approved", claim.approved);
    PutSplit(item, "paid", claim.paid);
    PutSplit(item, "outstanding", claim.outstanding);
    item["findings"] = claim.findings;
    item["lines_with_findings"] = claim.lines_with_findings;
    item["payments_with_findings"] = claim.payments_with_findings;
    item["lines"] = nlohmann::ordered_json::array();
    for (const ReconciliationLine& line : claim.lines) item["lines"].push_back(LineToJson(line));
    item["payments"] = nlohmann::ordered_json::array();
    for (const PaymentReconciliation& payment : claim.payments) item["payments"].push_back(PaymentToJson(payment));
    json["claims"].push_back(std::move(item));
  }
  if (!note.empty()) json["note"] = note;
  return json;
}

Status CheckReconciliationTable(const std::string& table) {
  if (table.empty() || table == "claims" || table == "lines" || table == "payments") return Status::Ok();
  return Status::InvalidArgument("unknown table '" + table + "' (one of: claims, lines, payments)", "table");
}

std::string ReconciliationToCsv(const std::vector<ClaimReconciliation>& claims, const std::string& table) {
  DI_ASSERT(CheckReconciliationTable(table).ok());
  std::ostringstream csv;
  if (table == "claims") {
    csv << "claim_id,project_id,municipality_id,claim_date,budget_in_force_from,claimed_cents,claimed_esf_cents,"
           "claimed_state_cents,eligible_cents,eligible_esf_cents,eligible_state_cents,approved_cents,"
           "approved_esf_cents,approved_state_cents,paid_cents,paid_esf_cents,paid_state_cents,outstanding_cents,"
           "outstanding_esf_cents,outstanding_state_cents,lines_with_findings,payments_with_findings,findings\n";
    for (const ClaimReconciliation& claim : claims) {
      csv << CsvField(claim.claim_id) << ',' << CsvField(claim.project_id) << ',' << CsvField(claim.municipality_id)
          << ',' << FormatDate(claim.claim_date) << ',' << BudgetLabel(claim);
      for (const SplitCents* split : {&claim.claimed, &claim.eligible, &claim.approved, &claim.paid, &claim.outstanding}) {
        CsvSplit(csv, *split);
      }
      csv << ',' << claim.lines_with_findings << ',' << claim.payments_with_findings << ','
          << CsvField(Joined(claim.findings)) << '\n';
    }
  } else if (table == "lines" || table.empty()) {
    csv << "claim_id,municipality_id,delivery_id,service,delivery_date,claimed_cents,eligible_cents,approved_cents,"
           "approved_esf_cents,approved_state_cents,paid_cents,paid_esf_cents,paid_state_cents,"
           "claimed_over_eligible_cents,findings\n";
    for (const ClaimReconciliation& claim : claims) {
      for (const ReconciliationLine& line : claim.lines) {
        csv << CsvField(claim.claim_id) << ',' << CsvField(claim.municipality_id) << ',' << CsvField(line.delivery_id)
            << ',' << CsvField(line.service) << ',' << (line.delivery_date ? FormatDate(line.delivery_date) : "")
            << ',' << line.claimed_cents << ',' << line.eligible_cents << ',' << line.approved_cents << ','
            << line.approved_esf_cents << ',' << line.approved_state_cents << ',' << line.paid_cents << ','
            << line.paid_esf_cents << ',' << line.paid_state_cents << ',' << line.claimed_over_eligible_cents << ','
            << CsvField(Joined(line.findings)) << '\n';
      }
    }
  } else {
    csv << "claim_id,municipality_id,payment_id,date,amount_cents,esf_cents,state_cents,expected_esf_cents,"
           "expected_state_cents,position,findings\n";
    for (const ClaimReconciliation& claim : claims) {
      for (const PaymentReconciliation& item : claim.payments) {
        csv << CsvField(claim.claim_id) << ',' << CsvField(claim.municipality_id) << ',' << CsvField(item.payment.id)
            << ',' << FormatDate(item.payment.date) << ',' << item.payment.amount_cents << ','
            << item.payment.esf_cents << ',' << item.payment.state_cents << ',' << item.expected.esf << ','
            << item.expected.state << ',' << item.payment.position << ',' << CsvField(Joined(item.findings)) << '\n';
      }
    }
  }
  return csv.str();
}

}  // namespace di::projections
