// Civil dates (YYYY-MM-DD, proleptic Gregorian) as days since 1970-01-01.
//
// The ledger stores every date as an int32 day number: comparisons and ranges are integer operations,
// and the encoding is independent of time zones. Only years 1900..2199 are accepted from the outside:
// nothing in this domain lies outside, and a bound catches typos such as 20221-01-01.
#ifndef DI_LEDGER_CIVIL_DATE_H_
#define DI_LEDGER_CIVIL_DATE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace di::ledger {

// Sentinel for "no date" in optional date fields (the schema default of optional $date fields).
inline constexpr int32_t kNoDate = INT32_MIN;
inline constexpr int kMinYear = 1900;
inline constexpr int kMaxYear = 2199;

struct CivilDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};

// Howard Hinnant's days_from_civil algorithm; exact for every Gregorian date.
int32_t DaysFromCivil(int year, int month, int day);
CivilDate CivilFromDays(int32_t days);

bool IsLeapYear(int year);
int DaysInMonth(int year, int month);

// Parses exactly "YYYY-MM-DD" (zero-padded, a real calendar date within kMinYear..kMaxYear).
bool ParseDate(std::string_view text, int32_t* days);
// Formats a day number as "YYYY-MM-DD". Precondition: days != kNoDate.
std::string FormatDate(int32_t days);

// Age in whole years on `on_date` of a person born on `birth_date` (a 29 February birthday counts
// as reached on 1 March in common years).
int AgeInYears(int32_t birth_date, int32_t on_date);

// UTC microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ".
std::string FormatUtcMicros(int64_t micros);
bool ParseUtcMicros(std::string_view text, int64_t* micros);

}  // namespace di::ledger

#endif  // DI_LEDGER_CIVIL_DATE_H_
