// The test worlds: the server-level tests' world (the default rules, then test_util's BaseWorld()), deliveries to
// add to it, and the simulated region of the workload library.
#ifndef DI_TESTS_TESTING_WORLD_H_
#define DI_TESTS_TESTING_WORLD_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "di/ledger/event.h"

namespace di::testing {

// rules_enacted "rules" on 2015-07-01: MK313 with the default rules document (di/projections/default_rules.h),
// so that entitlements have caps.
nlohmann::json DefaultRulesEvent(const std::string& title = "default rules");

// DefaultRulesEvent(), then BaseWorld(): 13 events.
std::vector<nlohmann::json> World();

// `count` deliveries under G-1 (child P-C1, municipality M-1; valid 2021-01-01..2023-08-31), ids prefixed:
// "<prefix>-e<i>" with delivery "<prefix>-d<i>", dated 2021-01-01, 2021-01-02, ... (28 days a month).
std::vector<nlohmann::json> Deliveries(const std::string& prefix, int count);

// `count` deliveries of 30 minutes under G-1 numbered from `first`: "e-<i>" with delivery "D-<i>", dated
// 2021-01-01 + (i % 900) days (inside G-1's validity).
std::vector<nlohmann::json> NumberedDeliveries(int first, int count);

// ---- The simulated region (di/workload/region_history.h) ----------------------------------------------------

// What `di-ledger simulate --seed <seed> --persons <persons> --years <years>` writes: one JSON event a line. It
// enacts no rules: a store takes it after a rules event (DefaultRulesEvent).
std::string SimulatedRegionText(uint64_t seed, int persons, int years = 8);
// The same, line by line.
std::vector<std::string> SimulatedRegionLines(uint64_t seed, int persons, int years = 8);
// DefaultRulesEvent("default"), then the 8 simulated years of SimulatedRegionLines(seed, persons), as events to
// append (each line must parse: EXPECT).
std::vector<ledger::NewEvent> SimulatedRegionEvents(uint64_t seed, int persons);

}  // namespace di::testing

#endif  // DI_TESTS_TESTING_WORLD_H_
