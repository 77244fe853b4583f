#include "di/projections/funding.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <unordered_map>

#include "di/ledger/catalog.h"
#include "di/ledger/invariant.h"

namespace di::projections {

using ledger::FormatDate;

void FundingFigures::Add(const FundingFigures& other) {
  deliveries += other.deliveries;
  delivered_cents += other.delivered_cents;
  eligible_cents += other.eligible_cents;
  claimed_cents += other.claimed_cents;
  approved_cents += other.approved_cents;
  approved_esf_cents += other.approved_esf_cents;
  approved_state_cents += other.approved_state_cents;
  paid_cents += other.paid_cents;
  paid_esf_cents += other.paid_esf_cents;
  paid_state_cents += other.paid_state_cents;
}

const BudgetVersion* BudgetInForce(const ProjectFacts& project, int32_t date) {
  const BudgetVersion* found = nullptr;
  for (const BudgetVersion& budget : project.budgets) {
    // Latest "in force from" on or before the date; among equal dates, the later recorded one.
    if (budget.from <= date && (found == nullptr || budget.from >= found->from)) found = &budget;
  }
  if (found == nullptr && !project.budgets.empty()) found = &project.budgets.front();
  return found;
}

std::vector<int64_t> AllocateLargestRemainder(int64_t total, const std::vector<int64_t>& weights) {
  std::vector<int64_t> shares(weights.size(), 0);
  const __int128 weight_sum = std::accumulate(weights.begin(), weights.end(), static_cast<__int128>(0));
  if (weight_sum <= 0 || total == 0) return shares;
  std::vector<std::pair<__int128, size_t>> remainders;
  int64_t allocated = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const __int128 product = static_cast<__int128>(total) * weights[i];
    shares[i] = static_cast<int64_t>(product / weight_sum);
    allocated += shares[i];
    remainders.emplace_back(product % weight_sum, i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; allocated < total && k < remainders.size(); ++k, ++allocated) ++shares[remainders[k].second];
  DI_ASSERT(allocated == total);
  return shares;
}

int64_t EsfPartOf(int64_t amount, const BudgetVersion* budget) {
  return budget == nullptr ? 0 : ProrateHalfUp(amount, budget->esf_cents, budget->total_cents);
}

std::vector<uint32_t> ClaimLineOrder(const ClaimFacts& claim) {
  DI_ASSERT(claim.lines.size() <= UINT32_MAX);
  std::vector<uint32_t> order(claim.lines.size());
  std::iota(order.begin(), order.end(), 0u);
  // Delivery id order: the order of the tie-break.
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return claim.lines[a] < claim.lines[b]; });
  return order;
}

ClaimSplit SplitClaim(const LedgerModel& model, const ClaimFacts& claim, int32_t valid_date) {
  return SplitClaim(model, claim, ClaimLineOrder(claim), valid_date);
}

ClaimSplit SplitClaim(const LedgerModel& model, const ClaimFacts& claim, const std::vector<uint32_t>& order,
                      int32_t valid_date) {
  DI_ASSERT(order.size() == claim.lines.size());
  ClaimSplit split;
  auto project = model.projects().find(claim.project_id);
  split.budget = project == model.projects().end() ? nullptr : BudgetInForce(project->second, claim.date);
  split.reviewed = claim.reviewed && claim.reviewed_on <= valid_date;
  split.lines.reserve(order.size());
  for (uint32_t index : order) split.lines.push_back(&claim.lines[index]);
  split.approved.assign(split.lines.size(), 0);
  std::vector<int64_t> claimed(split.lines.size(), 0);
  // Lines and approvals are both in delivery id order: one walk finds each line's approval.
  auto approval = claim.approved.begin();
  for (size_t i = 0; i < split.lines.size(); ++i) {
    const std::string& delivery_id = split.lines[i]->first;
    claimed[i] = split.lines[i]->second;
    split.claimed_cents += claimed[i];
    while (split.reviewed && approval != claim.approved.end() && approval->first < delivery_id) ++approval;
    if (split.reviewed && approval != claim.approved.end() && approval->first == delivery_id) {
      split.approved[i] = approval->second;
    }
    split.approved_cents += split.approved[i];
  }
  // The claim is split once; the lines get shares of its parts.
  split.approved_esf_cents = EsfPartOf(split.approved_cents, split.budget);
  split.approved_esf = AllocateLargestRemainder(split.approved_esf_cents, split.approved);
  for (const PaymentFacts& payment : claim.payments) {
    if (payment.date > valid_date) continue;
    split.paid_cents += payment.amount_cents;
    split.paid_esf_cents += payment.esf_cents;
  }
  // Paid with nothing approved cannot be recorded (the ledger refuses a payment above the approved total);
  // should it ever be, it is spread over what was claimed rather than dropped from every grouping.
  split.paid = AllocateLargestRemainder(split.paid_cents, split.approved_cents > 0 ? split.approved : claimed);
  split.paid_esf = AllocateLargestRemainder(split.paid_esf_cents, split.paid);
  return split;
}

void AddClaimLine(const ClaimSplit& split, size_t line, FundingFigures* figures) {
  figures->claimed_cents += split.lines[line]->second;
  figures->approved_cents += split.approved[line];
  figures->approved_esf_cents += split.approved_esf[line];
  figures->approved_state_cents += split.approved[line] - split.approved_esf[line];
  figures->paid_cents += split.paid[line];
  figures->paid_esf_cents += split.paid_esf[line];
  figures->paid_state_cents += split.paid[line] - split.paid_esf[line];
}

namespace {
std::string MonthOf(int32_t date) { return FormatDate(date).substr(0, 7); }
}  // namespace

FundingRowKey FundingRowOf(const LedgerModel& model, const GrantFacts& grant, int32_t date) {
  FundingRowKey key;
  key.municipality_id = grant.municipality_id;
  key.territory_id = model.TerritoryOf(grant.municipality_id);
  key.project_id = model.ProjectOfGrant(grant);
  key.service = std::string(ledger::ServiceName(grant.service));
  key.month = MonthOf(date);
  return key;
}

FundingRowKey FundingRowOfDelivery(const LedgerModel& model, const GrantFacts& grant, const DeliveryFacts& delivery) {
  FundingRowKey key = FundingRowOf(model, grant, delivery.date);
  key.provider_id = delivery.provider_id;
  key.mode = ledger::EnumValueName(delivery.mode);
  return key;
}

void MarkDimensions(const std::set<std::string>& keep, FundingReport* report) {
  report->by_provider = keep.count("provider") > 0;
  report->by_mode = keep.count("mode") > 0;
}

Status FundingDimensions(const std::vector<std::string>& group_by, std::set<std::string>* keep) {
  keep->clear();
  for (const std::string& dimension : group_by) {
    if (dimension != "project" && dimension != "territory" && dimension != "municipality" && dimension != "service" &&
        dimension != "provider" && dimension != "mode" && dimension != "month") {
      return Status::InvalidArgument("unknown dimension '" + dimension +
                                         "' (one of: project, territory, municipality, service, provider, mode, month)",
                                     "group_by");
    }
    keep->insert(dimension);
  }
  return Status::Ok();
}

FundingRowKey KeepDimensions(const FundingRowKey& key, const std::set<std::string>& keep) {
  FundingRowKey kept;
  if (keep.empty() || keep.count("project")) kept.project_id = key.project_id;
  if (keep.empty() || keep.count("territory")) kept.territory_id = key.territory_id;
  if (keep.empty() || keep.count("municipality")) kept.municipality_id = key.municipality_id;
  if (keep.empty() || keep.count("service")) kept.service = key.service;
  if (keep.empty() || keep.count("month")) kept.month = key.month;
  if (keep.count("provider")) kept.provider_id = key.provider_id;  // only when asked for
  if (keep.count("mode")) kept.mode = key.mode;
  return kept;
}

bool FundingQueryKeeps(const FundingQuery& query, const FundingRowKey& key) {
  return (query.project_id.empty() || key.project_id == query.project_id) &&
         (query.municipality_id.empty() || key.municipality_id == query.municipality_id ||
          key.territory_id == query.municipality_id);
}

FundingContext::ClaimApproval ClaimApprovalOf(const ClaimFacts& claim) {
  FundingContext::ClaimApproval approval{claim.project_id, claim.date, ledger::kNoDate, 0};
  if (claim.reviewed) {
    approval.reviewed_on = claim.reviewed_on;
    approval.approved_cents = ApprovedOfClaim(claim, claim.reviewed_on);
  }
  return approval;
}

FundingContext FundingContextOf(const LedgerModel& model) {
  FundingContext context;
  for (const auto& [id, project] : model.projects()) context.projects[id] = project.budgets;
  for (const auto& [id, municipality] : model.municipalities()) context.municipalities.insert(id);
  for (const auto& [id, claim] : model.claims()) context.claims[id] = ClaimApprovalOf(claim);
  return context;
}

Status CheckFundingQuery(const FundingContext& context, const FundingQuery& query, std::set<std::string>* keep) {
  DI_RETURN_IF_ERROR(FundingDimensions(query.group_by, keep));
  if (!query.project_id.empty() && !context.projects.count(query.project_id)) {
    return Status::NotFound("no project '" + query.project_id + "'");
  }
  if (!query.municipality_id.empty() && !context.municipalities.count(query.municipality_id)) {
    return Status::NotFound("no municipality '" + query.municipality_id + "'");
  }
  return Status::Ok();
}

int64_t ApprovedOfClaim(const ClaimFacts& claim, int32_t valid_date) {
  if (!claim.reviewed || claim.reviewed_on > valid_date) return 0;
  int64_t approved = 0;
  for (const auto& [delivery_id, claimed] : claim.lines) {
    if (auto line = claim.approved.find(delivery_id); line != claim.approved.end()) approved += line->second;
  }
  return approved;
}

void AppendFundingBudgets(const FundingContext& context, int32_t valid_date, const FundingQuery& query,
                          FundingReport* out) {
  // Each version, and what remains of it given the claims approved while it was in force.
  for (const auto& [project_id, budgets] : context.projects) {
    if (!query.project_id.empty() && project_id != query.project_id) continue;
    std::vector<BudgetVersion> versions = budgets;
    std::stable_sort(versions.begin(), versions.end(),
                     [](const BudgetVersion& a, const BudgetVersion& b) { return a.from < b.from; });
    for (size_t i = 0; i < versions.size(); ++i) {
      if (versions[i].from > valid_date) break;
      const int32_t until = i + 1 < versions.size() ? std::min(valid_date, versions[i + 1].from - 1) : valid_date;
      BudgetLine line{project_id, versions[i].from, versions[i].total_cents, versions[i].esf_cents,
                      versions[i].state_cents, versions[i].position, 0, 0};
      for (const auto& [claim_id, claim] : context.claims) {
        const bool approved_by_then = claim.reviewed_on != ledger::kNoDate && claim.reviewed_on <= valid_date;
        if (claim.project_id == project_id && claim.date <= until && approved_by_then) {
          line.approved_cents += claim.approved_cents;
        }
      }
      line.remaining_cents = line.total_cents - line.approved_cents;
      out->budgets.push_back(line);
    }
  }
}

Status ComputeFunding(const LedgerModel& model, int32_t valid_date, const FundingQuery& query, FundingReport* out) {
  *out = FundingReport{};
  out->valid_date = valid_date;
  out->known_at_position = model.last_position();
  std::set<std::string> keep;
  const FundingContext context = FundingContextOf(model);
  DI_RETURN_IF_ERROR(CheckFundingQuery(context, query, &keep));

  MarkDimensions(keep, out);
  // The row of a delivery: its grant's project, territory, municipality and service (and, when asked for, its
  // provider and mode), and its month. The grant's part is looked up once per grant (and provider and mode), and
  // deliveries are summed per (grant part, month) cell with integer keys; the rows keyed by strings are made from the
  // cells at the end (comparing those keys per delivery was a quarter of a report's instructions).
  struct GrantPart {
    bool included = false;  // a known grant that the project and municipality filters keep
    FundingRowKey key;      // without the month
  };
  const bool split_rows = out->by_provider || out->by_mode;
  std::unordered_map<std::string, size_t> grant_part_index;
  std::vector<GrantPart> grant_parts;
  std::string part_id;  // reused: with `split_rows`, the grant id, its delivery's provider and its mode
  // `split_by`: the delivery, only when its provider or mode splits the rows (else the grant's part is the grant's).
  auto grant_part = [&](const std::string& grant_id, const DeliveryFacts* split_by) -> size_t {
    const std::string* id = &grant_id;
    if (split_by != nullptr) {
      part_id = grant_id;
      part_id.append(1, '\0').append(split_by->provider_id).append(1, '\0');
      part_id.push_back(static_cast<char>(split_by->mode));
      id = &part_id;
    }
    auto [it, inserted] = grant_part_index.try_emplace(*id, grant_parts.size());
    if (!inserted) return it->second;
    GrantPart part;
    if (const GrantFacts* grant = model.FindGrant(grant_id)) {
      part.key = split_by != nullptr ? FundingRowOfDelivery(model, *grant, *split_by)
                                     : FundingRowOf(model, *grant, grant->valid_from);
      part.key.month.clear();  // the cell's month is the delivery's
      part.included = FundingQueryKeeps(query, part.key);
    }
    grant_parts.push_back(std::move(part));
    return it->second;
  };
  using Cell = std::pair<size_t, int32_t>;  // (grant part, month number: year * 12 + month - 1)
  auto month_number = [](int32_t date) {
    const ledger::CivilDate civil = ledger::CivilFromDays(date);
    return civil.year * 12 + static_cast<int32_t>(civil.month) - 1;
  };
  std::map<Cell, FundingFigures> cells;
  std::map<Cell, std::set<uint64_t>> cell_positions;  // with query.explain

  const EligibilityResult eligibility = DecideEligibility(model, valid_date);
  for (const DeliveryDecision& decision : eligibility.decisions) {
    // The delivery is looked up only when its provider or mode splits the rows.
    const size_t part =
        grant_part(decision.grant_id, split_rows ? &model.deliveries().at(decision.delivery_id) : nullptr);
    if (!grant_parts[part].included) continue;
    const Cell cell{part, month_number(decision.date)};
    FundingFigures& figures = cells[cell];
    figures.deliveries += 1;
    figures.delivered_cents += decision.cost_cents;
    figures.eligible_cents += decision.eligible_cost_cents;
    if (query.explain) cell_positions[cell].insert(decision.positions.begin(), decision.positions.end());
  }

  for (const auto& [claim_id, claim] : model.claims()) {
    if (claim.date > valid_date) continue;
    const ClaimSplit split = SplitClaim(model, claim, valid_date);
    for (size_t i = 0; i < split.lines.size(); ++i) {
      auto delivery = model.deliveries().find(split.lines[i]->first);
      if (delivery == model.deliveries().end()) continue;
      const size_t part = grant_part(delivery->second.grant_id, split_rows ? &delivery->second : nullptr);
      if (!grant_parts[part].included) continue;
      const Cell cell{part, month_number(delivery->second.date)};
      FundingFigures& figures = cells[cell];
      if (query.explain) {
        std::set<uint64_t>& positions = cell_positions[cell];
        positions.insert(claim.positions.begin(), claim.positions.end());  // claim, review, payments
        positions.insert(delivery->second.position);
        if (split.budget != nullptr) positions.insert(split.budget->position);
      }
      AddClaimLine(split, i, &figures);
    }
  }

  // The cells as rows of every dimension.
  std::map<FundingRowKey, FundingFigures> rows;
  std::map<FundingRowKey, std::set<uint64_t>> row_positions;  // with query.explain
  std::map<int32_t, std::string> month_labels;
  for (const auto& [cell, figures] : cells) {
    FundingRowKey key = grant_parts[cell.first].key;
    auto [label, inserted] = month_labels.try_emplace(cell.second);
    if (inserted) label->second = MonthOf(ledger::DaysFromCivil(cell.second / 12, cell.second % 12 + 1, 1));
    key.month = label->second;
    rows[key].Add(figures);
    if (query.explain) {
      const std::set<uint64_t>& positions = cell_positions[cell];
      row_positions[key].insert(positions.begin(), positions.end());
    }
  }

  // Aggregate to the kept dimensions.
  std::map<FundingRowKey, FundingFigures> grouped;
  std::map<FundingRowKey, std::set<uint64_t>> grouped_positions;
  for (const auto& [key, figures] : rows) {
    const FundingRowKey kept = KeepDimensions(key, keep);
    grouped[kept].Add(figures);
    out->totals.Add(figures);
    if (query.explain) grouped_positions[kept].insert(row_positions[key].begin(), row_positions[key].end());
  }
  for (const auto& [key, figures] : grouped) {
    FundingRow row{key.project_id, key.territory_id, key.municipality_id, key.service, key.provider_id, key.mode,
                   key.month, figures, {}};
    if (query.explain) row.positions.assign(grouped_positions[key].begin(), grouped_positions[key].end());
    out->rows.push_back(std::move(row));
  }
  // Pair assertions: parts sum to wholes.
  DI_ASSERT(out->totals.approved_esf_cents + out->totals.approved_state_cents == out->totals.approved_cents);
  DI_ASSERT(out->totals.paid_esf_cents + out->totals.paid_state_cents == out->totals.paid_cents);

  AppendFundingBudgets(context, valid_date, query, out);
  return Status::Ok();
}

nlohmann::ordered_json FundingFiguresToJson(const FundingFigures& figures) {
  return {{"deliveries", figures.deliveries},
          {"delivered_cents", figures.delivered_cents},
          {"eligible_cents", figures.eligible_cents},
          {"claimed_cents", figures.claimed_cents},
          {"approved_cents", figures.approved_cents},
          {"approved_esf_cents", figures.approved_esf_cents},
          {"approved_state_cents", figures.approved_state_cents},
          {"paid_cents", figures.paid_cents},
          {"paid_esf_cents", figures.paid_esf_cents},
          {"paid_state_cents", figures.paid_state_cents}};
}

nlohmann::ordered_json FundingToJson(const FundingReport& report) {
  nlohmann::ordered_json json;
  json["valid_at"] = FormatDate(report.valid_date);
  json["known_at_position"] = report.known_at_position;
  json["rows"] = nlohmann::ordered_json::array();
  for (const FundingRow& row : report.rows) {
    nlohmann::ordered_json item;
    if (!row.project_id.empty()) item["project_id"] = row.project_id;
    if (!row.territory_id.empty()) item["territory_id"] = row.territory_id;
    if (!row.municipality_id.empty()) item["municipality_id"] = row.municipality_id;
    if (!row.service.empty()) item["service"] = row.service;
    if (!row.provider_id.empty()) item["provider_id"] = row.provider_id;
    if (!row.mode.empty()) item["mode"] = row.mode;
    if (!row.month.empty()) item["month"] = row.month;
    const nlohmann::ordered_json figures = FundingFiguresToJson(row.figures);  // named: items() must not dangle
    for (const auto& [key, value] : figures.items()) item[key] = value;
    if (!row.positions.empty()) item["positions"] = row.positions;
    json["rows"].push_back(std::move(item));
  }
  json["totals"] = FundingFiguresToJson(report.totals);
  json["budgets"] = nlohmann::ordered_json::array();
  for (const BudgetLine& budget : report.budgets) {
    json["budgets"].push_back({{"project_id", budget.project_id},
                               {"in_force_from", FormatDate(budget.in_force_from)},
                               {"total_cents", budget.total_cents},
                               {"esf_cents", budget.esf_cents},
                               {"state_cents", budget.state_cents},
                               {"approved_cents", budget.approved_cents},
                               {"remaining_cents", budget.remaining_cents},
                               {"position", budget.position}});
  }
  if (!report.note.empty()) json["note"] = report.note;
  return json;
}

std::string FundingToCsv(const FundingReport& report) {
  std::ostringstream csv;
  // The provider and mode columns only when the query grouped by them: other answers keep their columns.
  csv << "project_id,territory_id,municipality_id,service," << (report.by_provider ? "provider_id," : "")
      << (report.by_mode ? "mode," : "")
      << "month,deliveries,delivered_cents,eligible_cents,claimed_cents,approved_cents,approved_esf_cents,"
         "approved_state_cents,paid_cents,paid_esf_cents,paid_state_cents\n";
  for (const FundingRow& row : report.rows) {
    const FundingFigures& f = row.figures;
    csv << row.project_id << ',' << row.territory_id << ',' << row.municipality_id << ',' << row.service << ',';
    if (report.by_provider) csv << row.provider_id << ',';
    if (report.by_mode) csv << row.mode << ',';
    csv << row.month << ',' << f.deliveries << ',' << f.delivered_cents << ',' << f.eligible_cents << ','
        << f.claimed_cents << ',' << f.approved_cents << ',' << f.approved_esf_cents << ','
        << f.approved_state_cents << ',' << f.paid_cents << ',' << f.paid_esf_cents << ',' << f.paid_state_cents
        << '\n';
  }
  return csv.str();
}

}  // namespace di::projections
