// FuzzyHistory: a seeded, deliberately nasty event history for the projections' differential tests.
//
// The region history (region_history.h) is polite: grants sized to the deliveries, 97 % of the cost
// eligible, few corrections. This generator is not. In one small world (2 projects, 4 municipalities of
// which 2 merge on 2021-07-01, 10-25 persons of every target group, parents representing 1-3 children,
// siblings sharing a parent) it writes what the rules engine finds hardest:
//   * deliveries exactly at a weekly / monthly / yearly / whole-grant cap, one unit over, crossing it; on
//     month ends, 29 February, the days around 2021-07-01, 2022-06-16 and 2023-08-31, a child's fifth
//     birthday and the day before, every day of the week 2021-06-28..07-04; stays crossing month ends;
//   * late-recorded deliveries, grant ends and opinions (valid time months before the events around them),
//     corrections and voids (also of claimed deliveries), grant amendments (quantity, unit cost, validity),
//     suspensions, resumptions, parent activity changes mid-month, expiring opinions and disabilities;
//   * claims with partly approved and rejected lines, re-claims of rejected deliveries, several payments,
//     budget amendments between claims, a second rules_enacted with changed parameters, rules of Kurzeme's
//     own (respite per family) for one of the two projects, a rules document that does not parse, a provider's
//     closure recorded late (and its reopening);
//   * about 3 % events that the ledger must refuse (unknown references, dates out of order, quantities out
//     of range, codec errors, a duplicate id, a stale expected_version), and a few idempotent retries.
//
// The generator mirrors the ledger's validation state (docs/events.md §4) to know which events are valid;
// FuzzyHistoryInfo says, event by event, what the ledger must answer.
//
// Determinism: one std::mt19937_64 seeded with the seed, an unbiased range reduction written here (not
// std::uniform_int_distribution, whose output differs between standard libraries), ordered containers only.
// Same seed and options -> the same events, byte for byte.
#ifndef DI_WORKLOAD_FUZZY_HISTORY_H_
#define DI_WORKLOAD_FUZZY_HISTORY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace di::workload {

struct FuzzyHistoryOptions {
  // Persons enrolled across all target groups, clamped to 10..25. Default 18.
  int persons = 18;
  // Events to generate, roughly (deliveries fill what the life events leave), clamped to 500..50000.
  // Default 3000: small enough that a test folds many seeds in seconds.
  int events = 3000;
  // Events the ledger must refuse, per mille of the valid events, 0..200. Default 30 (3 %).
  int invalid_per_mille = 30;
};

// What the generator knows about its own output.
struct FuzzyHistoryInfo {
  enum class Outcome {
    kAppended,  // valid: appended at the next position
    kRetry,     // an exact copy of an earlier appended event: accepted, appends nothing (idempotent)
    kRefused,   // invalid on purpose: refused with `code`, naming `field`
  };
  struct Expectation {
    Outcome outcome = Outcome::kAppended;
    std::string code;   // kRefused: "invalid_argument", "conflict" or "duplicate_id"
    std::string field;  // kRefused: the field the Status must name ("data.quantity", "effective_date", ...)
    std::string what;   // kRefused: what is wrong, for failure messages
  };
  std::vector<Expectation> expectations;  // one per event, in history order

  // Counts of the valid events generated, by what they exercise.
  int64_t deliveries = 0;
  int64_t stays = 0;                // deliveries with a last_date after their first day
  int64_t boundary_deliveries = 0;  // on a special date (leap day, rule change, birthday, month end...)
  int64_t cap_scenarios = 0;        // periods filled exactly to, one over, or across the grant's quantity
  int64_t late_deliveries = 0;      // dated months before the month they are recorded in
  int64_t corrections = 0;
  int64_t voids = 0;
  int64_t changes_of_claimed = 0;   // corrections and voids of deliveries already in a claim
  int64_t grants = 0;
  int64_t grant_amendments = 0;
  int64_t suspensions = 0;
  int64_t resumptions = 0;
  int64_t grant_ends = 0;
  int64_t claims = 0;
  int64_t reviews = 0;
  int64_t lines_partly_approved = 0;
  int64_t lines_rejected = 0;
  int64_t payments = 0;
  int64_t budget_amendments = 0;
  int64_t rules_enacted = 0;
  int64_t refused = 0;
  int64_t retries = 0;

  // One line of the counts above, for test output.
  std::string Summary() const;
};

// The history, in the order to append it. Each element is one event in the input JSON form of
// docs/events.md. `info` (optional) receives the expectations and counts.
std::vector<nlohmann::json> FuzzyHistory(uint64_t seed, const FuzzyHistoryOptions& options,
                                         FuzzyHistoryInfo* info = nullptr);

}  // namespace di::workload

#endif  // DI_WORKLOAD_FUZZY_HISTORY_H_
