#include "di/ledger/civil_date.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace di::ledger {
namespace {

TEST(CivilDateTest, KnownDayNumbers) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(2021, 7, 1), 18809);
}

TEST(CivilDateTest, RoundTripEveryDayOfThreeCenturies) {
  for (int32_t days = DaysFromCivil(1900, 1, 1); days <= DaysFromCivil(2199, 12, 31); ++days) {
    const CivilDate date = CivilFromDays(days);
    ASSERT_EQ(DaysFromCivil(date.year, date.month, date.day), days);
    int32_t parsed;
    ASSERT_TRUE(ParseDate(FormatDate(days), &parsed));
    ASSERT_EQ(parsed, days);
  }
}

// FormatDate writes the digits by hand for years 0..9999 and falls back to snprintf outside them: both give
// what "%04d-%02d-%02d" gives.
TEST(CivilDateTest, FormatsAsPrintfWouldAcrossTheYearRange) {
  EXPECT_EQ(FormatDate(DaysFromCivil(2021, 7, 1)), "2021-07-01");
  EXPECT_EQ(FormatDate(DaysFromCivil(1970, 1, 1)), "1970-01-01");
  EXPECT_EQ(FormatDate(DaysFromCivil(0, 1, 1)), "0000-01-01");
  EXPECT_EQ(FormatDate(DaysFromCivil(9, 12, 31)), "0009-12-31");
  EXPECT_EQ(FormatDate(DaysFromCivil(9999, 12, 31)), "9999-12-31");
  EXPECT_EQ(FormatDate(DaysFromCivil(10000, 1, 1)), "10000-01-01");
  EXPECT_EQ(FormatDate(DaysFromCivil(-1, 12, 31)), "-001-12-31");
  for (int32_t days = DaysFromCivil(-3, 1, 1); days <= DaysFromCivil(10003, 12, 31); days += 97) {
    const CivilDate date = CivilFromDays(days);
    char expected[24];
    std::snprintf(expected, sizeof(expected), "%04d-%02d-%02d", date.year, date.month, date.day);
    ASSERT_EQ(FormatDate(days), expected) << days;
  }
}

TEST(CivilDateTest, RejectsImpossibleDates) {
  int32_t days;
  EXPECT_FALSE(ParseDate("2021-02-29", &days));
  EXPECT_TRUE(ParseDate("2020-02-29", &days));
  EXPECT_FALSE(ParseDate("1900-02-29", &days));  // 1900 is not a leap year
  EXPECT_TRUE(ParseDate("2000-02-29", &days));   // 2000 is
  EXPECT_FALSE(ParseDate("2021-04-31", &days));
  EXPECT_FALSE(ParseDate("2021-13-01", &days));
  EXPECT_FALSE(ParseDate("2021-00-10", &days));
  EXPECT_FALSE(ParseDate("2021-1-01", &days));
  EXPECT_FALSE(ParseDate("2021-01-01T00:00", &days));
  EXPECT_FALSE(ParseDate("1899-12-31", &days));
  EXPECT_FALSE(ParseDate("2200-01-01", &days));
  EXPECT_FALSE(ParseDate("", &days));
}

TEST(CivilDateTest, AgeChangesOnTheBirthday) {
  const int32_t birth = DaysFromCivil(2016, 7, 28);
  EXPECT_EQ(AgeInYears(birth, DaysFromCivil(2021, 7, 27)), 4);
  EXPECT_EQ(AgeInYears(birth, DaysFromCivil(2021, 7, 28)), 5);
  const int32_t leap_birth = DaysFromCivil(2004, 2, 29);
  EXPECT_EQ(AgeInYears(leap_birth, DaysFromCivil(2022, 2, 28)), 17);
  EXPECT_EQ(AgeInYears(leap_birth, DaysFromCivil(2022, 3, 1)), 18);
  EXPECT_EQ(AgeInYears(leap_birth, DaysFromCivil(2024, 2, 29)), 20);
}

TEST(CivilDateTest, UtcMicros) {
  const int64_t micros = (int64_t{DaysFromCivil(2021, 7, 10)} * 86400 + 13 * 3600 + 5 * 60 + 9) * 1000000 + 42;
  EXPECT_EQ(FormatUtcMicros(micros), "2021-07-10T13:05:09.000042Z");
  int64_t parsed;
  ASSERT_TRUE(ParseUtcMicros("2021-07-10T13:05:09.000042Z", &parsed));
  EXPECT_EQ(parsed, micros);
  ASSERT_TRUE(ParseUtcMicros("2021-07-10T13:05:09Z", &parsed));
  EXPECT_EQ(parsed, micros - 42);
  EXPECT_FALSE(ParseUtcMicros("2021-07-10T24:00:00Z", &parsed));
  EXPECT_FALSE(ParseUtcMicros("2021-07-10 13:05:09Z", &parsed));
}

}  // namespace
}  // namespace di::ledger
