// di-ledger serve / token: the main job (the HTTP API over a store) and the token helper.
//
// serve blocks SIGTERM and SIGINT in every thread before any is started and waits for them with sigwait in
// the main thread, so a signal never interrupts a handler mid-way: on either, the server stops accepting,
// finishes the requests in flight (appends reach their fsync and are answered), ends subscriptions with a
// final line, closes the store and exits 0. Nothing acknowledged can be lost: an acknowledgement is only
// ever sent after the append is durable.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "commands.h"
#include "di/projections/checkpoint.h"
#include "di/projections/journal_store.h"
#include "di/ledger/civil_date.h"
#include "di/projections/replay.h"
#include "di/server/binary_endpoint.h"
#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"

namespace di::cli {
namespace {

using server::Principal;
using server::Role;

int Fail(const std::string& message, int code = 2) {
  std::cerr << "error: " << message << "\n";
  return code;
}

// Writes `text` to `path` with mode 0600 (created or truncated), so secrets are never world-readable even
// for an instant.
bool WritePrivateFile(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ::fchmod(fd, 0600);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  return ::close(fd) == 0 && synced;
}

// The key of the readers' pseudonyms: 32 random bytes in <data>/pseudonym-key, made on first start. Keeping it
// stable keeps pseudonyms stable across restarts (read models keep joining); losing it re-keys them.
bool LoadPseudonymKey(const std::string& data_dir, std::string* key) {
  const std::string path = data_dir + "/pseudonym-key";
  std::ifstream file(path, std::ios::binary);
  if (file) {
    key->assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    return key->size() == crypto_generichash_KEYBYTES;
  }
  key->resize(crypto_generichash_KEYBYTES);
  randombytes_buf(key->data(), key->size());
  return WritePrivateFile(path, *key);
}

// Imports the seeded demo region (as scripts/demo.sh did by hand) into an empty store: init with the default
// rules, simulate seed 1, 300 persons, 8 years, import. A store that already holds events is left as it is.
// The demo is a migration of 2015-2023 history: the rules and every event keep their recorded times (asserted),
// so "as known at 2021-07-15" answers what was known then, not "nothing" (docs/operations.md).
int ImportDemoIfEmpty(const std::string& data_dir) {
  {
    std::unique_ptr<ledger::EventStore> store;
    ledger::Status status = ledger::EventStore::Open(ledger::EventStoreOptions{}, data_dir, &store);
    if (!status.ok()) return Fail(status.ToString());
    if (store->Head().position != 0) {
      std::cout << "demo: the store already holds " << store->Head().position << " events; not importing again\n";
      return 0;
    }
  }
  InitOptions init;
  init.data_dir = data_dir;
  init.rules_recorded_at = workload::kSimulatedRulesRecordedAt;
  if (int code = RunInit(init); code != 0) return code;
  const std::string history = (std::filesystem::temp_directory_path() /
                               ("di-ledger-demo-" + std::to_string(::getpid()) + ".jsonl"))
                                  .string();
  {
    std::ofstream out(history);
    workload::SimulateOptions simulate;  // seed 1, 300 persons, 8 years: the defaults
    const workload::SimulateSummary summary = workload::WriteSimulatedHistory(simulate, out);
    out.flush();
    if (!out) return Fail("cannot write " + history);
    std::cout << "demo: simulated " << summary.events << " events (" << summary.persons << " persons, "
              << summary.deliveries << " deliveries, " << summary.claims << " claims)\n";
  }
  ImportOptions import;
  import.data_dir = data_dir;
  import.input = history;
  import.keep_recorded_at = true;
  const int code = RunImport(import);
  std::filesystem::remove(history);
  return code;
}

struct DemoToken {
  Principal principal;
  std::string token;
};

// One token per role; the clerk serves the municipality (post-reform territory) with the most residents.
int MakeDemoTokens(const std::string& data_dir, server::LedgerService& service, server::TokenRegistry* registry,
                   std::vector<DemoToken>* tokens, std::string* sample_person) {
  std::string municipality;
  const int32_t kSampleDate = ledger::DaysFromCivil(2021, 9, 15);  // the date of the printed example
  service.WithModel(projections::kKnownNow, [&](const projections::LedgerModel& model, uint64_t) -> ledger::Status {
    std::map<std::string, int> residents;
    for (const auto& [id, person] : model.persons()) {
      if (person.enrolled) ++residents[model.TerritoryOf(person.residence_municipality_id)];
    }
    int best = -1;
    for (const auto& [id, count] : residents) {
      if (count > best) {
        best = count;
        municipality = id;
      }
    }
    for (const auto& [id, person] : model.persons()) {
      if (person.enrolled && model.TerritoryOf(person.residence_municipality_id) == municipality) {
        // Prefer a person with a grant: their entitlements are the interesting example.
        for (const auto& [grant_id, grant] : model.grants()) {
          if (grant.person_id == id && grant.valid_from <= kSampleDate && kSampleDate <= grant.LastDay()) {
            *sample_person = id;
            break;
          }
        }
        if (!sample_person->empty()) break;
      }
    }
    return ledger::Status::Ok();
  });
  if (municipality.empty()) municipality = "M-DEMO";
  const std::vector<Principal> principals = {
      {"demo-clerk", Role::kClerk, municipality}, {"demo-project", Role::kProject, ""},
      {"demo-finance", Role::kFinance, ""},       {"demo-auditor", Role::kAuditor, ""},
      {"demo-reader", Role::kReader, ""}};
  nlohmann::json entries = nlohmann::json::array();
  for (const Principal& principal : principals) {
    DemoToken token{principal, server::NewRandomToken()};
    entries.push_back(server::TokenEntryJson(principal, token.token));
    tokens->push_back(std::move(token));
  }
  const std::string path = data_dir + "/demo-tokens.json";
  if (!WritePrivateFile(path, entries.dump(2) + "\n")) return Fail("cannot write " + path);
  ledger::Status status = server::TokenRegistry::FromJson(entries, registry);
  if (!status.ok()) return Fail(status.ToString());
  return 0;
}

void PrintDemoHelp(const std::string& base, const std::vector<DemoToken>& tokens, const std::string& person) {
  std::cout << "\ndemo tokens (new on every start; hashes in demo-tokens.json, mode 0600):\n";
  std::map<Role, std::string> by_role;
  for (const DemoToken& token : tokens) {
    std::cout << "  " << server::RoleName(token.principal.role);
    if (!token.principal.municipality_id.empty()) std::cout << " (" << token.principal.municipality_id << ")";
    std::cout << ": " << token.token << "\n";
    by_role[token.principal.role] = token.token;
  }
  auto curl = [&](Role role, const std::string& path) {
    std::cout << "  curl -sS -H 'Authorization: Bearer " << by_role[role] << "' '" << base << path << "'\n";
  };
  std::cout << "\ntry (docs/api.md has every route):\n";
  std::cout << "  curl -sS " << base << "/healthz\n";
  curl(Role::kClerk, "/v1/whoami");
  if (!person.empty()) curl(Role::kClerk, "/v1/entitlements/" + person + "?valid_at=2021-09-15");
  curl(Role::kFinance, "/v1/reports/funding?group_by=territory&format=csv");
  // The demo is a migration that kept its recorded times: June 2021 as the region knew it in mid-July.
  curl(Role::kFinance, "/v1/reports/funding?valid_at=2021-06-30&known_at=2021-07-15&group_by=month&format=csv");
  curl(Role::kAuditor, "/v1/audit/verify?from=1&to=1000");
  curl(Role::kReader, "/v1/subscribe?after=0&types=service_delivered");
  std::cout << "  curl -sS " << base << "/metrics\n\n";
}

// Refuses a tokens file whose clerks name a municipality the store does not know. Such an entry is almost
// always a typo, and it would start a server whose clerk is refused everything, request by request (403),
// with nothing said at start. Refusing costs no legitimate set-up: the municipality cannot serve a resident
// before it is registered, and adding an entry to the tokens file needs a restart anyway, so the entry is
// added once the municipality is registered. Every bad entry is named, not only the first.
int CheckClerkMunicipalities(const std::string& tokens_file, server::LedgerService& service) {
  std::ifstream file(tokens_file);
  const nlohmann::json entries = nlohmann::json::parse(file, nullptr, false);  // TokenRegistry::LoadFile checked it
  if (!entries.is_array()) return 0;
  std::string problems;
  service.WithModel(projections::kKnownNow, [&](const projections::LedgerModel& model, uint64_t) -> ledger::Status {
    for (size_t i = 0; i < entries.size(); ++i) {
      const nlohmann::json& entry = entries[i];
      if (!entry.is_object() || entry.value("role", nlohmann::json()) != "clerk") continue;
      const nlohmann::json municipality = entry.value("municipality", nlohmann::json());
      if (!municipality.is_string() || model.municipalities().count(municipality.get<std::string>()) != 0) continue;
      const std::string name = entry.contains("name") && entry["name"].is_string() ? entry["name"].get<std::string>() : "";
      problems += "tokens file '" + tokens_file + "': tokens[" + std::to_string(i) + "] (name '" + name +
                  "') is a clerk of municipality '" +
                  municipality.get<std::string>() + "', which the store does not know\n";
    }
    return ledger::Status::Ok();
  });
  if (problems.empty()) return 0;
  return Fail(problems +
              "refusing to start: correct the entry, or register the municipality first (a municipality_registered "
              "event, appended with a project token or `di-ledger import`) and then add the clerk's entry");
}

}  // namespace

int RunServe(const ServeOptions& options) {
  // Before any thread exists (RocksDB's, the server's): every thread inherits the blocked mask, and only
  // sigwait below sees the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (sodium_init() < 0) return Fail("libsodium failed to initialise");

  if (options.demo) {
    if (int code = ImportDemoIfEmpty(options.data_dir); code != 0) return code;
  }
  std::unique_ptr<ledger::EventStore> store;
  ledger::Status opened = OpenExisting(options.data_dir, &store);
  if (!opened.ok()) return Fail(opened.ToString() + " (create a store with `di-ledger init --data DIR`, or use --demo)");

  server::ServiceOptions service_options;
  // The whole chain (hashes, Merkle frontier, audit events) is verified before anything is served: appending
  // on top of a history that does not verify would bury the damage under new, validly chained events.
  // Always on (about 5 s per million events, docs/operations.md); a store that fails is served only with
  // --read-only.
  {
    const auto started = std::chrono::steady_clock::now();
    ledger::VerifyReport report;
    const ledger::Status verified = store->Verify(&report);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string problem;
    if (!verified.ok()) {
      problem = "the chain could not be verified: " + verified.ToString();
    } else if (report.first_bad_position != 0) {
      problem = "the chain does not verify at position " + std::to_string(report.first_bad_position) + ": " +
                report.problem + " (" + std::to_string(report.events_checked) + " events before it verified)";
    }
    if (problem.empty()) {
      std::printf("verified %llu events in %.2f s\n", static_cast<unsigned long long>(report.events_checked), seconds);
      std::fflush(stdout);
      if (options.read_only) {
        service_options.read_only = true;
        service_options.read_only_reason = "the store is read-only (started with --read-only)";
      }
    } else if (!options.read_only) {
      return Fail(problem + "; refusing to start (`di-ledger verify` shows the same; --read-only serves reads)", 1);
    } else {
      std::fprintf(stderr, "warning: %s; serving read-only\n", problem.c_str());
      service_options.read_only = true;
      service_options.read_only_reason = "the store is read-only because " + problem;
    }
  }
  service_options.backup_dir = options.backup_dir;
  if (!LoadPseudonymKey(options.data_dir, &service_options.pseudonym_key)) {
    return Fail("cannot read or create " + options.data_dir + "/pseudonym-key (32 bytes)");
  }
  // Projection checkpoints: the live model resumes from the newest snapshot instead of replaying the log.
  std::unique_ptr<projections::CheckpointStore> checkpoints;
  ledger::Status checkpoints_opened = projections::CheckpointStore::Open(
      projections::CheckpointStore::PathFor(options.data_dir), {}, &checkpoints);
  if (checkpoints_opened.ok()) {
    service_options.checkpoints = checkpoints.get();
  } else {
    std::fprintf(stderr, "warning: projection checkpoints unavailable, replaying the log: %s\n",
                 checkpoints_opened.ToString().c_str());
  }
  // The funding journal on disk: past known-at funding is read from it once the journal starts. Derived state like
  // the checkpoints: without it, those answers come from folds.
  std::unique_ptr<projections::JournalStore> journal_store;
  ledger::Status journal_opened = projections::JournalStore::Open(
      projections::JournalStore::PathFor(options.data_dir), {}, &journal_store);
  if (journal_opened.ok()) {
    service_options.journal_store = journal_store.get();
  } else {
    std::fprintf(stderr, "warning: journal store unavailable, past funding answers fold models: %s\n",
                 journal_opened.ToString().c_str());
  }
  server::Metrics metrics;
  server::DeclareServerMetrics(metrics);
  server::LedgerService service(store.get(), service_options, &metrics);
  ledger::Status status = ledger::Status::Ok();
  try {
    status = service.Start();
  } catch (const std::exception& exception) {
    // A garbled event (one that does not verify and no longer decodes) throws from Cap'n Proto while the
    // live model folds over it; --read-only cannot serve a model past it. Exit with the reason, not abort().
    return Fail(std::string("cannot fold the live model over the log: ") + exception.what() +
                    (service_options.read_only ? " (the store does not decode; restore a backup)" : ""),
                1);
  }
  if (!status.ok()) {
    // A store whose events do not decode cannot be served even read-only: a failed check (exit 1).
    const bool damaged = status.code() == ledger::StatusCode::kCorruption;
    return Fail("cannot fold the live model over the log: " + status.ToString() +
                    (damaged ? " (the store does not decode; restore a backup)" : ""),
                damaged ? 1 : 2);
  }

  server::TokenRegistry tokens;
  std::vector<DemoToken> demo_tokens;
  std::string sample_person;
  if (!options.tokens_file.empty()) {
    status = server::TokenRegistry::LoadFile(options.tokens_file, &tokens);
    if (!status.ok()) return Fail(status.ToString());
    if (int code = CheckClerkMunicipalities(options.tokens_file, service); code != 0) return code;
  } else if (options.demo) {
    if (int code = MakeDemoTokens(options.data_dir, service, &tokens, &demo_tokens, &sample_person); code != 0) {
      return code;
    }
  } else {
    return Fail("--tokens FILE is required (make entries with `di-ledger token`), or use --demo");
  }

  server::HttpServerOptions http;
  http.address = options.address;
  http.port = options.port;
  http.threads = options.threads;
  http.body_limit_bytes = options.body_limit_bytes;
  http.read_timeout = std::chrono::milliseconds(options.read_timeout_ms);
  http.write_timeout = std::chrono::milliseconds(options.write_timeout_ms);
  http.subscription_stall_timeout = std::chrono::milliseconds(options.stall_timeout_ms);
  http.heartbeat_interval = std::chrono::milliseconds(options.heartbeat_ms);
  server::HttpServer server(&service, &tokens, &metrics, http);
  status = server.Start();
  if (!status.ok()) return Fail(status.ToString());
  // The binary endpoint (bulk append, subscriptions; docs/protocol.md): same service, tokens and metrics.
  std::unique_ptr<server::BinaryEndpoint> binary;
  if (options.binary_port >= 0) {
    server::BinaryEndpointOptions binary_options;
    binary_options.read_timeout = std::chrono::milliseconds(options.read_timeout_ms);
    binary_options.subscription_stall_timeout = std::chrono::milliseconds(options.stall_timeout_ms);
    binary_options.heartbeat_interval = std::chrono::milliseconds(options.heartbeat_ms);
    binary = std::make_unique<server::BinaryEndpoint>(&service, &tokens, &metrics, binary_options);
    uint16_t binary_port = 0;
    status = binary->Start(options.address, static_cast<uint16_t>(options.binary_port), &binary_port);
    if (!status.ok()) return Fail(status.ToString());
    std::cout << "binary endpoint on " << options.address << ":" << binary_port << std::endl;
  }
  const std::string base = "http://" + options.address + ":" + std::to_string(server.port());
  if (options.demo) PrintDemoHelp(base, demo_tokens, sample_person);
  // One line scripts and tests wait for; the port is the bound one (also with --port 0).
  std::cout << "listening on " << base << " (head position " << store->Head().position << ", " << tokens.size()
            << " tokens, " << http.threads << " threads" << (service_options.read_only ? ", read-only" : "") << ")"
            << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cout << "received " << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
            << ": stopping (in-flight requests finish)" << std::endl;
  server.Stop();
  if (binary != nullptr) binary->Stop();
  service.BeginShutdown();
  const uint64_t head = store->Head().position;
  store.reset();  // closes RocksDB; every acknowledged append was fsynced before its reply
  std::cout << "stopped; head position " << head << std::endl;
  return 0;
}

int RunToken(const TokenOptions& options) {
  Principal principal;
  principal.name = options.name;
  if (!server::ParseRoleName(options.role, &principal.role)) {
    return Fail("--role must be one of clerk, project, finance, auditor, reader, migration");
  }
  if (principal.role == Role::kClerk && options.municipality.empty()) return Fail("a clerk needs --municipality");
  if (principal.role != Role::kClerk && !options.municipality.empty()) {
    return Fail("only a clerk has a --municipality");
  }
  principal.municipality_id = options.municipality;
  if (sodium_init() < 0) return Fail("libsodium failed to initialise");
  const std::string token = server::NewRandomToken();
  std::cout << "token (shown once; the server keeps only its SHA-256): " << token << "\n";
  std::cout << "entry for the tokens file (a JSON array of such entries):\n";
  std::cout << server::TokenEntryJson(principal, token).dump() << "\n";
  return 0;
}

}  // namespace di::cli
