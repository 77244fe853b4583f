#include "di/ledger/civil_date.h"

#include "di/ledger/invariant.h"
#include <cstdio>

namespace di::ledger {

int32_t DaysFromCivil(int year, int month, int day) {
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(y - era * 400);
  const unsigned day_of_year = (153u * static_cast<unsigned>(month + (month > 2 ? -3 : 9)) + 2u) / 5u +
                               static_cast<unsigned>(day) - 1u;
  const unsigned day_of_era = year_of_era * 365u + year_of_era / 4u - year_of_era / 100u + day_of_year;
  return era * 146097 + static_cast<int32_t>(day_of_era) - 719468;
}

CivilDate CivilFromDays(int32_t days) {
  // 64-bit: near INT32_MAX the shift by 719468 overflows 32 bits (every int32 day number is a year in int).
  const int64_t z = int64_t{days} + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned day_of_era = static_cast<unsigned>(z - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460u + day_of_era / 36524u - day_of_era / 146096u) / 365u;
  const int y = static_cast<int>(static_cast<int64_t>(year_of_era) + era * 400);
  const unsigned day_of_year = day_of_era - (365u * year_of_era + year_of_era / 4u - year_of_era / 100u);
  const unsigned mp = (5u * day_of_year + 2u) / 153u;
  const unsigned d = day_of_year - (153u * mp + 2u) / 5u + 1u;
  const unsigned m = mp < 10u ? mp + 3u : mp - 9u;
  return CivilDate{y + (m <= 2 ? 1 : 0), static_cast<int>(m), static_cast<int>(d)};
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  DI_ASSERT(month >= 1 && month <= 12);
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

namespace {
bool ParseDigits(std::string_view text, size_t offset, size_t count, int* value) {
  int result = 0;
  for (size_t i = offset; i < offset + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    result = result * 10 + (text[i] - '0');
  }
  *value = result;
  return true;
}
}  // namespace

bool ParseDate(std::string_view text, int32_t* days) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  int year, month, day;
  if (!ParseDigits(text, 0, 4, &year) || !ParseDigits(text, 5, 2, &month) || !ParseDigits(text, 8, 2, &day)) {
    return false;
  }
  if (year < kMinYear || year > kMaxYear || month < 1 || month > 12) return false;
  if (day < 1 || day > DaysInMonth(year, month)) return false;
  *days = DaysFromCivil(year, month, day);
  return true;
}

std::string FormatDate(int32_t days) {
  DI_ASSERT(days != kNoDate);
  const CivilDate date = CivilFromDays(days);
  if (date.year < 0 || date.year > 9999) {
    char buffer[24];
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", date.year, date.month, date.day);
    return buffer;
  }
  // By hand: reports format a date per delivery, and snprintf was 9 % of a funding report's instructions.
  std::string text = "0000-00-00";
  auto put = [&](size_t end, int value, int digits) {
    for (int i = 1; i <= digits; ++i, value /= 10) text[end - i] = static_cast<char>('0' + value % 10);
  };
  put(4, date.year, 4);
  put(7, date.month, 2);
  put(10, date.day, 2);
  return text;
}

int AgeInYears(int32_t birth_date, int32_t on_date) {
  const CivilDate birth = CivilFromDays(birth_date);
  const CivilDate on = CivilFromDays(on_date);
  int age = on.year - birth.year;
  if (on.month < birth.month || (on.month == birth.month && on.day < birth.day)) --age;
  return age;
}

std::string FormatUtcMicros(int64_t micros) {
  int64_t days = micros / 86400000000LL;
  int64_t rest = micros % 86400000000LL;
  if (rest < 0) {
    rest += 86400000000LL;
    --days;
  }
  const CivilDate date = CivilFromDays(static_cast<int32_t>(days));
  const int64_t seconds = rest / 1000000;
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", date.year, date.month, date.day,
                static_cast<int>(seconds / 3600), static_cast<int>(seconds / 60 % 60),
                static_cast<int>(seconds % 60), static_cast<int>(rest % 1000000));
  return buffer;
}

bool ParseUtcMicros(std::string_view text, int64_t* micros) {
  // Accepts "YYYY-MM-DDTHH:MM:SSZ" and "YYYY-MM-DDTHH:MM:SS.f{1,6}Z".
  if (text.size() < 20 || text.back() != 'Z' || text[10] != 'T' || text[13] != ':' || text[16] != ':') {
    return false;
  }
  int32_t days;
  if (!ParseDate(text.substr(0, 10), &days)) return false;
  int hour, minute, second;
  if (!ParseDigits(text, 11, 2, &hour) || !ParseDigits(text, 14, 2, &minute) ||
      !ParseDigits(text, 17, 2, &second) || hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  int64_t fraction = 0;
  const size_t fraction_end = text.size() - 1;
  if (fraction_end > 19) {
    if (text[19] != '.' || fraction_end - 20 < 1 || fraction_end - 20 > 6) return false;
    int digits = 0;
    for (size_t i = 20; i < fraction_end; ++i, ++digits) {
      if (text[i] < '0' || text[i] > '9') return false;
      fraction = fraction * 10 + (text[i] - '0');
    }
    for (; digits < 6; ++digits) fraction *= 10;
  } else if (fraction_end != 19) {
    return false;
  }
  *micros = (static_cast<int64_t>(days) * 86400 + hour * 3600 + minute * 60 + second) * 1000000LL + fraction;
  return true;
}

}  // namespace di::ledger
