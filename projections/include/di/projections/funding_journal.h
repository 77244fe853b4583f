// The funding journal: the funding report's figures kept as events arrive, each change stamped with the position of
// the event that made it (issue #15; docs/projections.md "The funding journal").
//
// A delivery's decision depends only on the facts of its family and the rules, and on the deliveries of the family
// before it in valid-time order (date, then position); never on the valid date asked about (DecideEligibility decides
// in valid-time order, and a later delivery cannot change an earlier one's room). So the journal keeps each family's
// deliveries in that order with what each charged to the caps' counters, and an event re-decides only what it can
// change:
//   - a delivery recorded, corrected or voided: the deliveries of its family from its place in valid-time order on
//     (their charges are taken back first, then they are decided again in order);
//   - a fact of a person or a grant (enrolment, representation, residence, opinion, disability, activity,
//     assessment, plan, grant, amendment, end, suspension): every delivery of the family, re-partitioned when a
//     representation link joins families;
//   - a claim, its review, a payment: that claim's split; a budget: the claims of its project;
//   - rules, municipalities and their mergers (a handful of events): everything.
// Each delivery and claim contributes figures to cells (a funding row of every dimension) from a valid date on: a
// delivery from its date, a claim's lines from the claim's date, their approved parts from the review's date, their
// paid parts from each payment's date. What an event changed is the difference between the contributions before and
// after it. "As of valid date V" sums the contributions valid on or before V.
//
// This is the journal's in-memory core: the server's live journal, and what a JournalProjector follows into the store
// (journal_store.h). Beside the funding cells it keeps what the other answers read of its decisions: the caps' usage
// (entitlements), each live delivery's decision (reconciliation), each grant holder's first day receiving services
// (indicators).
#ifndef DI_PROJECTIONS_FUNDING_JOURNAL_H_
#define DI_PROJECTIONS_FUNDING_JOURNAL_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "di/ledger/event.h"
#include "di/projections/funding.h"

namespace di::projections {

// A cell's figures, and how many contributions make it a row (a live delivery or a claim line: ComputeFunding lists
// a row for every cell something was counted in, also when its money sums to zero).
struct CellFigures {
  FundingFigures figures;
  int64_t presence = 0;
  void Add(const CellFigures& other);
  void Subtract(const CellFigures& other);
  bool IsZero() const { return presence == 0 && figures == FundingFigures{}; }
};

// What the event at `position` changed in one cell, counting from the valid date `valid_from` on.
struct FundingChange {
  uint64_t position = 0;
  FundingRowKey cell;
  int32_t valid_from = 0;
  CellFigures delta;
};

// What the event followed changed in one counter of the caps (UsageCounterKey: cap id | scope key | period label),
// counting from the valid date `valid_from` on: the date of the deliveries whose charges moved (a stay's first day,
// which counts all its days, as DecideEligibility does). Entitlements' usage as known at any position is their sum.
struct UsageChange {
  std::string counter;
  int32_t valid_from = 0;
  int64_t delta = 0;
  bool operator==(const UsageChange&) const = default;
};

// The facts of the report's context (FundingContext) an event replaced: a project's budget versions, the
// municipalities, a claim's approval.
struct FundingContextChange {
  std::vector<std::pair<std::string, std::vector<BudgetVersion>>> projects;
  std::vector<std::string> municipalities;
  std::vector<std::pair<std::string, FundingContext::ClaimApproval>> claims;
  bool empty() const { return projects.empty() && municipalities.empty() && claims.empty(); }
};
// What `event`, just folded into `model`, replaced in the context.
FundingContextChange ContextChangeOf(const LedgerModel& model, const ledger::StoredEvent& event);
void ApplyContextChange(FundingContextChange change, FundingContext* context);

// Funding cells as the journals keep them: places interned (a row key without its month) and months as numbers
// (year * 12 + month - 1), so that an answer groups integers and makes strings only for the rows it gives.
struct FundingCells {
  struct Cell {
    uint32_t place = 0;  // index into `places`
    int32_t month = 0;
    CellFigures figures;
  };
  std::vector<FundingRowKey> places;  // month empty; each key once
  std::vector<Cell> cells;            // at most one per (place, month), none zero, in no particular order
  // Every cell as a row key of every dimension (what the tests compare with the naive fold).
  std::map<FundingRowKey, CellFigures> ToMap() const;
};
// The places' row keys under `query`, with the dimensions in `keep` (FundingDimensions): `keys` in key order, each
// once, and per place the index of its key (-1: the query's filters leave it out). The report and the changes report
// group cells by (key index, month) with it, as integers.
struct PlaceGrouping {
  std::vector<FundingRowKey> keys;
  std::vector<int64_t> key_of_place;
};
PlaceGrouping GroupPlaces(const std::vector<FundingRowKey>& places, const FundingQuery& query,
                          const std::set<std::string>& keep);

// "YYYY-MM" of a month number, and back (false when `text` is not one); the month number of a date.
std::string MonthText(int32_t month_number);
int32_t MonthNumber(int32_t date);
bool ParseMonthText(std::string_view text, int32_t* month_number);

class FundingJournal {
 public:
  FundingJournal() = default;
  // The charges point into the families' counters (map nodes, which a move keeps): never copied.
  FundingJournal(const FundingJournal&) = delete;
  FundingJournal& operator=(const FundingJournal&) = delete;
  FundingJournal(FundingJournal&&) = default;
  FundingJournal& operator=(FundingJournal&&) = default;

  // Decides everything `model` holds, as the base of what follows; records no change.
  void Reset(const LedgerModel& model);

  // `event` has just been folded into `model` (model.last_position() == its position): re-decides what it can change
  // and appends what changed to *changes (a place moved to another row key first, then per cell and valid date).
  void Follow(const LedgerModel& model, const ledger::StoredEvent& event, std::vector<FundingChange>* changes);

  // The position of the last event followed (or of the model it was reset on).
  uint64_t position() const { return position_; }
  // The report's context at that position, kept as events arrive (FundingContextOf would copy every claim), and
  // what the last event followed replaced in it.
  const FundingContext& context() const { return context_; }
  const FundingContextChange& last_context_change() const { return last_context_change_; }
  // What the last event followed changed in the caps' counters, in (counter, valid date) order, none zero.
  const std::vector<UsageChange>& last_usage_changes() const { return last_usage_changes_; }
  // The deliveries whose claim-line facts the last event followed may have changed (ClaimLineFacts,
  // reconciliation.h): the delivery it recorded, corrected or voided, and every delivery whose decision it changed.
  // Ascending, each once.
  const std::vector<std::string>& last_line_changes() const { return last_line_changes_; }
  // The rules' decision on a live delivery of a known grant as the journal made it (false: the journal decides no
  // such delivery): what DecideEligibility gives it on the model followed, at any valid date on or after its date.
  bool DecisionOf(const std::string& delivery_id, DecisionOutcome* outcome) const;
  // The persons whose indicator facts the last event followed may have changed (IndicatorMember, indicators.h): the
  // person of an event on a person stream, and every person whose first day receiving services it moved. Ascending.
  const std::vector<std::string>& last_member_changes() const { return last_member_changes_; }
  // The date of the earliest live delivery of `person_id`'s grants that the rules make eligible at least in part
  // (kNoDate: none): the first day the indicators count the person as receiving services.
  int32_t FirstReceivingOf(const std::string& person_id) const;

  // The caps' counters of `person_id`'s family as of `valid_date`, by counter key: what the live deliveries dated on
  // or before it charged (a stay begun by then with all its days), as DecideEligibility(model, valid_date,
  // ScopeOfPerson) counts them. `model` is the one followed (its families).
  std::unordered_map<std::string, int64_t> UsageAsOf(const LedgerModel& model, const std::string& person_id,
                                                     int32_t valid_date) const;

  // Every cell as of `valid_date`: the contributions valid on or before it. Cells whose contributions cancel out
  // are left out.
  FundingCells CellsAsOf(int32_t valid_date) const;

  // Every cell, in cell order, with its total and its sums per valid date from which they count (ascending, none
  // zero): what the journal's store keeps as an image (journal_store.h). `fn(place key (no month), month number,
  // total, steps)`.
  using CellSteps = std::vector<std::pair<int32_t, CellFigures>>;
  void ForEachCell(
      const std::function<void(const FundingRowKey&, int32_t, const CellFigures&, const CellSteps&)>& fn) const;

  // What a grant's deliveries were decided under: the grant's validity as of the journal's last event on it. A grant's
  // end or new validity re-decides its family from the earlier of its last days before and after (from its start, for
  // a quantity per validity window, whose window it moves), not the whole family.
  struct GrantValidity {
    int32_t valid_until = 0;
    int32_t last_day = 0;
  };
  static GrantValidity ValidityOf(const GrantFacts& grant) { return {grant.valid_until, grant.LastDay()}; }

 private:
  // A place: the dimensions of a funding row but its month, interned as (municipality, service, provider, mode, the
  // project the grant names); a delivery's provider and mode, and its grant's project, never change (a correction
  // replaces quantity, cost and kind). Its project (unless the grant names one) and territory are the municipality's
  // as the model says now; RefreshPlaces keeps them so after a municipality's event
  // (which moves whole places from one row key to another, and decides nothing).
  using PlaceId = uint32_t;
  struct Place {
    std::string municipality_id;
    schema::Service service = schema::Service::CHILD_CARE;
    std::string provider_id;
    schema::DeliveryMode mode = schema::DeliveryMode::IN_PERSON;
    std::string named_project_id;  // the project the grant names ("" if none: the municipality's own)
    FundingRowKey key;  // month left empty
  };
  using PlaceIdentity = std::tuple<std::string, schema::Service, std::string, schema::DeliveryMode, std::string>;
  // A cell: a place in a month (year * 12 + month - 1). Integers, so that the journal's maps compare no strings.
  struct Cell {
    PlaceId place = 0;
    int32_t month = 0;
    auto operator<=>(const Cell&) const = default;
  };
  // A contribution's cell and the valid date from which it counts.
  struct CellStep {
    Cell cell;
    int32_t valid_from = 0;
    auto operator<=>(const CellStep&) const = default;
  };
  using Contribution = std::map<CellStep, CellFigures>;
  // The sum of every contribution to one cell, per valid date from which they count (ascending, none zero), and
  // their total: "as of V" is the total when V is on or after the last step, else a prefix.
  struct CellSums {
    CellFigures total;
    CellSteps steps;
  };
  // A live delivery in its family's valid-time order, with what it charged to the family's counters.
  struct Entry {
    int32_t date = 0;
    int32_t last_day = 0;  // of a stay, its span's; else the date
    uint64_t position = 0;
    std::string delivery_id;
    CapCharges charges;
    auto Order() const { return std::tie(date, position); }
  };
  struct Family {
    std::set<std::string> persons;  // the grant holders partitioned into it
    std::vector<Entry> entries;     // valid-time order
    UsageCounters usage;
  };
  // Where a live delivery's entry is: its family and its place in the family's order.
  struct EntryPlace {
    std::string family_key;
    int32_t date = 0;
    uint64_t position = 0;
  };

  // For a grant's start, end or amendment (the events that set its validity) seen before: the validity its
  // deliveries were decided under; records the grant's validity as the model says now.
  std::optional<GrantValidity> SeenValidity(const LedgerModel& model, schema::RecordedEvent::Reader recorded);

  void OnDelivery(const LedgerModel& model, const std::string& delivery_id);
  void RefreshPersons(const LedgerModel& model, std::set<std::string> persons);
  void RefreshClaim(const LedgerModel& model, const std::string& claim_id);
  // A claim's contributions: its lines' figures from its date, the approved parts from the review's, the paid parts
  // from each payment's.
  Contribution ClaimContribution(const LedgerModel& model, const std::string& claim_id, const ClaimFacts& claim);
  // A claim's lines as placed: SplitClaim's order, and each line's cell (none: its delivery or grant is unknown), in
  // ClaimFacts::lines order. Placed once: a claim's lines never change after it is submitted, and neither do a
  // delivery's grant and date (a correction changes its quantity, cost and purpose; a void, whether it counts), so
  // neither does a line's cell. What a delivery's event changes is never a claim's figure.
  struct ClaimLines {
    std::vector<uint32_t> order;
    std::vector<std::optional<Cell>> cells;
  };
  const ClaimLines& LinesOf(const LedgerModel& model, const std::string& claim_id, const ClaimFacts& claim);
  std::optional<Cell> LineCell(const LedgerModel& model, const std::string& delivery_id);
  void RefreshAll(const LedgerModel& model);
  // Takes back what entries[from..] charged to the family's counters.
  void TakeBackCharges(Family* family, size_t from);
  // Adds `sign` times what `charges` (an entry's, dated `date`) charged to the usage changes of the event followed.
  void NoteCharges(int32_t date, const CapCharges& charges, int sign);
  // After a delivery event: entries[from..] hold charges already taken back from the counters; decides again, in
  // order, the delivery and every entry that reads a counter in `moved` (the counters whose value before it may
  // differ), adding counters to `moved` as decisions change, and gives the others their charges back.
  void DecideAfterDelivery(const LedgerModel& model, Family* family, size_t from, const std::string& delivery_id,
                           std::vector<const CapUsage*> moved);
  // Decides entries[from..] (holding no charges) in order, updating their contributions.
  void DecideFrom(const LedgerModel& model, Family* family, size_t from);
  // A live delivery's contribution from its decision (nullptr: none), noting a changed one in the line changes and
  // keeping its person's first day receiving services.
  void SetDeliveryContribution(const LedgerModel& model, const std::string& delivery_id,
                               const DeliveryDecision* decision);
  // A receiving delivery (eligible at least in part) of `person_id` dated `date` counted, or no longer counted: that
  // of `changed_delivery_id`, whose contribution has just changed (a new one is counted after, by Receive).
  void Receive(const std::string& person_id, int32_t date);
  void Unreceive(const LedgerModel& model, const std::string& person_id, int32_t date,
                 const std::string& changed_delivery_id);
  static Entry MakeEntry(const DeliveryFacts& delivery);
  // Re-decides the deliveries of `person_id`'s family that reach `from_date` or later.
  void RefreshFamilyFrom(const LedgerModel& model, const std::string& person_id, int32_t from_date);
  // The place of a delivery of `grant` (interned on first use).
  PlaceId PlaceOf(const LedgerModel& model, const GrantFacts& grant, const DeliveryFacts& delivery);
  Cell CellOf(const LedgerModel& model, const GrantFacts& grant, const DeliveryFacts& delivery);
  FundingRowKey RowKeyOf(Cell cell) const;
  // Gives every place its project and territory as the model says now; a place whose row key changed moves all its
  // figures from the old key to the new one (appended to moves_).
  void RefreshPlaces(const LedgerModel& model);
  // Adds `delta` (sign +1 or -1) to a cell's sums and to the pending changes of the event followed.
  void Count(const CellStep& step, const CellFigures& delta, int sign);
  // Replaces a claim's stored contribution, counting the difference.
  void Replace(Contribution* stored, Contribution fresh);

  std::vector<Place> places_;
  std::map<PlaceIdentity, PlaceId> place_ids_;
  std::map<Cell, CellSums> sums_;
  std::map<std::string, Family> families_;              // by LedgerModel::FamilyOf
  std::map<std::string, std::string> family_of_person_;  // grant holder -> family key, as partitioned
  std::unordered_map<std::string, EntryPlace> entry_of_delivery_;  // live delivery -> its entry
  // A live delivery's figures: one cell, from its date on.
  struct DeliveryContribution {
    Cell cell;
    int32_t date = 0;
    int64_t cost_cents = 0;
    int64_t eligible_quantity = 0;
    int64_t eligible_cost_cents = 0;
    uint32_t rule = 0;   // the deciding rule's id, interned (rule_ids_)
    std::string reason;  // the decision's: reconciliation's finding
    // Eligible at least in part: its person receives project-paid services.
    bool receiving() const { return eligible_quantity > 0; }
    CellFigures Figures() const;
  };
  std::unordered_map<std::string, DeliveryContribution> delivery_contributions_;
  // The rules' ids the decisions name, each once (a few hundred at most; "" is 0): a delivery keeps an index.
  std::vector<std::string> rule_ids_ = {""};
  std::unordered_map<std::string, uint32_t> rule_index_ = {{"", 0}};
  uint32_t InternRule(const std::string& rule_id);
  std::map<std::string, Contribution> claim_contributions_;
  std::unordered_map<std::string, ClaimLines> claim_lines_;
  std::unordered_map<std::string, GrantValidity> grant_validity_;
  Contribution pending_;               // the changes of the event being followed
  std::map<std::pair<std::string, int32_t>, int64_t> pending_usage_;  // ... in the counters, by (counter, date)
  std::vector<UsageChange> last_usage_changes_;
  std::set<std::string> pending_lines_;  // ... in the claim lines' facts
  std::vector<std::string> last_line_changes_;
  std::set<std::string> pending_members_;  // ... in the persons' indicator facts
  std::vector<std::string> last_member_changes_;
  // Per grant holder with a receiving delivery: the earliest receiving delivery's date and how many are dated so.
  struct FirstReceiving {
    int32_t date = 0;
    int64_t count = 0;
  };
  std::unordered_map<std::string, FirstReceiving> first_receiving_;
  std::vector<FundingChange> moves_;   // ... and the places it moved to another row key
  FundingContext context_;
  FundingContextChange last_context_change_;
  uint64_t position_ = 0;
};

// The funding report from the journal, as ComputeFunding gives it on `model` (at the journal's position): the same
// rows, totals and budgets, the same errors; with FundingQuery::explain, the same events per row (ExplainFundingRows,
// journal_funding.h, from the model's facts: no delivery decided). `tests/funding_journal_test.cc` compares the two.
Status ComputeFundingFromJournal(const FundingJournal& journal, const LedgerModel& model, int32_t valid_date,
                                 const FundingQuery& query, FundingReport* out);
// The same from cells as of `valid_date` (FundingJournal::CellsAsOf, or JournalStore::CellsAsKnownAt) and the
// context as known at `known_at_position`; kInvalidArgument with FundingQuery::explain (the cells know no events:
// ExplainFundingRows adds them).
Status ComputeFundingFromCells(const FundingCells& cells, const FundingContext& context,
                               int32_t valid_date, uint64_t known_at_position, const FundingQuery& query,
                               FundingReport* out);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_FUNDING_JOURNAL_H_
