#include "world.h"

#include <cstdio>
#include <sstream>
#include <utility>

#include "di/ledger/civil_date.h"
#include "di/ledger/json_codec.h"
#include "di/projections/default_rules.h"
#include "di/workload/region_history.h"
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

std::vector<nlohmann::json> NumberedDeliveries(int first, int count) {
  std::vector<nlohmann::json> events;
  for (int i = first; i < first + count; ++i) {
    const int32_t day = ledger::DaysFromCivil(2021, 1, 1) + i % 900;
    events.push_back(Delivery("e-" + std::to_string(i), "D-" + std::to_string(i), ledger::FormatDate(day), 30));
  }
  return events;
}

std::string SimulatedRegionText(uint64_t seed, int persons, int years) {
  workload::SimulateOptions options;
  options.seed = seed;
  options.persons = persons;
  options.years = years;
  std::ostringstream text;
  workload::WriteSimulatedHistory(options, text);
  return text.str();
}

std::vector<std::string> SimulatedRegionLines(uint64_t seed, int persons, int years) {
  std::istringstream text(SimulatedRegionText(seed, persons, years));
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  return lines;
}

std::vector<ledger::NewEvent> SimulatedRegionEvents(uint64_t seed, int persons) {
  std::vector<ledger::NewEvent> events;
  events.push_back(Event(DefaultRulesEvent("default")));
  for (const std::string& line : SimulatedRegionLines(seed, persons)) {
    ledger::NewEvent event;
    EXPECT_TRUE(ledger::EventFromJsonText(line, &event).ok());
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace di::testing
