#include "di/server/metrics.h"

#include <cmath>
#include <cstdio>

#include "di/ledger/invariant.h"

namespace di::server {
namespace {

std::string FormatNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  }
  return buffer;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

// `{a="b"}` plus one more label (for the histogram's `le`), or "" when there are no labels at all.
std::string WithLabel(const std::string& key, const std::string& name, const std::string& value) {
  const std::string extra = name + "=\"" + value + "\"";
  if (key.empty()) return "{" + extra + "}";
  return key.substr(0, key.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string Metrics::LabelKey(const Labels& labels) {
  if (labels.empty()) return "";
  std::string key = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) key += ",";
    key += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
  }
  return key + "}";
}

void Metrics::Declare(const std::string& name, Type type, const std::string& help, std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  Family& family = families_[name];
  family.type = type;
  family.help = help;
  family.buckets = std::move(buckets);
}

void Metrics::Add(const std::string& name, const Labels& labels, double amount) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  DI_ASSERT(it != families_.end() && it->second.type != Type::kHistogram);  // declared first
  it->second.series[LabelKey(labels)].value += amount;
}

void Metrics::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  DI_ASSERT(it != families_.end() && it->second.type == Type::kGauge);
  it->second.series[LabelKey(labels)].value = value;
}

void Metrics::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  DI_ASSERT(it != families_.end() && it->second.type == Type::kHistogram);
  Family& family = it->second;
  Series& series = family.series[LabelKey(labels)];
  if (series.bucket_counts.empty()) series.bucket_counts.assign(family.buckets.size(), 0);
  for (size_t i = 0; i < family.buckets.size(); ++i) {
    if (value <= family.buckets[i]) {
      ++series.bucket_counts[i];
      break;
    }
  }
  ++series.count;
  series.sum += value;
}

uint64_t Metrics::AddCollector(std::function<void(Metrics&)> collector) {
  std::lock_guard lock(mutex_);
  const uint64_t id = next_collector_id_++;
  collectors_.emplace(id, std::move(collector));
  return id;
}

void Metrics::RemoveCollector(uint64_t id) {
  std::lock_guard lock(mutex_);
  collectors_.erase(id);
}

double Metrics::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto series = it->second.series.find(LabelKey(labels));
  if (series == it->second.series.end()) return 0;
  return it->second.type == Type::kHistogram ? static_cast<double>(series->second.count) : series->second.value;
}

std::string Metrics::Render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, collector] : collectors_) collectors.push_back(collector);
  }
  for (auto& collector : collectors) collector(*this);
  std::lock_guard lock(mutex_);
  std::string text;
  for (const auto& [name, family] : families_) {
    text += "# HELP " + name + " " + family.help + "\n";
    text += "# TYPE " + name + " " +
            (family.type == Type::kCounter ? "counter" : family.type == Type::kGauge ? "gauge" : "histogram") + "\n";
    for (const auto& [key, series] : family.series) {
      if (family.type != Type::kHistogram) {
        text += name + key + " " + FormatNumber(series.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < family.buckets.size(); ++i) {
        cumulative += series.bucket_counts[i];
        text += name + "_bucket" + WithLabel(key, "le", FormatNumber(family.buckets[i])) + " " +
                std::to_string(cumulative) + "\n";
      }
      text += name + "_bucket" + WithLabel(key, "le", "+Inf") + " " + std::to_string(series.count) + "\n";
      text += name + "_sum" + key + " " + FormatNumber(series.sum) + "\n";
      text += name + "_count" + key + " " + std::to_string(series.count) + "\n";
    }
  }
  return text;
}

void DeclareServerMetrics(Metrics& metrics) {
  using T = Metrics::Type;
  const std::vector<double> seconds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  metrics.Declare("di_appends_total", T::kCounter, "Append requests by outcome code (ok, forbidden, conflict, ...).");
  metrics.Declare("di_appended_events_total", T::kCounter, "Events newly appended (idempotent retries excluded).");
  metrics.Declare("di_append_batch_events", T::kHistogram, "Events per append batch accepted by the store.",
                  {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000});
  metrics.Declare("di_append_sync_seconds", T::kHistogram,
                  "Time of store appends, validation to durable (fsync, group commit).", seconds);
  metrics.Declare("di_http_requests_total", T::kCounter, "HTTP requests by route and status.");
  metrics.Declare("di_http_request_seconds", T::kHistogram, "HTTP request handling time by route.", seconds);
  metrics.Declare("di_http_denied_total", T::kCounter, "Requests denied (403) by route and role.");
  metrics.Declare("di_http_rejected_connections_total", T::kCounter,
                  "Requests or connections refused before routing, by reason (body_limit, header_limit, "
                  "malformed, timeout, too_many_connections).");
  metrics.Declare("di_http_connections", T::kGauge, "Open HTTP connections.");
  metrics.Declare("di_subscribers", T::kGauge, "Open subscriptions.");
  metrics.Declare("di_subscription_events_total", T::kCounter, "Events sent to subscribers.");
  metrics.Declare("di_subscriptions_dropped_total", T::kCounter, "Subscriptions dropped by the server, by reason.");
  metrics.Declare("di_head_position", T::kGauge, "Global position of the last durable event.");
  metrics.Declare("di_projection_position", T::kGauge, "Position the live projection model is folded to.");
  metrics.Declare("di_projection_lag_events", T::kGauge, "Head position minus the live model's position.");
  metrics.Declare("di_model_replays_total", T::kCounter,
                  "Past known-at queries that loaded a model (nearest checkpoint + the events after it).");
  metrics.Declare("di_model_scoped_loads_total", T::kCounter,
                  "Past known-at entitlement queries answered from the person's family streams only.");
  metrics.Declare("di_funding_from_journal_total", T::kCounter,
                  "Funding reports as known now answered from the funding journal (no delivery decided again).");
  metrics.Declare("di_funding_from_journal_store_total", T::kCounter,
                  "Funding reports as known at a past position answered from the journal store (an image and the "
                  "records after it; no model folded).");
  metrics.Declare("di_append_projection_waits_total", T::kCounter,
                  "Appends that waited for the projector to come within max_projection_lag_events of the head "
                  "before they were acknowledged (back-pressure).");
  metrics.Declare("di_projector_errors_total", T::kCounter,
                  "Folds of the projector thread that failed (an event that does not decode); requests then fold "
                  "what is behind themselves and report the error.");
  metrics.Declare("di_entitlements_from_journal_total", T::kCounter,
                  "Entitlement queries answered with the caps' usage from the funding journal, by journal: live (as "
                  "known now) or store (as known at a past position; the family's facts folded, not its deliveries).");
  metrics.Declare("di_reconciliation_from_journal_total", T::kCounter,
                  "Reconciliation queries answered with each claim line's decision from the funding journal, by "
                  "journal: live (as known now) or store (as known at a past position; the claims folded, no "
                  "delivery).");
  metrics.Declare("di_indicators_from_journal_total", T::kCounter,
                  "Indicator queries answered with each person's facts from the funding journal, by journal: live (as "
                  "known now) or store (as known at a past position; no person, grant or delivery folded).");
  metrics.Declare("di_journal_projected_position", T::kGauge,
                  "Position the journal store (<data>/journal) is projected up to (0: not started).");
  metrics.Declare("di_journal_store_errors_total", T::kCounter,
                  "Failed catch-ups or writes of the journal store; after one, answers come from folds until restart.");
  metrics.Declare("di_model_resumed_from_snapshot_position", T::kGauge,
                  "Position of the checkpoint the live model resumed from at start (0: replayed from the start).");
  metrics.Declare("di_model_snapshots_total", T::kCounter, "Snapshots of the live model written to the checkpoints.");
  metrics.Declare("di_backups_total", T::kCounter, "Online backups (POST /v1/admin/backup) by outcome code.");
  metrics.Declare("di_model_snapshot_failures_total", T::kCounter,
                  "Snapshots of the live model that could not be written (costs replay time after a restart only).");
}

}  // namespace di::server
