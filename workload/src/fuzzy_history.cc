// FuzzyHistory (see di/workload/fuzzy_history.h).
//
// How it works: the generator walks month by month from 2016-01 to 2023-12. Each month it enrols the
// persons planned for it (children before the parents who represent them), records world events (the
// merger, rule sets, budget amendments), facts about persons (opinions, disabilities, activities, plans),
// grant life cycles, the month's deliveries (cap scenarios and boundary dates), late deliveries,
// corrections and voids, claims, reviews and payments. Every valid event is built against a mirror of the
// ledger's validation state (the `*State` structs of fuzzy_generator.h), updated only by valid events, so that the
// expectation of each event is known when it is written. Invalid events and retries are written at safe
// points (FlushNoise), between complete steps, where the mirror is consistent.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "di/projections/default_rules.h"
#include "fuzzy_generator.h"

namespace di::workload::fuzzy {

Generator::Generator(uint64_t seed, const FuzzyHistoryOptions& options) : seed_(seed), random_(seed), options_(options) {
  options_.persons = std::clamp(options_.persons, 10, 25);
  options_.events = std::clamp(options_.events, 500, 50000);
  options_.invalid_per_mille = std::clamp(options_.invalid_per_mille, 0, 200);
  target_deliveries_ = options_.events * 58 / 100;
}

std::vector<Json> Generator::Run(FuzzyHistoryInfo* info) {
  PlanWorld();
  Setup();
  for (month_index_ = 0; month_index_ < kMonths; ++month_index_) {
    year_ = kFirstYear + month_index_ / 12;
    month_ = 1 + month_index_ % 12;
    deliveries_this_month_ = 0;
    Enrol();
    FlushNoise();
    WorldEvents();
    FlushNoise();
    PersonFacts();
    FlushNoise();
    GrantLifecycle();
    FlushNoise();
    if (month_index_ == merger_month_ && merger_after_grants_) RecordMerger();
    Deliveries();
    BoundaryDeliveries();
    FlushNoise();
    LateDeliveries();
    FlushNoise();
    CorrectionsAndVoids();
    FlushNoise();
    Claims();
    FlushNoise();
    Reviews();
    FlushNoise();
    Payments();
    FlushNoise();
  }
  if (info != nullptr) {
    counts_.expectations = expectations_;
    *info = counts_;
  }
  return std::move(history_);
}

uint64_t Generator::Below(uint64_t n) {
  if (n <= 1) return 0;
  const uint64_t excess = (UINT64_MAX % n + 1) % n;  // 2^64 mod n: the values to reject at the top
  for (int attempt = 0; attempt < 64; ++attempt) {
    const uint64_t x = random_();
    if (excess == 0 || x < 0 - excess) return x % n;
  }
  return random_() % n;  // 64 rejections in a row: probability below 2^-64
}

int64_t Generator::Between(int64_t low, int64_t high) {
  if (high <= low) return low;
  return low + static_cast<int64_t>(Below(static_cast<uint64_t>(high - low) + 1));
}

std::string Generator::NextEventId(std::string_view prefix) {
  char id[32];
  std::snprintf(id, sizeof(id), "%.*s-%06d", static_cast<int>(prefix.size()), prefix.data(), ++event_counter_);
  return id;
}

Json Generator::MakeEvent(std::string_view prefix, const std::string& type, int32_t date, Json data, const std::string& actor) {
  return Json{{"id", NextEventId(prefix)},
              {"type", type},
              {"effective_date", FormatDate(date)},
              {"actor", actor},
              {"data", std::move(data)}};
}

std::string Generator::Emit(const std::string& type, int32_t date, Json data, const std::string& actor, GrantState* stream_grant, const std::string& causation_id) {
  Json event = MakeEvent("F", type, date, std::move(data), actor);
  if (!causation_id.empty()) event["causation_id"] = causation_id;
  if (stream_grant != nullptr) {
    if (Chance(60)) event["expected_version"] = stream_grant->stream_version;
    ++stream_grant->stream_version;
  }
  const std::string id = event["id"].get<std::string>();
  history_.push_back(std::move(event));
  expectations_.push_back({});
  appended_.push_back(history_.size() - 1);
  if (Chance(options_.invalid_per_mille)) ++pending_invalid_;
  if (Chance(3)) ++pending_retries_;
  return id;
}

void Generator::EmitRefused(Json event, std::string code, std::string field, std::string what) {
  history_.push_back(std::move(event));
  expectations_.push_back({Outcome::kRefused, std::move(code), std::move(field), std::move(what)});
  ++counts_.refused;
}

void Generator::FlushNoise() {
  for (; pending_invalid_ > 0; --pending_invalid_) EmitInvalid();
  for (; pending_retries_ > 0; --pending_retries_) {
    if (appended_.empty()) break;
    history_.push_back(history_[Pick(appended_)]);
    expectations_.push_back({Outcome::kRetry, "", "", ""});
    ++counts_.retries;
  }
}

bool Generator::Active(const std::string& id, int32_t date) const {
  auto it = municipalities_.find(id);
  if (it == municipalities_.end()) return false;
  return it->second.merged_into.empty() || date < it->second.merged_on;
}

std::string Generator::ActiveFor(const std::string& id, int32_t date) const {
  std::string current = id;
  for (int depth = 0; depth < 4 && !Active(current, date); ++depth) {
    auto it = municipalities_.find(current);
    if (it == municipalities_.end() || it->second.merged_into.empty()) break;
    current = it->second.merged_into;
  }
  return current;
}

bool Generator::BelongsTo(std::string municipality_id, const std::string& claimant_id) const {
  for (int depth = 0; depth <= 16; ++depth) {
    if (municipality_id == claimant_id) return true;
    auto it = municipalities_.find(municipality_id);
    if (it == municipalities_.end() || it->second.merged_into.empty()) return false;
    municipality_id = it->second.merged_into;
  }
  return false;
}

}  // namespace di::workload::fuzzy

namespace di::workload {


std::string FuzzyHistoryInfo::Summary() const {
  return "deliveries " + std::to_string(deliveries) + " (stays " + std::to_string(stays) + ", boundary " +
         std::to_string(boundary_deliveries) + ", late " + std::to_string(late_deliveries) + "), cap scenarios " +
         std::to_string(cap_scenarios) + ", corrections " + std::to_string(corrections) + ", voids " +
         std::to_string(voids) + " (of claimed deliveries: " + std::to_string(changes_of_claimed) + "), grants " +
         std::to_string(grants) + " (amended " + std::to_string(grant_amendments) + ", suspended " +
         std::to_string(suspensions) + ", resumed " + std::to_string(resumptions) + ", ended " +
         std::to_string(grant_ends) + "), claims " + std::to_string(claims) + ", reviews " + std::to_string(reviews) +
         " (lines partly " + std::to_string(lines_partly_approved) + ", rejected " + std::to_string(lines_rejected) +
         "), payments " + std::to_string(payments) + ", budget amendments " + std::to_string(budget_amendments) +
         ", rules enacted " + std::to_string(rules_enacted) + ", refused " + std::to_string(refused) + ", retries " +
         std::to_string(retries);
}

std::vector<nlohmann::json> FuzzyHistory(uint64_t seed, const FuzzyHistoryOptions& options, FuzzyHistoryInfo* info) {
  return fuzzy::Generator(seed, options).Run(info);
}

}  // namespace di::workload
