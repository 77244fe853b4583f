// Eligibility: for every delivery, eligible / partly eligible / ineligible under the rules, with the
// rule and a human-readable reason, and the eligible cost to the cent.
//
// Deliveries are decided in valid-time order (date, then position). A delivery that crosses a cap is
// split: the part inside is eligible, the rest is not, and its cost is prorated half-up to the cent
// (eligible_cost = round_half_up(cost * eligible_quantity / quantity)). Only eligible quantities use up
// an entitlement; voided deliveries use none, corrected ones use their corrected quantity.
#ifndef DI_PROJECTIONS_ELIGIBILITY_H_
#define DI_PROJECTIONS_ELIGIBILITY_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "di/projections/ledger_model.h"

namespace di::projections {

enum class Verdict { kEligible, kPartlyEligible, kIneligible };
std::string_view VerdictName(Verdict verdict);

struct DeliveryDecision {
  std::string delivery_id;
  std::string person_id;
  std::string grant_id;
  std::string municipality_id;
  schema::Service service = schema::Service::CHILD_CARE;
  int32_t date = 0;
  int64_t quantity = 0;
  int64_t cost_cents = 0;
  int64_t eligible_quantity = 0;
  int64_t eligible_cost_cents = 0;
  Verdict verdict = Verdict::kIneligible;
  std::string rule_id;   // the rule that decided it ("" when none applies)
  std::string reason;    // why it is not (fully) eligible; empty when eligible
  std::vector<uint64_t> positions;  // the events behind this decision (delivery, corrections)
};

// Usage of one cap instance: cap id, scope key, period instance ("2021-07", "2021-W26", "2021", ...).
struct CapUsage {
  std::string cap_id;
  std::string scope_key;
  std::string period_label;
  // "" for a cap's quantity; under a cap per kind, "kind:<kind>" for a kind's quantity and "kinds" for how many kinds
  // were counted (Cap::per_kind, Cap::max_kinds).
  std::string part;
  int64_t limit = 0;
  int64_t used = 0;
};

// The caps' counters of the deliveries decided so far. Key: cap id | scope key | period label. Hashed: the keys of a
// family share long prefixes, which made an ordered map's compares a fifth of a decision. Nothing iterates it in
// order; a node's address stays valid as it grows (CapCharges point into it).
using UsageCounters = std::unordered_map<std::string, CapUsage>;
// A counter's key in UsageCounters (and in the journal's usage records): cap id | scope key | period label, then
// | part when the part is not "".
std::string UsageCounterKey(const CapUsage& usage);
std::string UsageCounterKey(std::string_view cap_id, std::string_view scope_key, std::string_view period_label,
                            std::string_view part);
// The counters one delivery read and what it added to each (0 when a cap was already used up): so that it can be
// taken back, and so that the funding journal knows which later deliveries a late one can change. Counters live in
// nodes: the pointers stay valid while it lives.
using CapCharges = std::vector<std::pair<CapUsage*, int64_t>>;

struct EligibilityResult {
  std::vector<DeliveryDecision> decisions;  // valid-time order
  UsageCounters usage;
};

// Decides every live (not voided) delivery with date <= `valid_until` (kNoDate: all) in `model`.
// `persons` (optional) restricts it to the deliveries of those persons. Usage is shared only within a
// person or a family (cap scopes), so deciding a set closed under "same family" gives the same decisions
// for its members as deciding everything; ScopeOfPerson gives that set.
EligibilityResult DecideEligibility(const LedgerModel& model, int32_t valid_until = ledger::kNoDate,
                                    const std::set<std::string>* persons = nullptr);

// Decides one live delivery against `usage`, the counters of the deliveries of its family decided before it in
// valid-time order (date, then position), and charges its eligible quantity to them; with `charges`, appends
// every counter it read with what it charged. DecideEligibility is this, in order, over every delivery it considers.
DeliveryDecision DecideDelivery(const LedgerModel& model, const DeliveryFacts& delivery, UsageCounters* usage,
                                CapCharges* charges);

// What the rules decided of a delivery beside its facts: what the funding journal keeps per live delivery (and its
// store writes), so that an explained answer reads the decisions made as events arrived instead of deciding again.
struct DecisionOutcome {
  int64_t eligible_quantity = 0;
  int64_t eligible_cost_cents = 0;
  std::string rule_id;
  std::string reason;
  bool operator==(const DecisionOutcome&) const = default;
};
DecisionOutcome OutcomeOf(const DeliveryDecision& decision);
// The decision DecideDelivery made on `delivery`, from its facts in `model` and the outcome kept: equal to
// DecideDelivery's when `outcome` is its (without deciding; `outcome` is unused when the delivery's grant, person or
// the rules are unknown, which DecideDelivery decides from the facts alone).
DeliveryDecision DecisionFromOutcome(const LedgerModel& model, const DeliveryFacts& delivery,
                                     const DecisionOutcome& outcome);
// The deliveries an explained entitlements answer lists: the live deliveries of `person_id`'s grants dated on or
// before `valid_date`, in valid-time order (date, then position), as DecideEligibility considers them.
std::vector<const DeliveryFacts*> ExplainedDeliveriesOf(const LedgerModel& model, const std::string& person_id,
                                                        int32_t valid_date);

// The persons whose deliveries can change a decision about `person_id`: the person and everyone with a
// grant whose family is the person's.
std::set<std::string> ScopeOfPerson(const LedgerModel& model, const std::string& person_id);

// Quantity in words in the service's unit: "3 h 30 min", "4 days", "12 sessions".
std::string FormatQuantity(schema::Service service, int64_t quantity);

// Cents in words: "EUR 1 234.50" (a money cap's limit, in reasons).
std::string FormatEuros(int64_t cents);

// round_half_up(amount * part / whole), exact for the amounts of this domain (int128 intermediate).
int64_t ProrateHalfUp(int64_t amount, int64_t part, int64_t whole);

// The period instance of `date` for a cap: its label and first/last day.
struct PeriodInstance {
  std::string label;
  int32_t first_day = 0;
  int32_t last_day = 0;
};
bool CapPeriodInstance(const Cap& cap, int32_t date, const std::string& plan_id, const PlanFacts* plan,
                       PeriodInstance* instance);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_ELIGIBILITY_H_
