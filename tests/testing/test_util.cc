#include "test_util.h"

#include <rocksdb/db.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace di::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "di-ledger-test-XXXXXX").string();
  char* created = mkdtemp(pattern.data());
  if (created == nullptr) std::abort();
  path_ = created;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ledger::NewEvent Event(const nlohmann::json& json) {
  ledger::NewEvent event;
  ledger::Status status = ledger::EventFromJson(json, &event);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json.dump();
  return event;
}

std::vector<ledger::NewEvent> Events(const std::vector<nlohmann::json>& jsons) {
  std::vector<ledger::NewEvent> events;
  for (const auto& json : jsons) events.push_back(Event(json));
  return events;
}

std::unique_ptr<ledger::EventStore> OpenStore(const std::string& dir, ledger::EventStoreOptions options) {
  std::unique_ptr<ledger::EventStore> store;
  ledger::Status status = ledger::EventStore::Open(options, dir, &store);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return store;
}

BaseWorldStoreTest::BaseWorldStoreTest(const std::string& store_dir)
    : store_path_(store_dir.empty() ? dir_.path() : dir_.Sub(store_dir)) {}

void BaseWorldStoreTest::SetUp() {
  store_ = OpenStore(store_path_);
  ASSERT_TRUE(store_);
  ASSERT_TRUE(AppendJson(*store_, BaseWorld()).ok());
}

nlohmann::json MakeEvent(const std::string& id, const std::string& type, const std::string& date, nlohmann::json data) {
  return {{"id", id}, {"type", type}, {"effective_date", date}, {"actor", "test"}, {"data", std::move(data)}};
}

namespace {
nlohmann::json Make(const std::string& id, const std::string& type, const std::string& date, nlohmann::json data) {
  return MakeEvent(id, type, date, std::move(data));
}
}  // namespace

std::vector<nlohmann::json> BaseWorld() {
  return {
      Make("e-project", "project_registered", "2015-12-08",
           {{"project_id", "PR-1"},
            {"name", "Atver sirdi Zemgalē"},
            {"region", "Zemgale"},
            {"agreement_number", "9.2.2.1/15/I/001"},
            {"period_start", "2015-07-01"},
            {"period_end", "2023-12-31"},
            {"services_paid_until", "2023-08-31"},
            {"budget_total_cents", 677834800},
            {"budget_esf_cents", 576159580},
            {"budget_state_cents", 101675220}}),
      Make("e-m1", "municipality_registered", "2015-12-08",
           {{"municipality_id", "M-1"}, {"name", "Jelgavas novads"}, {"project_id", "PR-1"}}),
      Make("e-m2", "municipality_registered", "2015-12-08",
           {{"municipality_id", "M-2"}, {"name", "Dobeles novads"}, {"project_id", "PR-1"}}),
      Make("e-pv1", "provider_registered", "2016-01-10",
           {{"provider_id", "PV-1"},
            {"name", "Biedrība Cerību sala"},
            {"kind", "legal_person"},
            {"registers", {{{"register", "social_service_providers"}, {"registration_number", "SP-123"}}}}}),
      Make("e-child", "person_enrolled", "2020-05-04",
           {{"person_id", "P-C1"},
            {"project_id", "PR-1"},
            {"target_group", "child_functional_impairment"},
            {"birth_date", "2018-03-15"},
            {"residence_municipality_id", "M-1"}}),
      Make("e-parent", "person_enrolled", "2020-05-04",
           {{"person_id", "P-P1"},
            {"project_id", "PR-1"},
            {"target_group", "parent_of_child"},
            {"birth_date", "1990-07-01"},
            {"residence_municipality_id", "M-1"},
            {"representative", {{"relation", "parent"}, {"child_ids", {"P-C1"}}}}}),
      Make("e-adult", "person_enrolled", "2019-02-01",
           {{"person_id", "P-A1"},
            {"project_id", "PR-1"},
            {"target_group", "adult_mental_disability"},
            {"birth_date", "1970-01-01"},
            {"residence_municipality_id", "M-2"}}),
      Make("e-as1", "needs_assessed", "2019-03-01",
           {{"assessment_id", "AS-1"}, {"person_id", "P-A1"}, {"method", "support_intensity_scale"}}),
      Make("e-pl1", "support_plan_approved", "2019-03-20",
           {{"plan_id", "PL-1"},
            {"person_id", "P-A1"},
            {"assessment_id", "AS-1"},
            {"recommended_services", {"adult_day_centre", "adult_specialist_consultation"}},
            {"valid_from", "2019-04-01"}}),
      Make("e-ap1", "application_submitted", "2020-12-01",
           {{"application_id", "AP-1"},
            {"person_id", "P-C1"},
            {"municipality_id", "M-1"},
            {"services", {"child_care", "respite"}},
            {"channel", "written"},
            {"submitted_by_id", "P-P1"}}),
      Make("e-ap1-decided", "application_decided", "2020-12-15",
           {{"application_id", "AP-1"}, {"decision", "granted"}}),
      Make("e-g1", "service_granted", "2020-12-20",
           {{"grant_id", "G-1"},
            {"person_id", "P-C1"},
            {"municipality_id", "M-1"},
            {"service", "child_care"},
            {"quantity", 12000},
            {"period", "month"},
            {"valid_from", "2021-01-01"},
            {"valid_until", "2023-08-31"},
            {"cost_basis", "actual_cost"},
            {"application_id", "AP-1"},
            {"provider_id", "PV-1"}}),
  };
}

nlohmann::json Delivery(const std::string& event_id, const std::string& delivery_id, const std::string& date,
                        int64_t minutes, int64_t cost_cents) {
  return Make(event_id, "service_delivered", date,
              {{"delivery_id", delivery_id},
               {"grant_id", "G-1"},
               {"provider_id", "PV-1"},
               {"quantity", minutes},
               {"cost_cents", cost_cents},
               {"mode", "in_person"},
               {"purpose", "care"}});
}

std::vector<std::string> SampleLines() {
  std::ifstream file(std::string(DI_TEST_DATA_DIR) + "/catalog_samples.jsonl");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(file, line)) lines.push_back(line);
  return lines;
}

nlohmann::json Migrated(nlohmann::json event, const std::string& recorded_at) {
  event["recorded_at"] = recorded_at;
  return event;
}

ledger::Status AppendJson(ledger::EventStore& store, const std::vector<nlohmann::json>& jsons,
                          ledger::AppendResult* result) {
  std::vector<ledger::NewEvent> events;
  for (const auto& json : jsons) {
    ledger::NewEvent event;
    ledger::Status status = ledger::EventFromJson(json, &event);
    if (!status.ok()) return status;
    events.push_back(std::move(event));
  }
  ledger::AppendResult ignored;
  return store.Append(events, result ? result : &ignored);
}

CommandOutput RunCommand(const std::string& command_line) {
  CommandOutput output;
  FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  size_t read;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.text.append(buffer, read);
  const int status = pclose(pipe);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

CommandOutput RunCli(const std::string& arguments) { return RunCommand(std::string(DI_CLI_BINARY) + " " + arguments); }

MadeToken MakeToken(const std::string& arguments) {
  const CommandOutput output = RunCli("token " + arguments);
  EXPECT_EQ(output.exit_code, 0) << output.text;
  MadeToken made = ParseMadeToken(output.text);
  EXPECT_FALSE(made.token.empty()) << output.text;
  EXPECT_TRUE(made.entry.is_object()) << output.text;
  return made;
}

std::vector<std::string> ServeCommand(const std::vector<std::string>& arguments, const std::vector<std::string>& more) {
  std::vector<std::string> command = {DI_CLI_BINARY, "serve"};
  command.insert(command.end(), arguments.begin(), arguments.end());
  command.insert(command.end(), more.begin(), more.end());
  return command;
}

void WithRawStore(const std::string& data_dir, const RawStoreUse& use) {
  rocksdb::DBOptions options;
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, data_dir, &families).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : families) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, data_dir, descriptors, &handles, &raw).ok());
  use(raw, families, handles);
  for (auto* handle : handles) raw->DestroyColumnFamilyHandle(handle);
  delete raw;
}

void RewriteLogValue(const std::string& data_dir, uint64_t position, const std::function<void(std::string*)>& change) {
  WithRawStore(data_dir, [&](rocksdb::DB* raw, const std::vector<std::string>& names,
                             const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    rocksdb::ColumnFamilyHandle* log = nullptr;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "log") log = handles[i];
    }
    ASSERT_NE(log, nullptr);
    std::string key;
    for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>((position >> shift) & 0xff));
    std::string value;
    ASSERT_TRUE(raw->Get(rocksdb::ReadOptions(), log, key, &value).ok());
    change(&value);
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    ASSERT_TRUE(raw->Put(write_options, log, key, value).ok());
  });
}

}  // namespace di::testing
