// Indicators: the projects' output indicators — persons assessed, persons with a support plan, persons
// receiving services (distinct persons, not service counts) — per target group and municipality of
// residence, against the project's targets in force on the valid date.
#ifndef DI_PROJECTIONS_INDICATORS_H_
#define DI_PROJECTIONS_INDICATORS_H_

#include <cstdint>
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
nlohmann::ordered_json IndicatorsToJson(const IndicatorsReport& report);
std::string IndicatorsToCsv(const IndicatorsReport& report);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_INDICATORS_H_
