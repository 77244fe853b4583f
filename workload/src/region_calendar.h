// Calendar and money helpers of the region history (day numbers as in di::ledger, integer cents).
#ifndef DI_WORKLOAD_SRC_REGION_CALENDAR_H_
#define DI_WORKLOAD_SRC_REGION_CALENDAR_H_

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "di/ledger/civil_date.h"
#include "region_random.h"
#include "world.h"

namespace di::workload::region {

using Json = nlohmann::ordered_json;
using ::di::ledger::AgeInYears;
using ::di::ledger::CivilDate;
using ::di::ledger::CivilFromDays;
using ::di::ledger::DaysFromCivil;
using ::di::ledger::DaysInMonth;
using ::di::ledger::FormatDate;
using ::di::ledger::kNoDate;


// ---------------------------------------------------------------------------------------------------------
// Calendar helpers (day numbers as in di::ledger)
// ---------------------------------------------------------------------------------------------------------

// Monday = 0 ... Sunday = 6 (1970-01-01, day 0, was a Thursday).
inline int Weekday(int32_t day) {
  int remainder = static_cast<int>(day % 7);
  if (remainder < 0) remainder += 7;
  return (remainder + 3) % 7;
}

// Number of the Monday-based week; used to skip every other week for fortnightly sessions.
// (Simulated days are all after 1970, so plain division is floor division.)
inline int64_t WeekIndex(int32_t day) { return (static_cast<int64_t>(day) + 3) / 7; }

// Offices work on weekdays: administrative events falling on a weekend move to the next Monday.
inline int32_t Workday(int32_t day) {
  const int weekday = Weekday(day);
  return weekday == 5 ? day + 2 : weekday == 6 ? day + 1 : day;
}

inline int32_t AddMonths(int32_t day, int months) {
  const CivilDate date = CivilFromDays(day);
  int month_index = date.year * 12 + (date.month - 1) + months;
  const int year = month_index / 12;
  const int month = month_index % 12 + 1;
  return Date(year, month, std::min(date.day, DaysInMonth(year, month)));
}

inline int32_t AddYears(int32_t day, int years) { return AddMonths(day, 12 * years); }

inline int32_t MonthStart(int32_t day) {
  const CivilDate date = CivilFromDays(day);
  return Date(date.year, date.month, 1);
}

inline int32_t MonthEnd(int32_t day) {
  const CivilDate date = CivilFromDays(day);
  return Date(date.year, date.month, DaysInMonth(date.year, date.month));
}

inline int32_t YearEnd(int32_t day) { return Date(CivilFromDays(day).year, 12, 31); }

// Last day on which a person born on `birth_date` is still 17 (children's services stop then).
inline int32_t LastDayAsChild(int32_t birth_date) { return AddYears(birth_date, 18) - 1; }

// A birth date giving exactly `age` completed years on `on`.
inline int32_t BirthDateForAge(int32_t on, int age, Rng& rng) {
  int32_t birth = AddYears(on, -age) - static_cast<int32_t>(rng.Between(0, 364));
  while (AgeInYears(birth, on) > age) ++birth;
  while (AgeInYears(birth, on) < age) --birth;
  return birth;
}

// ---------------------------------------------------------------------------------------------------------
// Money: integer cents only
// ---------------------------------------------------------------------------------------------------------

// round(numerator / denominator) with halves rounded up, for non-negative numerator, positive denominator.
inline int64_t DivideHalfUp(int64_t numerator, int64_t denominator) {
  return (2 * numerator + denominator) / (2 * denominator);
}

// amount * part / whole, rounded half-up, without overflowing 64 bits: the quotient of amount / whole is
// multiplied exactly, and only the remainder (< whole) is scaled, which keeps products below 2^63 for any
// budget figure of this project.
inline int64_t ShareHalfUp(int64_t amount, int64_t part, int64_t whole) {
  const int64_t quotient = amount / whole;
  const int64_t remainder = amount % whole;
  return quotient * part + DivideHalfUp(remainder * part, whole);
}

}  // namespace di::workload::region

#endif  // DI_WORKLOAD_SRC_REGION_CALENDAR_H_
