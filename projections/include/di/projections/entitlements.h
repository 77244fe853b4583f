// Entitlements: per person and service, what is granted, used and remaining in the period that contains
// the valid date asked, under the rule in force on that date, as known at the model's last position.
#ifndef DI_PROJECTIONS_ENTITLEMENTS_H_
#define DI_PROJECTIONS_ENTITLEMENTS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <functional>
#include <vector>

#include "di/projections/eligibility.h"

namespace di::projections {

struct EntitlementCap {
  std::string cap_id;       // a rule cap id, or "grant:<id>" for the grant's own quantity
  // Under a cap per kind (docs/rules.md §2.7): "kind:<kind>" for one kind's quantity, "kinds" for the count of kinds
  // against max_kinds; "" otherwise.
  std::string part;
  std::string scope_key;    // whose usage: the person, or "family:<id>" (UsageCounterKey); not in the JSON
  std::string description;  // "cap child-care-month of 200 h per month (rule ...)"
  std::string period_label; // "2021-07"
  int64_t limit = 0;
  int64_t used = 0;         // eligible quantity delivered in the period up to the valid date
  int64_t remaining = 0;
  bool money = false;       // a money cap: limit, used and remaining are eligible cost in cents
};

struct EntitlementLine {
  std::string grant_id;
  schema::Service service = schema::Service::CHILD_CARE;
  int64_t granted_quantity = 0;
  schema::Period granted_period = schema::Period::MONTH;
  int32_t grant_valid_from = 0;
  int32_t grant_last_day = 0;
  std::string rule_id;
  // The version of the rules the grant is decided under, when they are not the person's project's (a grant in
  // another project's municipality); "" otherwise, and then left out of the JSON.
  std::string rules_version;
  std::string problem;  // why a delivery on the valid date would not be eligible ("" if it would)
  std::vector<EntitlementCap> caps;
  int64_t remaining = 0;  // the smallest remaining over the quantity caps (0 too when a money cap is used up)
  int64_t remaining_cents = -1;  // the smallest remaining over the money caps; -1: the line has none
};

struct Entitlements {
  std::string person_id;
  schema::TargetGroup target_group = schema::TargetGroup::ADULT_MENTAL_DISABILITY;
  int age = 0;
  int32_t valid_date = 0;
  uint64_t known_at_position = 0;
  std::string rules_version;            // of the rules governing the person's project (docs/rules.md §3.0)
  std::string rules_problem;           // the latest rules_enacted for it that could not be used, and why ("" if none)
  std::vector<EntitlementLine> lines;  // one per grant in force on the valid date
  bool explained = false;              // computed with `explain`: `deliveries` is filled (and may be empty)
  // With `explain`: the decisions about this person's deliveries up to the valid date (the figures'
  // events), in valid-time order.
  std::vector<DeliveryDecision> deliveries;
  // Why the answer is empty although the query is valid: it is as known at a position before anything it asks
  // about was recorded (ExplainNotYetKnown, replay.h). Empty otherwise; in JSON only when set.
  // The person's target group and age are then unknown and left out of the JSON.
  std::string note;
};

// Decides only the deliveries of the person's family (ScopeOfPerson), which is all their usage depends on.
Status ComputeEntitlements(const LedgerModel& model, const std::string& person_id, int32_t valid_date,
                           Entitlements* out, bool explain = false);
// The usage of one cap counter (UsageCounterKey) as of the valid date asked about: what its deliveries used.
using CounterUsage = std::function<int64_t(const std::string& counter)>;
// The counters whose key starts with `prefix`, each with its usage as of the valid date (any order): the kinds
// counted under a cap per kind.
using CounterPrefixUsage =
    std::function<std::vector<std::pair<std::string, int64_t>>(const std::string& prefix)>;
// That, over the counters of a decided eligibility (EligibilityResult::usage).
std::vector<std::pair<std::string, int64_t>> CountersWithPrefix(const UsageCounters& counters,
                                                                 const std::string& prefix);
// Entitlements with the usage given rather than decided here: from the funding journal (FundingJournal::UsageAsOf)
// or its store (journal_entitlements.h); `used` is asked once per cap of each grant in force. `model` needs the rules
// and the facts of the person's family only, not their deliveries. Never explained (the decisions are
// ComputeEntitlements's).
Status ComputeEntitlementsFromUsage(const LedgerModel& model, const std::string& person_id, int32_t valid_date,
                                    const CounterUsage& used, const CounterPrefixUsage& kinds_used, Entitlements* out);
// The one JSON and CSV form of entitlements: the CLI and the HTTP API print these, byte for byte.
nlohmann::ordered_json EntitlementsToJson(const Entitlements& entitlements);
// CSV with a header line: one row per cap of each grant (a grant without caps: one row).
std::string EntitlementsToCsv(const Entitlements& entitlements);
// One delivery's decision: quantity, cost, eligible parts, verdict, rule, reason (only when there is one) and
// the positions of the events behind it.
nlohmann::ordered_json DecisionToJson(const DeliveryDecision& decision);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_ENTITLEMENTS_H_
