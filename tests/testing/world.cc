#include "world.h"

#include <cstdio>
#include <utility>

#include "di/projections/default_rules.h"
#include "test_util.h"

namespace di::testing {

nlohmann::json DefaultRulesEvent(const std::string& title) {
  return {{"id", "rules"}, {"type", "rules_enacted"}, {"effective_date", "2015-07-01"}, {"actor", "test"},
          {"data", {{"rule_set_id", "MK313"}, {"title", title},
                    {"document", nlohmann::json::parse(projections::DefaultRulesDocument())}}}};
}

std::vector<nlohmann::json> World() {
  std::vector<nlohmann::json> world = {DefaultRulesEvent()};
  for (nlohmann::json& event : BaseWorld()) world.push_back(std::move(event));
  return world;
}

std::vector<nlohmann::json> Deliveries(const std::string& prefix, int count) {
  std::vector<nlohmann::json> events;
  for (int i = 0; i < count; ++i) {
    char date[16];
    std::snprintf(date, sizeof(date), "2021-%02d-%02d", 1 + (i / 28) % 12, 1 + i % 28);
    events.push_back(Delivery(prefix + "-e" + std::to_string(i), prefix + "-d" + std::to_string(i), date));
  }
  return events;
}

}  // namespace di::testing
