// Metrics: a small Prometheus text-format registry (counters, gauges, histograms with labels).
//
// Why our own: prometheus-cpp is not packaged in Debian 12 main, and the server needs a few dozen series;
// a map under one mutex renders the exposition format (version 0.0.4) in a page of code. Families are
// declared once with their help text (and buckets for histograms); label sets are created on first use.
// Values that are cheaper to read at scrape time than to maintain (the head position, projection lag)
// are gauges set by a collector callback just before rendering.
#ifndef DI_SERVER_METRICS_H_
#define DI_SERVER_METRICS_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace di::server {

// Label name/value pairs, in the order they are rendered: {{"route", "/v1/events"}, {"status", "201"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a family. Histogram buckets are upper bounds, ascending (+Inf is implicit).
  void Declare(const std::string& name, Type type, const std::string& help, std::vector<double> buckets = {});
  void Add(const std::string& name, const Labels& labels = {}, double amount = 1);  // counter or gauge
  void Set(const std::string& name, const Labels& labels, double value);             // gauge
  void Observe(const std::string& name, const Labels& labels, double value);         // histogram
  // Called at the start of every Render(), e.g. to Set gauges read from the store. Returns an id for
  // RemoveCollector: whoever registers a collector that refers to itself removes it before it goes away.
  uint64_t AddCollector(std::function<void(Metrics&)> collector);
  void RemoveCollector(uint64_t id);

  // The exposition text format ("# HELP", "# TYPE", one line per series; histograms as _bucket/_sum/_count).
  std::string Render();
  // The current value of a counter or gauge series (0 if absent): for tests.
  double Value(const std::string& name, const Labels& labels = {}) const;

 private:
  struct Series {
    double value = 0;                  // counter / gauge
    std::vector<uint64_t> bucket_counts;  // histogram: per bucket (not cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // key: rendered label set `{a="b",c="d"}`
  };
  static std::string LabelKey(const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::map<uint64_t, std::function<void(Metrics&)>> collectors_;
  uint64_t next_collector_id_ = 1;
};

// Declares every family the server uses (docs/api.md, "Metrics").
void DeclareServerMetrics(Metrics& metrics);

}  // namespace di::server

#endif  // DI_SERVER_METRICS_H_
