// read_model_example: a read model kept up to date from a di-ledger subscription (binary endpoint).
//
// The model: delivered minutes (and hours) of hour-based services per granting municipality and calendar
// month, corrections and voids applied. It is written to one JSON file together with the last position it
// covers, atomically (temp file, fsync, rename, fsync of the directory), so a restart resumes exactly where
// the file says: every event up to last_position is in the totals, none after it. The file also holds what
// the fold needs to continue (which grants are hour-based and where, each live delivery's contribution).
//
// It works for every role; with a reader token the grant and delivery ids it keeps are pseudonyms, which
// join all the same (the same id always gets the same pseudonym). README.md shows how to run it against
// `di-ledger serve --demo`.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "di/ledger/catalog.h"
#include "di/server/binary_client.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kFormat = "di-ledger-read-model-example/1";

struct Delivered {
  std::string municipality;
  std::string month;  // YYYY-MM of the delivery's effective date
  int64_t minutes = 0;
};

class DeliveredHours {
 public:
  uint64_t last_position() const { return last_position_; }
  void set_last_position(uint64_t position) { last_position_ = position; }

  // Folds one event (the JSON of the subscription). Events of other types are not asked for.
  void Apply(const json& event) {
    const std::string type = event.at("type");
    const json& data = event.at("data");
    if (type == "service_granted") {
      di::schema::Service service;
      if (di::ledger::ParseEnumValue(data.at("service").get<std::string>(), &service) &&
          di::ledger::ServiceUnit(service) == di::schema::Unit::MINUTES) {
        grant_municipality_[data.at("grant_id")] = data.at("municipality_id");
      }
    } else if (type == "service_delivered") {
      auto grant = grant_municipality_.find(data.at("grant_id"));
      if (grant == grant_municipality_.end()) return;  // not an hour-based service
      Delivered delivered{grant->second, event.at("effective_date").get<std::string>().substr(0, 7),
                          data.at("quantity").get<int64_t>()};
      minutes_[delivered.municipality][delivered.month] += delivered.minutes;
      deliveries_[data.at("delivery_id")] = std::move(delivered);
    } else if (type == "delivery_corrected") {
      auto it = deliveries_.find(data.at("delivery_id"));
      if (it == deliveries_.end()) return;
      const int64_t corrected = data.at("quantity");
      minutes_[it->second.municipality][it->second.month] += corrected - it->second.minutes;
      it->second.minutes = corrected;
    } else if (type == "delivery_voided") {
      auto it = deliveries_.find(data.at("delivery_id"));
      if (it == deliveries_.end()) return;
      minutes_[it->second.municipality][it->second.month] -= it->second.minutes;
      deliveries_.erase(it);
    }
  }

  json ToJson() const {
    json out;
    out["format"] = kFormat;
    out["last_position"] = last_position_;
    json minutes = json::object(), hours = json::object();
    for (const auto& [municipality, months] : minutes_) {
      for (const auto& [month, total] : months) {
        minutes[municipality][month] = total;
        // Hours with two decimals, rounded half up, from integer minutes (no floating point).
        const int64_t hundredths = (total * 100 + 30) / 60;
        char text[32];
        std::snprintf(text, sizeof(text), "%lld.%02lld", static_cast<long long>(hundredths / 100),
                      static_cast<long long>(hundredths % 100));
        hours[municipality][month] = text;
      }
    }
    out["delivered_minutes"] = std::move(minutes);
    out["delivered_hours"] = std::move(hours);
    out["grants"] = grant_municipality_;
    json deliveries = json::object();
    for (const auto& [id, delivered] : deliveries_) {
      deliveries[id] = json::array({delivered.municipality, delivered.month, delivered.minutes});
    }
    out["deliveries"] = std::move(deliveries);
    return out;
  }

  bool FromJson(const json& in) {
    if (!in.is_object() || in.value("format", "") != kFormat) return false;
    last_position_ = in.at("last_position");
    grant_municipality_ = in.at("grants").get<std::map<std::string, std::string>>();
    const json& deliveries = in.at("deliveries");
    for (const auto& [id, value] : deliveries.items()) {
      Delivered delivered{value.at(0), value.at(1), value.at(2)};
      minutes_[delivered.municipality][delivered.month] += delivered.minutes;
      deliveries_[id] = std::move(delivered);
    }
    return true;
  }

 private:
  uint64_t last_position_ = 0;
  std::map<std::string, std::string> grant_municipality_;  // hour-based grants only
  std::map<std::string, Delivered> deliveries_;            // live (not voided) hour-based deliveries
  std::map<std::string, std::map<std::string, int64_t>> minutes_;
};

// Temp file in the same directory, fsync, rename over the old file, fsync the directory: a crash leaves
// either the old file or the new one, never a mix.
bool WriteAtomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return false;
  if (std::rename(temp.c_str(), path.c_str()) != 0) return false;
  std::string directory = std::filesystem::path(path).parent_path().string();
  if (directory.empty()) directory = ".";
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) return false;
  const bool synced = ::fsync(directory_fd) == 0;
  ::close(directory_fd);
  return synced;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"read_model_example: delivered hours per municipality and month, from a di-ledger subscription"};
  std::string server_address, token, state_path = "read-model.json";
  bool until_caught_up = false;
  uint64_t stop_after_events = 0;
  int max_seconds = 0;
  app.add_option("--server", server_address, "the binary endpoint, HOST:PORT")->required();
  app.add_option("--token", token, "bearer token (default: $DI_LEDGER_TOKEN)");
  app.add_option("--state", state_path, "the read model file (JSON), resumed from if it exists")->capture_default_str();
  app.add_flag("--until-caught-up", until_caught_up, "exit once every event up to the server's head is folded");
  app.add_option("--stop-after-events", stop_after_events, "exit after folding at least this many events");
  app.add_option("--max-seconds", max_seconds, "exit after this long (0: run until interrupted)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (token.empty()) {
    if (const char* from_environment = std::getenv("DI_LEDGER_TOKEN")) token = from_environment;
  }
  std::string host;
  uint16_t port = 0;
  if (!di::server::ParseHostPort(server_address, &host, &port)) {
    std::cerr << "error: --server must be HOST:PORT\n";
    return 2;
  }

  DeliveredHours model;
  if (std::filesystem::exists(state_path)) {
    std::ifstream file(state_path);
    const json state = json::parse(file, nullptr, false);
    if (state.is_discarded() || !model.FromJson(state)) {
      std::cerr << "error: " << state_path << " is not a state file of this example\n";
      return 2;
    }
    std::cout << "resuming after position " << model.last_position() << "\n";
  }
  auto save = [&] {
    if (!WriteAtomically(state_path, model.ToJson().dump(1) + "\n")) {
      std::cerr << "error: cannot write " << state_path << "\n";
      std::exit(2);
    }
  };

  const auto started = Clock::now();
  auto out_of_time = [&] {
    return max_seconds > 0 && Clock::now() - started >= std::chrono::seconds(max_seconds);
  };
  uint64_t folded = 0;
  auto last_save = Clock::now();
  bool dirty = false;
  // Reconnects after a dropped connection (slow consumer, server restart, network), resuming from the last
  // position folded; gives up on refusals that retrying cannot fix.
  for (int attempt = 0; !out_of_time(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * attempt, 2000)));
    di::server::BinaryClient client;
    di::server::BinaryClientOptions options;
    options.client_name = "read_model_example";
    options.receive_timeout = std::chrono::milliseconds(15000);  // > the server's heartbeat interval
    di::ledger::Status status = client.Connect(host, port, token, options);
    if (status.ok()) {
      di::server::SubscribeRequest request;
      request.after = model.last_position();
      request.types = {"service_granted", "service_delivered", "delivery_corrected", "delivery_voided"};
      request.stream_prefix = "grant/";
      status = client.Subscribe(request);
    }
    while (status.ok()) {
      di::server::SubscriptionUpdate update;
      status = client.Next(&update);
      if (!status.ok()) break;
      attempt = 0;
      for (const auto& event : update.events) {
        model.Apply(json::parse(event.json));
        ++folded;
      }
      // The whole frame is folded: the model now covers everything up to its lastPosition.
      dirty = dirty || update.last_position != model.last_position();
      model.set_last_position(update.last_position);
      const bool caught_up = update.last_position >= update.head;
      const bool done = (until_caught_up && caught_up) || (stop_after_events > 0 && folded >= stop_after_events) ||
                        out_of_time();
      if (dirty && (done || caught_up || Clock::now() - last_save >= std::chrono::seconds(1))) {
        save();
        last_save = Clock::now();
        dirty = false;
      }
      if (done) {
        std::cout << "folded " << folded << " events; " << state_path << " covers up to position "
                  << model.last_position() << "\n";
        return 0;
      }
    }
    if (dirty) {
      save();
      dirty = false;
    }
    using di::ledger::StatusCode;
    if (status.code() == StatusCode::kUnauthenticated || status.code() == StatusCode::kForbidden ||
        status.code() == StatusCode::kInvalidArgument) {
      std::cerr << "error: " << status.ToString() << "\n";
      return 1;
    }
    std::cerr << "subscription ended (" << status.ToString() << "); resuming after position "
              << model.last_position() << "\n";
  }
  if (dirty) save();
  std::cout << "folded " << folded << " events; " << state_path << " covers up to position "
            << model.last_position() << "\n";
  return 0;
}
