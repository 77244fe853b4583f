// What the two generators share about the world they write: civil dates, numbered ids, the catalogue's
// services with their units (ledger/), and the rules' dates and caps (rule_facts.h, from projections/).
// The region history (region_*.cc) and the adversarial history (fuzzy_*.cc) build on these, so neither
// keeps a copy of the catalogue or of the rules.
#ifndef DI_WORKLOAD_SRC_WORLD_H_
#define DI_WORKLOAD_SRC_WORLD_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "rule_facts.h"

namespace di::workload {

using Service = schema::Service;
using Unit = schema::Unit;
inline constexpr int kServiceCount = static_cast<int>(Service::PARENT_SUPPORT_GROUP) + 1;

// The JSON name of a service ("child_care") and the unit its quantities are in: the catalogue's.
inline std::string NameOf(Service service) { return std::string(ledger::ServiceName(service)); }
inline Unit UnitOf(Service service) { return ledger::ServiceUnit(service); }

// A civil date as a day number (days since 1970-01-01, as in di::ledger).
inline int32_t Date(int year, int month, int day) { return ledger::DaysFromCivil(year, month, day); }

// `prefix` followed by `number` in at least `width` digits, zero-padded: NumberedId("G-", 7, 4) is "G-0007".
inline std::string NumberedId(std::string_view prefix, uint64_t number, int width) {
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%0*llu", width, static_cast<unsigned long long>(number));
  return std::string(prefix) + digits;
}

}  // namespace di::workload

#endif  // DI_WORKLOAD_SRC_WORLD_H_
