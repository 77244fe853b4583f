#include "di/projections/indicators.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "di/ledger/catalog.h"
#include "di/projections/eligibility.h"

namespace di::projections {

using ledger::FormatDate;

namespace {

// The earlier of two dates, kNoDate standing for "none".
int32_t EarlierDay(int32_t a, int32_t b) {
  if (a == ledger::kNoDate) return b;
  if (b == ledger::kNoDate) return a;
  return std::min(a, b);
}

bool CountsBy(int32_t first_day, int32_t valid_date) { return first_day != ledger::kNoDate && first_day <= valid_date; }

}  // namespace

IndicatorMember MemberFactsOf(const LedgerModel& model, const PersonFacts& person) {
  IndicatorMember member;
  member.person_id = person.id;
  member.enrolled = person.enrolled;
  member.enrolled_on = person.enrolled_on;
  member.project_id = person.project_id;
  member.target_group = person.target_group;
  member.residence_municipality_id = person.residence_municipality_id;
  member.residences = person.residences;
  for (int32_t date : person.assessment_dates) member.first_assessed = EarlierDay(member.first_assessed, date);
  member.prepared_for_transition = person.prepared_for_transition_on;
  member.started_independent_life = person.independent_life_from;
  for (const std::string& plan_id : person.plan_ids) {
    auto plan = model.plans().find(plan_id);
    if (plan != model.plans().end()) member.first_planned = EarlierDay(member.first_planned, plan->second.approved_on);
  }
  return member;
}

std::map<std::string, int32_t> FirstReceivingOf(const LedgerModel& model, int32_t valid_until) {
  // Persons receiving project-paid services (docs/events.md, the indicator's definition): at least one live
  // delivery dated on or before the valid date that the rules make eligible, wholly or in part. A person whose
  // every delivery is ineligible received services, but none the project pays for.
  std::map<std::string, int32_t> first;
  for (const DeliveryDecision& decision : DecideEligibility(model, valid_until).decisions) {
    if (decision.eligible_quantity <= 0) continue;
    auto [it, inserted] = first.try_emplace(decision.person_id, decision.date);
    if (!inserted) it->second = std::min(it->second, decision.date);
  }
  return first;
}

Status ComputeIndicators(const LedgerModel& model, int32_t valid_date, const std::string& project_id,
                         const std::string& municipality_id, IndicatorsReport* out) {
  if (!project_id.empty() && !model.projects().count(project_id)) {
    *out = IndicatorsReport{};
    return Status::NotFound("no project '" + project_id + "'");
  }
  const std::map<std::string, int32_t> receiving = FirstReceivingOf(model, valid_date);
  std::vector<IndicatorMember> members;
  members.reserve(model.persons().size());
  for (const auto& [person_id, person] : model.persons()) {
    members.push_back(MemberFactsOf(model, person));
    if (auto first = receiving.find(person_id); first != receiving.end()) members.back().first_receiving = first->second;
  }
  Status status = ComputeIndicatorsOfMembers(model, valid_date, project_id, municipality_id, members, out);
  out->known_at_position = model.last_position();
  return status;
}

Status ComputeIndicatorsOfMembers(const LedgerModel& context, int32_t valid_date, const std::string& project_id,
                                  const std::string& municipality_id, const std::vector<IndicatorMember>& members,
                                  IndicatorsReport* out) {
  *out = IndicatorsReport{};
  out->valid_date = valid_date;
  out->known_at_position = context.last_position();
  if (!project_id.empty() && !context.projects().count(project_id)) return Status::NotFound("no project '" + project_id + "'");
  using Key = std::tuple<std::string, std::string, std::string>;  // project, group, territory
  std::map<Key, IndicatorRow> rows;
  std::map<std::pair<std::string, std::string>, IndicatorRow> totals;
  for (const IndicatorMember& person : members) {
    if (!person.enrolled) continue;  // referenced but not enrolled (as known)
    if (person.enrolled_on > valid_date) continue;  // not yet enrolled on the valid date
    if (!project_id.empty() && person.project_id != project_id) continue;
    const std::string& residence =
        ResidenceInForce(person.residences, person.residence_municipality_id, valid_date);
    const std::string territory = context.TerritoryOf(residence);
    if (!municipality_id.empty() && territory != municipality_id && residence != municipality_id) continue;
    const std::string group = ledger::EnumValueName(person.target_group);
    const bool assessed = CountsBy(person.first_assessed, valid_date);
    const bool planned = CountsBy(person.first_planned, valid_date);
    const bool served = CountsBy(person.first_receiving, valid_date);
    const bool prepared = CountsBy(person.prepared_for_transition, valid_date);
    const bool independent = CountsBy(person.started_independent_life, valid_date);
    for (IndicatorRow* row : {&rows[{person.project_id, group, territory}], &totals[{person.project_id, group}]}) {
      row->persons_enrolled += 1;
      row->persons_assessed += assessed;
      row->persons_with_plan += planned;
      row->persons_receiving_services += served;
      row->persons_prepared_for_transition += prepared;
      row->persons_started_independent_life += independent;
    }
  }
  for (auto& [key, row] : rows) {
    row.project_id = std::get<0>(key);
    row.target_group = std::get<1>(key);
    row.municipality_id = std::get<2>(key);
    out->rows.push_back(row);
  }
  for (auto& [key, row] : totals) {
    row.project_id = key.first;
    row.target_group = key.second;
    out->totals.push_back(row);
  }
  // Targets in force on the valid date: the latest version from on or before it.
  for (const auto& [id, project] : context.projects()) {
    if (!project_id.empty() && id != project_id) continue;
    const TargetsVersion* in_force = nullptr;
    for (const TargetsVersion& version : project.targets) {
      if (version.from <= valid_date && (in_force == nullptr || version.from >= in_force->from)) in_force = &version;
    }
    if (in_force == nullptr) continue;
    for (const IndicatorTargetFacts& target : in_force->targets) {
      IndicatorTargetRow row;
      row.project_id = id;
      row.indicator = ledger::EnumValueName(target.indicator);
      row.target_group = ledger::EnumValueName(target.target_group);
      row.target = target.count;
      auto total = totals.find({id, row.target_group});
      if (total != totals.end()) {
        switch (target.indicator) {
          case schema::Indicator::PERSONS_ASSESSED: row.achieved = total->second.persons_assessed; break;
          case schema::Indicator::SUPPORT_PLANS: row.achieved = total->second.persons_with_plan; break;
          case schema::Indicator::PERSONS_RECEIVING_SERVICES: row.achieved = total->second.persons_receiving_services; break;
          case schema::Indicator::PERSONS_PREPARED_FOR_TRANSITION:
            row.achieved = total->second.persons_prepared_for_transition;
            break;
          case schema::Indicator::PERSONS_STARTED_INDEPENDENT_LIFE:
            row.achieved = total->second.persons_started_independent_life;
            break;
        }
      }
      out->targets.push_back(row);
    }
  }
  return Status::Ok();
}

nlohmann::ordered_json IndicatorsToJson(const IndicatorsReport& report) {
  auto row_json = [](const IndicatorRow& row) {
    nlohmann::ordered_json item;
    item["project_id"] = row.project_id;
    item["target_group"] = row.target_group;
    if (!row.municipality_id.empty()) item["municipality_id"] = row.municipality_id;
    item["persons_enrolled"] = row.persons_enrolled;
    item["persons_assessed"] = row.persons_assessed;
    item["persons_with_plan"] = row.persons_with_plan;
    item["persons_receiving_services"] = row.persons_receiving_services;
    item["persons_prepared_for_transition"] = row.persons_prepared_for_transition;
    item["persons_started_independent_life"] = row.persons_started_independent_life;
    return item;
  };
  nlohmann::ordered_json json;
  json["valid_at"] = FormatDate(report.valid_date);
  json["known_at_position"] = report.known_at_position;
  json["rows"] = nlohmann::ordered_json::array();
  for (const auto& row : report.rows) json["rows"].push_back(row_json(row));
  json["totals"] = nlohmann::ordered_json::array();
  for (const auto& row : report.totals) json["totals"].push_back(row_json(row));
  json["targets"] = nlohmann::ordered_json::array();
  for (const auto& target : report.targets) {
    json["targets"].push_back({{"project_id", target.project_id},
                               {"indicator", target.indicator},
                               {"target_group", target.target_group},
                               {"target", target.target},
                               {"achieved", target.achieved}});
  }
  if (!report.note.empty()) json["note"] = report.note;
  return json;
}

std::string IndicatorsToCsv(const IndicatorsReport& report) {
  std::ostringstream csv;
  csv << "project_id,target_group,municipality_id,persons_enrolled,persons_assessed,persons_with_plan,"
         "persons_receiving_services,persons_prepared_for_transition,persons_started_independent_life\n";
  for (const auto& row : report.rows) {
    csv << row.project_id << ',' << row.target_group << ',' << row.municipality_id << ',' << row.persons_enrolled << ','
        << row.persons_assessed << ',' << row.persons_with_plan << ',' << row.persons_receiving_services << ','
        << row.persons_prepared_for_transition << ',' << row.persons_started_independent_life << '\n';
  }
  return csv.str();
}

}  // namespace di::projections
