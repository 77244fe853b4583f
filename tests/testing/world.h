// The test world of the server-level tests: the default rules, then test_util's BaseWorld().
#ifndef DI_TESTS_TESTING_WORLD_H_
#define DI_TESTS_TESTING_WORLD_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace di::testing {

// rules_enacted "rules" on 2015-07-01: MK313 with the default rules document (di/projections/default_rules.h),
// so that entitlements have caps.
nlohmann::json DefaultRulesEvent(const std::string& title = "default rules");

// DefaultRulesEvent(), then BaseWorld(): 13 events.
std::vector<nlohmann::json> World();

// `count` deliveries under G-1 (child P-C1, municipality M-1; valid 2021-01-01..2023-08-31), ids prefixed:
// "<prefix>-e<i>" with delivery "<prefix>-d<i>", dated 2021-01-01, 2021-01-02, ... (28 days a month).
std::vector<nlohmann::json> Deliveries(const std::string& prefix, int count);

}  // namespace di::testing

#endif  // DI_TESTS_TESTING_WORLD_H_
