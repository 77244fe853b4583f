#include "di/projections/journal_funding.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "di/ledger/invariant.h"
#include "di/projections/journal_reconciliation.h"

namespace di::projections {

namespace {

// Where a delivery's or a claim line's events go: the report's row of its place and month.
class RowFinder {
 public:
  RowFinder(const FundingCells& cells, const FundingQuery& query, const std::set<std::string>& keep,
            const FundingReport& report)
      : keep_month_(keep.empty() || keep.count("month") > 0), grouping_(GroupPlaces(cells.places, query, keep)) {
    for (size_t place = 0; place < cells.places.size(); ++place) {
      const FundingRowKey& key = cells.places[place];
      place_of_[PlaceText(key.project_id, key.municipality_id, key.service, key.provider_id, key.mode)] = place;
    }
    std::map<FundingRowKey, int64_t> group_of_key;
    for (size_t group = 0; group < grouping_.keys.size(); ++group) group_of_key[grouping_.keys[group]] = group;
    for (size_t row = 0; row < report.rows.size(); ++row) {
      const FundingRow& r = report.rows[row];
      FundingRowKey key{r.project_id, r.territory_id, r.municipality_id, r.service, r.provider_id, r.mode, ""};
      int32_t month = 0;
      const bool parsed = !keep_month_ || ParseMonthText(r.month, &month);
      DI_ASSERT(parsed);
      row_of_[{group_of_key.at(key), month}] = row;
    }
  }

  // The row of a delivery of a grant of `municipality_id` and `service` dated `date`: false when the query leaves it
  // out; kCorruption when its cell has no row.
  Status Find(const ClaimLineFacts& facts, bool* kept, size_t* row) const {
    *kept = false;
    auto place = place_of_.find(
        PlaceText(facts.project_id, facts.municipality_id, facts.service, facts.provider_id, facts.mode));
    if (place == place_of_.end()) return Missing(facts);
    const int64_t group = grouping_.key_of_place[place->second];
    if (group < 0) return Status::Ok();
    auto found = row_of_.find({group, keep_month_ ? MonthNumber(facts.date) : 0});
    if (found == row_of_.end()) return Missing(facts);
    *kept = true;
    *row = found->second;
    return Status::Ok();
  }

 private:
  // A municipality's grants may be paid by two projects (one named): the project is part of the place.
  static std::string PlaceText(const std::string& project_id, const std::string& municipality_id,
                               const std::string& service, const std::string& provider_id, const std::string& mode) {
    return project_id + '\0' + municipality_id + '\0' + service + '\0' + provider_id + '\0' + mode;
  }
  static Status Missing(const ClaimLineFacts& facts) {
    return Status::Corruption("the journal has no funding cell for " + facts.project_id + ", " + facts.municipality_id +
                              ", " + facts.service +
                              ", " + MonthText(MonthNumber(facts.date)) + " that its line facts name");
  }

  bool keep_month_;
  PlaceGrouping grouping_;
  std::unordered_map<std::string, size_t> place_of_;
  std::map<std::pair<int64_t, int32_t>, size_t> row_of_;
};

}  // namespace

Status ExplainFundingRows(const FundingCells& cells, const LedgerModel& claims, int32_t valid_date,
                          const FundingQuery& query, const DeliveryLineWalk& deliveries,
                          const ClaimLineSource& lines, FundingReport* report) {
  std::set<std::string> keep;
  DI_RETURN_IF_ERROR(FundingDimensions(query.group_by, &keep));
  const RowFinder finder(cells, query, keep, *report);
  std::vector<std::vector<uint64_t>> positions(report->rows.size());
  // The live deliveries of known grants dated on or before the valid date (DecideEligibility's): each and its
  // corrections.
  DI_RETURN_IF_ERROR(deliveries([&](const std::string&, const ClaimLineFacts& facts) -> Status {
    if (!facts.recorded || facts.voided || facts.date > valid_date || facts.municipality_id.empty()) {
      return Status::Ok();
    }
    bool kept = false;
    size_t row = 0;
    DI_RETURN_IF_ERROR(finder.Find(facts, &kept, &row));
    if (kept) positions[row].insert(positions[row].end(), facts.positions.begin(), facts.positions.end());
    return Status::Ok();
  }));
  // The claims dated on or before it: per line of a recorded delivery of a known grant (voided or not), the claim's
  // events, the delivery and the budget version of the split.
  for (const auto& [claim_id, claim] : claims.claims()) {
    if (claim.date > valid_date) continue;
    const ClaimSplit split = SplitClaim(claims, claim, valid_date);
    for (const auto* line : split.lines) {
      ClaimLineFacts facts;
      DI_RETURN_IF_ERROR(lines(line->first, &facts));
      if (!facts.recorded || facts.municipality_id.empty()) continue;
      bool kept = false;
      size_t row = 0;
      DI_RETURN_IF_ERROR(finder.Find(facts, &kept, &row));
      if (!kept) continue;
      std::vector<uint64_t>& into = positions[row];
      into.insert(into.end(), claim.positions.begin(), claim.positions.end());
      into.push_back(facts.positions.front());
      if (split.budget != nullptr) into.push_back(split.budget->position);
    }
  }
  for (size_t row = 0; row < positions.size(); ++row) {
    std::vector<uint64_t>& sorted = positions[row];
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    report->rows[row].positions = std::move(sorted);
  }
  return Status::Ok();
}

Status ComputeFundingFromStore(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                               int32_t valid_date, const FundingQuery& query, FundingReport* out,
                               ScopedLoadStats* stats) {
  FundingCells cells;
  FundingContext context;
  DI_RETURN_IF_ERROR(journal.CellsAsKnownAt(known_at_position, valid_date, &cells, &context));
  FundingQuery figures_only = query;
  figures_only.explain = false;
  DI_RETURN_IF_ERROR(ComputeFundingFromCells(cells, context, valid_date, known_at_position, figures_only, out));
  if (!query.explain) return Status::Ok();
  LedgerModel claims;
  DI_RETURN_IF_ERROR(LoadClaimsModel(events, journal, known_at_position, ReconciliationQuery{}, &claims, stats));
  std::unique_ptr<JournalStore::LineReader> lines;
  DI_RETURN_IF_ERROR(journal.NewLineReader(known_at_position, &lines));
  return ExplainFundingRows(
      cells, claims, valid_date, query,
      [&](const JournalStore::LineVisitor& visit) { return journal.ForEachLineAsKnownAt(known_at_position, visit); },
      [&](const std::string& delivery_id, ClaimLineFacts* facts) { return lines->Read(delivery_id, facts); }, out);
}

}  // namespace di::projections
