// Indicators: the projects' output indicators — persons assessed, persons with a support plan, persons
// receiving services (distinct persons, not service counts) — per target group and municipality of
// residence, against the project's targets in force on the valid date.
#ifndef DI_PROJECTIONS_INDICATORS_H_
#define DI_PROJECTIONS_INDICATORS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "di/projections/ledger_model.h"

namespace di::projections {

struct IndicatorRow {
  std::string project_id;
  std::string target_group;
  std::string municipality_id;  // residence on the valid date, rolled up to its territory; "" in totals
  int64_t persons_enrolled = 0;
  int64_t persons_assessed = 0;
  int64_t persons_with_plan = 0;
  int64_t persons_receiving_services = 0;
  // GRT residents of a state social care centre prepared for community life, and those who moved to live in it
  // (brief §3.3 (H): targets 84 -> 53 in Zemgale, 129 in Latgale), counted by their first record's date.
  int64_t persons_prepared_for_transition = 0;
  int64_t persons_started_independent_life = 0;
};

struct IndicatorTargetRow {
  std::string project_id;
  std::string indicator;
  std::string target_group;
  int64_t target = 0;
  int64_t achieved = 0;
};

struct IndicatorsReport {
  int32_t valid_date = 0;
  uint64_t known_at_position = 0;
  std::vector<IndicatorRow> rows;            // per project, target group, municipality
  std::vector<IndicatorRow> totals;          // per project and target group
  std::vector<IndicatorTargetRow> targets;   // targets in force on the valid date vs achieved
  // Why the answer is empty although the query is valid: it is as known at a position before anything it asks
  // about was recorded (ExplainNotYetKnown, replay.h). Empty otherwise; in JSON only when set.
  std::string note;
};

Status ComputeIndicators(const LedgerModel& model, int32_t valid_date, const std::string& project_id,
                         const std::string& municipality_id, IndicatorsReport* out);

// What the indicators read of one person, as known: the enrolment, the residences, and the first day each indicator
// counts the person on (kNoDate: none yet). Whether a person counts on a valid date V is then a comparison with V:
// assessed from the first assessment, with a plan from the first plan's approval, receiving services from the first
// live delivery the rules make eligible at least in part (a decision does not depend on V: funding_journal.h). The
// funding journal keeps them per person (journal_indicators.h), so that indicators need no model of the region.
struct IndicatorMember {
  std::string person_id;
  bool enrolled = false;
  int32_t enrolled_on = ledger::kNoDate;
  std::string project_id;
  schema::TargetGroup target_group = schema::TargetGroup::ADULT_MENTAL_DISABILITY;
  std::string residence_municipality_id;                     // as last recorded
  std::vector<std::pair<int32_t, std::string>> residences;   // PersonFacts::residences
  int32_t first_assessed = ledger::kNoDate;
  int32_t first_planned = ledger::kNoDate;
  int32_t first_receiving = ledger::kNoDate;
  int32_t prepared_for_transition = ledger::kNoDate;
  int32_t started_independent_life = ledger::kNoDate;
  bool operator==(const IndicatorMember&) const = default;
};
// A person's member facts from `model` but the first day receiving services, which is the caller's (kNoDate).
IndicatorMember MemberFactsOf(const LedgerModel& model, const PersonFacts& person);
// The first day of each person receiving services, by person: the earliest live delivery DecideEligibility makes
// eligible at least in part, of those dated on or before `valid_until` (kNoDate: all; what ComputeIndicators decides
// the deliveries up to its valid date for).
std::map<std::string, int32_t> FirstReceivingOf(const LedgerModel& model, int32_t valid_until = ledger::kNoDate);
// ComputeIndicators with the persons from `members` (any order) and the projects, their targets and the
// municipalities' territories from `context` (a model that needs no person, grant or delivery).
Status ComputeIndicatorsOfMembers(const LedgerModel& context, int32_t valid_date, const std::string& project_id,
                                  const std::string& municipality_id, const std::vector<IndicatorMember>& members,
                                  IndicatorsReport* out);
nlohmann::ordered_json IndicatorsToJson(const IndicatorsReport& report);
std::string IndicatorsToCsv(const IndicatorsReport& report);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_INDICATORS_H_
