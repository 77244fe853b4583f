// End-to-end tests of the di-ledger binary: the same commands a user types, on real stores in temp dirs.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "di/workload/region_history.h"
#include "test_util.h"
#include "world.h"

namespace di::cli {
namespace {

using di::testing::BaseWorld;
using di::testing::Delivery;
using di::testing::TempDir;
using nlohmann::json;

using Output = di::testing::CommandOutput;
using di::testing::RunCli;
using di::testing::RewriteLogValue;
using di::testing::SimulatedRegionText;
using di::workload::kLatestSimulatedRecordedAt;
using di::workload::kSimulatedRulesRecordedAt;
using di::workload::SimulateOptions;
using di::workload::SimulateSummary;
using di::workload::WriteSimulatedHistory;

std::string WriteLines(const TempDir& dir, const std::string& name, const std::vector<json>& events) {
  const std::string path = dir.Sub(name);
  std::ofstream file(path);
  for (const json& event : events) file << event.dump() << "\n";
  return path;
}

std::vector<json> ReadLines(const std::string& text) {
  std::vector<json> lines;
  std::istringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

std::vector<json> World() {
  std::vector<json> events = BaseWorld();
  events.push_back(Delivery("d1", "D-1", "2021-03-01"));
  events.push_back(Delivery("d2", "D-2", "2021-03-02"));
  return events;
}


TEST(CliTest, UsageErrorsExitTwo) {
  for (const char* arguments : {"bogus", "report funding --format xml", "entitlements P-1 --format xml",
                                "report budgets", "import", "simulate --years 99",
                                "report reconciliation --format csv --table months",
                                "report funding --format csv --table claims", "report reconciliation --table claims"}) {
    Output output = RunCli(arguments);
    EXPECT_EQ(output.exit_code, 2) << arguments << "\n" << output.text;
    EXPECT_FALSE(output.text.empty()) << arguments;
  }
}

TEST(CliTest, HelpOnEveryVerb) {
  for (const char* verb :
       {"", "init", "import", "export", "verify", "stats", "simulate", "entitlements", "report", "rebuild",
        "rules enact"}) {
    Output output = RunCli(std::string(verb) + " --help");
    EXPECT_EQ(output.exit_code, 0) << verb;
    EXPECT_NE(output.text.find("--"), std::string::npos) << verb;
  }
}

// `import` of a line whose rules document nests 100 000 levels died with SIGSEGV (rc 139); `audit verify-export`
// of such a line would have too. Both now refuse it, naming the line and the field.
TEST(CliTest, DeeplyNestedLinesAreRefusedNotACrash) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --no-rules --data " + data).exit_code, 0);
  std::string document;
  for (int i = 0; i < 100000; ++i) document += "{\"a\":";
  document += "1" + std::string(100000, '}');
  const std::string file = dir.Sub("deep.jsonl");
  std::ofstream(file) << "{\"id\":\"deep\",\"type\":\"rules_enacted\",\"effective_date\":\"2021-01-01\",\"actor\":\"t\","
                         "\"data\":{\"rule_set_id\":\"R\",\"title\":\"t\",\"document\":"
                      << document << "}}\n";
  Output imported = RunCli("import " + file + " --data " + data);
  EXPECT_EQ(imported.exit_code, 1) << imported.text;
  EXPECT_NE(imported.text.find("line 1"), std::string::npos) << imported.text;
  EXPECT_NE(imported.text.find("deeper than 64 levels"), std::string::npos) << imported.text;
  Output verified = RunCli("audit verify-export --pubkey " + std::string(64, '0') + " " + file);
  EXPECT_NE(verified.exit_code, 139) << verified.text;
  EXPECT_NE(verified.text.find("deeper than 64 levels"), std::string::npos) << verified.text;
}

// `rules enact --project`: a project's own rules (docs/rules.md §3.0), recorded with the projects they govern; an
// unknown project is refused naming the field, and nothing is appended.
TEST(CliTest, RulesEnactedForOneProject) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --data " + data).exit_code, 0);
  ASSERT_EQ(RunCli("import " + WriteLines(dir, "world.jsonl", BaseWorld()) + " --data " + data).exit_code, 0);
  Output enacted = RunCli("rules enact --project PR-1 --rules-parameter services_paid_until=2023-06-30 --data " + data);
  ASSERT_EQ(enacted.exit_code, 0) << enacted.text;
  EXPECT_NE(enacted.text.find("for project PR-1"), std::string::npos) << enacted.text;
  const std::vector<json> events = ReadLines(RunCli("export --data " + data).text);
  ASSERT_FALSE(events.empty());
  const json& last = events.back();
  EXPECT_EQ(last["type"], "rules_enacted");
  EXPECT_EQ(last["data"]["project_ids"], json::array({"PR-1"}));
  EXPECT_EQ(last["data"]["document"]["parameters"]["services_paid_until"], "2023-06-30");

  Output refused = RunCli("rules enact --project PR-9 --data " + data);
  EXPECT_EQ(refused.exit_code, 1) << refused.text;
  EXPECT_NE(refused.text.find("project_ids[0]"), std::string::npos) << refused.text;
  EXPECT_NE(refused.text.find("unknown project 'PR-9'"), std::string::npos) << refused.text;
  EXPECT_EQ(ReadLines(RunCli("export --data " + data).text).size(), events.size());
}

TEST(CliTest, ImportExportVerifyStats) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --no-rules --data " + data).exit_code, 0);
  const std::string file = WriteLines(dir, "world.jsonl", World());
  Output imported = RunCli("import " + file + " --batch 5 --data " + data);
  ASSERT_EQ(imported.exit_code, 0) << imported.text;
  EXPECT_NE(imported.text.find("imported 14 events (0 already present)"), std::string::npos) << imported.text;

  // Importing again appends nothing: event ids are idempotent.
  Output again = RunCli("import " + file + " --data " + data);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.text.find("imported 0 events (14 already present)"), std::string::npos) << again.text;

  Output verified = RunCli("verify --data " + data);
  EXPECT_EQ(verified.exit_code, 0);
  EXPECT_NE(verified.text.find("OK: 14 events"), std::string::npos) << verified.text;

  Output stats = RunCli("stats --json --data " + data);
  ASSERT_EQ(stats.exit_code, 0);
  const json summary = json::parse(stats.text);
  EXPECT_EQ(summary["events"], 14);
  EXPECT_EQ(summary["events_by_type"]["service_delivered"], 2);
  EXPECT_EQ(summary["events_by_type"]["person_enrolled"], 3);
  EXPECT_EQ(summary["first_effective_date"], "2015-12-08");

  // Export, then import the export into a new store: the same events at the same positions and streams.
  Output exported = RunCli("export --from 1 --data " + data);
  ASSERT_EQ(exported.exit_code, 0);
  const std::vector<json> lines = ReadLines(exported.text);
  ASSERT_EQ(lines.size(), 14u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["position"], i + 1);
    json original = World()[i];
    for (const char* key : {"id", "type", "effective_date", "actor", "data"}) EXPECT_EQ(lines[i][key], original[key]);
  }
  const std::string copy = dir.Sub("copy");
  ASSERT_EQ(RunCli("init --no-rules --data " + copy).exit_code, 0);
  const std::string export_file = dir.Sub("export.jsonl");
  ASSERT_EQ(RunCli("export --data " + data + " -o " + export_file).exit_code, 0);
  ASSERT_EQ(RunCli("import " + export_file + " --data " + copy).exit_code, 0);
  const std::vector<json> copied = ReadLines(RunCli("export --data " + copy).text);
  ASSERT_EQ(copied.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    json a = lines[i], b = copied[i];
    for (json* line : {&a, &b}) {  // transaction time differs, and with it the hash
      line->erase("recorded_at");
      line->erase("hash");
    }
    EXPECT_EQ(a, b);
  }
  // Export from a later position.
  EXPECT_EQ(ReadLines(RunCli("export --from 13 --data " + data).text).size(), 2u);
}

TEST(CliTest, BadLineIsReportedAndItsBatchAppendsNothing) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --no-rules --data " + data).exit_code, 0);
  std::vector<json> events = World();
  events[12]["data"]["quantity"] = 0;  // line 13, in the second batch of 10
  const std::string file = WriteLines(dir, "bad.jsonl", events);
  Output output = RunCli("import " + file + " --batch 10 --data " + data);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_NE(output.text.find("line 13: invalid_argument: event 'd1': field 'data.quantity': must be greater than 0"),
            std::string::npos)
      << output.text;
  EXPECT_NE(output.text.find("nothing of lines 11..14 was appended; 10 events of earlier lines were"),
            std::string::npos)
      << output.text;
  EXPECT_NE(RunCli("stats --json --data " + data).text.find("\"events\": 10"), std::string::npos);

  // Malformed JSON: the line number, and nothing of the batch.
  std::ofstream(dir.Sub("broken.jsonl")) << World()[0].dump() << "\n{\"id\": \"x\"\n";
  const std::string other = dir.Sub("other");
  ASSERT_EQ(RunCli("init --no-rules --data " + other).exit_code, 0);
  output = RunCli("import " + dir.Sub("broken.jsonl") + " --data " + other);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_NE(output.text.find("line 2: invalid_argument: not valid JSON"), std::string::npos) << output.text;
  EXPECT_NE(RunCli("stats --json --data " + other).text.find("\"events\": 0"), std::string::npos);
}

TEST(CliTest, VerifyNamesATamperedPosition) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --no-rules --data " + data).exit_code, 0);
  ASSERT_EQ(RunCli("import " + WriteLines(dir, "world.jsonl", World()) + " --data " + data).exit_code, 0);
  // Change one byte of the stored event at position 7, directly in RocksDB.
  RewriteLogValue(data, 7, [](std::string* value) { (*value)[value->size() - 20] ^= 0x01; });
  Output output = RunCli("verify --data " + data);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_NE(output.text.find("FAILED at position 7: hash mismatch"), std::string::npos) << output.text;
  EXPECT_NE(output.text.find("6 events before it verified"), std::string::npos) << output.text;
}

TEST(CliTest, GarbledEventIsCorruptionNotACrash) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --no-rules --data " + data).exit_code, 0);
  ASSERT_EQ(RunCli("import " + WriteLines(dir, "world.jsonl", World()) + " --data " + data).exit_code, 0);
  // Keep the 32-byte hash, replace the body by words of 0xff: not a valid Cap'n Proto message.
  RewriteLogValue(data, 5, [](std::string* value) { std::fill(value->begin() + 32, value->end(), '\xff'); });
  Output exported = RunCli("export --data " + data);
  EXPECT_EQ(exported.exit_code, 2);
  EXPECT_NE(exported.text.find("error: corruption: position 5: "), std::string::npos) << exported.text;
  EXPECT_EQ(ReadLines(exported.text.substr(0, exported.text.find("error:"))).size(), 4u);  // 1..4 were fine
  Output verified = RunCli("verify --data " + data);
  EXPECT_EQ(verified.exit_code, 1);
  EXPECT_NE(verified.text.find("FAILED at position 5"), std::string::npos) << verified.text;
}

TEST(CliTest, CommandsOnAMissingStoreFailClearly) {
  TempDir dir;
  Output output = RunCli("stats --data " + dir.Sub("nope"));
  EXPECT_EQ(output.exit_code, 2);
  EXPECT_NE(output.text.find("no event store at"), std::string::npos) << output.text;
  output = RunCli("import /nonexistent/file.jsonl --data " + dir.Sub("nope"));
  EXPECT_EQ(output.exit_code, 2);
}

TEST(SimulateTest, SameSeedSameBytesAndTheHistoryIsValid) {
  SimulateOptions options;
  options.seed = 7;
  options.persons = 40;
  options.years = 8;
  std::ostringstream first, second, other;
  const SimulateSummary summary = WriteSimulatedHistory(options, first);
  WriteSimulatedHistory(options, second);
  options.seed = 8;
  WriteSimulatedHistory(options, other);
  EXPECT_EQ(first.str(), second.str());
  EXPECT_NE(first.str(), other.str());
  EXPECT_GT(summary.deliveries, 0u);
  EXPECT_GT(summary.claims, 0u);

  // Every event type a region produces is there, and the ledger accepts the whole history.
  std::set<std::string> types;
  for (const json& line : ReadLines(first.str())) types.insert(line["type"].get<std::string>());
  for (const char* type : {"project_registered", "budget_amended", "municipality_registered", "municipalities_merged",
                           "provider_registered", "provider_contracted", "person_enrolled", "needs_assessed",
                           "support_plan_approved", "application_submitted", "application_decided",
                           "service_granted", "service_delivered", "reimbursement_claimed", "claim_reviewed",
                           "reimbursement_paid"}) {
    EXPECT_TRUE(types.count(type)) << "simulation has no " << type;
  }
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --no-rules --data " + data).exit_code, 0);
  std::ofstream(dir.Sub("sim.jsonl")) << first.str();
  Output imported = RunCli("import " + dir.Sub("sim.jsonl") + " --data " + data);
  ASSERT_EQ(imported.exit_code, 0) << imported.text;
  EXPECT_NE(imported.text.find("imported " + std::to_string(summary.events) + " events"), std::string::npos)
      << imported.text;
  EXPECT_EQ(RunCli("verify --data " + data).exit_code, 0);
}

// The project's partners and activities on a simulated region (issue #17): the municipalities registered with the
// project until the reform merges them, the camps with the participants the sources count; and the errors.
TEST(CliTest, PartnersAndActivitiesOfTheSimulatedProject) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --data " + data).exit_code, 0);
  ASSERT_EQ(RunCli("simulate --seed 4 --persons 12 --years 8 -o " + dir.Sub("sim.jsonl")).exit_code, 0);
  ASSERT_EQ(RunCli("import " + dir.Sub("sim.jsonl") + " --data " + data).exit_code, 0);
  const Output before = RunCli("report partners --valid-at 2021-06-30 --format json --data " + data);
  ASSERT_EQ(before.exit_code, 0) << before.text;
  const Output after = RunCli("report partners --valid-at 2021-07-01 --format json --data " + data);
  ASSERT_EQ(after.exit_code, 0) << after.text;
  const nlohmann::json partners_before = nlohmann::json::parse(before.text);
  const nlohmann::json partners_after = nlohmann::json::parse(after.text);
  EXPECT_EQ(partners_before["projects"][0]["partners"], 22);  // the 22 pre-reform municipalities
  EXPECT_EQ(partners_after["projects"][0]["partners"], 6);    // their 6 successors
  EXPECT_EQ(partners_after["former"].size(), 22u);
  const Output activities = RunCli("report activities --year 2018 --format csv --data " + data);
  ASSERT_EQ(activities.exit_code, 0) << activities.text;
  EXPECT_NE(activities.text.find(",2018,camp,1,30,5\n"), std::string::npos) << activities.text;
  const Output table = RunCli("report activities --data " + data);
  EXPECT_NE(table.text.find("participants"), std::string::npos) << table.text;
  EXPECT_EQ(RunCli("report partners --year 2019 --data " + data).exit_code, 2);
  const Output unknown = RunCli("report activities --project PR-NOPE --data " + data);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.text.find("PR-NOPE"), std::string::npos) << unknown.text;
}

// `rebuild` recomputes the projection checkpoints; answers are the same whichever path built the state:
// no checkpoints, checkpoints written by queries, checkpoints from a rebuild.
TEST(CliTest, RebuildIsDeterministicAndAnswersDoNotDependOnThePath) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --data " + data).exit_code, 0);
  ASSERT_EQ(RunCli("simulate --seed 4 --persons 12 --years 8 -o " + dir.Sub("sim.jsonl")).exit_code, 0);
  ASSERT_EQ(RunCli("import " + dir.Sub("sim.jsonl") + " --data " + data).exit_code, 0);
  const std::string queries[] = {"entitlements P-000003 --valid-at 2021-07-15 --format json --explain",
                                 "report funding --format csv", "report reconciliation --format json",
                                 "report reconciliation --format csv --table claims",
                                 "report reconciliation --format csv --table payments", "report funding",
                                 "report indicators --known-at 2000 --format csv"};
  auto answers = [&] {
    std::string all;
    for (const std::string& query : queries) {
      Output output = RunCli(query + " --data " + data);
      EXPECT_EQ(output.exit_code, 0) << query << "\n" << output.text;
      all += output.text;
    }
    return all;
  };
  const std::string projections = data + "/projections";
  std::filesystem::remove_all(projections);
  const std::string cold = answers();                  // folds from the start, writes checkpoints
  ASSERT_TRUE(std::filesystem::exists(projections));
  EXPECT_EQ(answers(), cold);                          // resumes from those checkpoints
  Output first = RunCli("rebuild --interval 1000 --data " + data);
  ASSERT_EQ(first.exit_code, 0) << first.text;
  EXPECT_NE(first.text.find("rebuilt the projections from"), std::string::npos) << first.text;
  EXPECT_EQ(answers(), cold);                          // from the rebuilt checkpoints
  Output second = RunCli("rebuild --interval 1000 --data " + data);
  ASSERT_EQ(second.exit_code, 0);
  auto digests = [](const std::string& text) {
    const size_t from = text.find("position");
    return text.substr(from, text.find("rebuilt the journal store") - from);  // its timing differs
  };
  EXPECT_EQ(digests(first.text), digests(second.text)) << "rebuild twice: the same snapshots, byte for byte";
  EXPECT_NE(first.text.find("head "), std::string::npos);
  EXPECT_EQ(RunCli("rebuild --data " + dir.Sub("nope")).exit_code, 2);
}

TEST(SimulateTest, CliWritesTheSameBytesAsTheLibrary) {
  const std::string library = SimulatedRegionText(3, 20, 2);
  Output cli = RunCli("simulate --seed 3 --persons 20 --years 2");
  ASSERT_EQ(cli.exit_code, 0);
  // The CLI prints its summary on stderr, which RunCli() merges: the history is everything before it.
  EXPECT_EQ(cli.text.substr(0, library.size()), library);
}

// ---- Migration (issue #13 §2) ---------------------------------------------------------------------------

// The demo's way in (scripts/demo.sh, serve --demo): the rules recorded at the project's start, the simulated
// region imported keeping its recorded times. "Funding as known on 2021-07-15" then is what was known that day:
// not empty, and not today's figures.
// "" when the texts are equal; else the first line where they differ, from each.
std::string FirstDifference(const std::string& a, const std::string& b) {
  if (a == b) return "";
  std::istringstream left(a), right(b);
  std::string line_a, line_b;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(left, line_a));
    const bool more_b = static_cast<bool>(std::getline(right, line_b));
    if (line_a != line_b || more_a != more_b) {
      return "line " + std::to_string(line) + ": '" + line_a.substr(0, 400) + "' vs '" + line_b.substr(0, 400) + "'";
    }
    if (!more_a) return "the same lines, other bytes";
  }
}

TEST(MigrationCliTest, ASimulatedRegionImportedWithItsRecordedTimesAnswersAsKnownThen) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --data " + data + " --rules-recorded-at " + kSimulatedRulesRecordedAt).exit_code, 0);
  const std::string history = SimulatedRegionText(5, 15);
  const std::vector<json> lines = ReadLines(history);
  // Every line carries its recorded time, never decreasing along the file, never after the fixed ceiling.
  std::string previous;
  for (const json& line : lines) {
    const std::string recorded_at = line["recorded_at"];
    ASSERT_GE(recorded_at, previous) << line.dump();
    ASSERT_LE(recorded_at, std::string(kLatestSimulatedRecordedAt));
    ASSERT_GE(recorded_at.substr(0, 10), line["effective_date"].get<std::string>()) << line.dump();
    previous = recorded_at;
  }
  std::ofstream(dir.Sub("region.jsonl")) << history;
  Output imported = RunCli("import " + dir.Sub("region.jsonl") + " --keep-recorded-at --data " + data);
  ASSERT_EQ(imported.exit_code, 0) << imported.text;
  ASSERT_EQ(RunCli("verify --data " + data).exit_code, 0);

  // Exported as recorded: every line's time kept and flagged as asserted, the rules' included.
  Output exported = RunCli("export --data " + data);
  ASSERT_EQ(exported.exit_code, 0);
  const std::vector<json> recorded = ReadLines(exported.text);
  ASSERT_EQ(recorded.size(), lines.size() + 1);
  EXPECT_EQ(recorded[0]["recorded_at"], "2015-07-01T00:00:00.000000Z");
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(recorded[i + 1]["id"], lines[i]["id"]);
    EXPECT_EQ(recorded[i + 1]["recorded_at"].get<std::string>().substr(0, 19),
              lines[i]["recorded_at"].get<std::string>().substr(0, 19));
    EXPECT_EQ(recorded[i + 1]["recorded_at_asserted"], true);
  }
  // An auditor verifies the migrated export offline, signed after the migration.
  ASSERT_EQ(RunCli("audit keygen --out " + dir.Sub("ledger.key")).exit_code, 0);
  ASSERT_EQ(RunCli("audit checkpoint --key " + dir.Sub("ledger.key") + " --data " + data).exit_code, 0);
  ASSERT_EQ(RunCli("export --data " + data + " -o " + dir.Sub("export.jsonl")).exit_code, 0);
  Output verified = RunCli("audit verify-export " + dir.Sub("export.jsonl") + " --pubkey " + dir.Sub("ledger.key.pub"));
  EXPECT_EQ(verified.exit_code, 0) << verified.text;

  auto funding = [&](const std::string& known_at) {
    // Valid at the end of the project: every claim and payment ever dated counts, if it was known.
    Output output = RunCli("report funding --valid-at 2023-12-31 --group-by month --format json --data " + data +
                           (known_at.empty() ? "" : " --known-at " + known_at));
    EXPECT_EQ(output.exit_code, 0) << output.text;
    return json::parse(output.text);
  };
  const json then = funding("2021-07-15");
  const json now = funding("");
  // "How many sessions were delivered remotely in March-June 2020?" (the spring lockdown), from the CLI.
  Output by_mode = RunCli("report funding --valid-at 2023-12-31 --group-by mode,month --format json --data " + data);
  ASSERT_EQ(by_mode.exit_code, 0) << by_mode.text;
  int64_t remote_in_lockdown = 0, all_deliveries = 0;
  const json by_mode_report = json::parse(by_mode.text);
  for (const json& row : by_mode_report["rows"]) {
    ASSERT_TRUE(row.contains("mode")) << row.dump();
    all_deliveries += row["deliveries"].get<int64_t>();
    const std::string month = row["month"];
    if (row["mode"] == "remote" && month >= "2020-03" && month <= "2020-06") {
      remote_in_lockdown += row["deliveries"].get<int64_t>();
    }
  }
  EXPECT_GT(remote_in_lockdown, 0) << by_mode.text;
  EXPECT_EQ(all_deliveries, now["totals"]["deliveries"]);
  EXPECT_FALSE(then.contains("note"));
  EXPECT_GT(then["known_at_position"].get<uint64_t>(), 1u);
  EXPECT_LT(then["known_at_position"].get<uint64_t>(), now["known_at_position"].get<uint64_t>());
  auto june = [](const json& report) {
    for (const json& row : report["rows"]) {
      if (row["month"] == "2021-06") return row;
    }
    return json();
  };
  ASSERT_FALSE(june(then).is_null()) << then.dump();  // June's deliveries, typed in by mid-July
  ASSERT_FALSE(june(now).is_null());
  EXPECT_GT(june(then)["delivered_cents"].get<int64_t>(), 0);
  // The June claims were filed from mid-July on, and paid weeks later: known now, (mostly) not then.
  EXPECT_LT(june(then)["claimed_cents"].get<int64_t>(), june(now)["claimed_cents"].get<int64_t>());
  EXPECT_EQ(june(then)["paid_cents"], 0);
  EXPECT_GT(june(now)["paid_cents"].get<int64_t>(), 0);

  // What changed between mid-July 2021 and now (issue #15): per month, the figures then and now, and the events
  // recorded in between that moved them, summing to the difference.
  Output changes = RunCli("report changes --known-at 2021-07-15 --valid-at 2023-12-31 --group-by month --format json "
                          "--data " + data);
  ASSERT_EQ(changes.exit_code, 0) << changes.text;
  const json changed = json::parse(changes.text);
  EXPECT_EQ(changed["known_at_position"], then["known_at_position"]);
  EXPECT_EQ(changed["to_position"], now["known_at_position"]);
  EXPECT_EQ(changed["totals_at_known_at"], then["totals"]);
  EXPECT_EQ(changed["totals_at_to"], now["totals"]);
  std::map<std::string, json> then_rows, now_rows;
  for (const json& row : then["rows"]) then_rows[row["month"]] = row;
  for (const json& row : now["rows"]) now_rows[row["month"]] = row;
  std::set<uint64_t> causes;
  for (const json& event : changed["events"]) {
    causes.insert(event["position"].get<uint64_t>());
    EXPECT_GT(event["recorded_at"].get<std::string>(), "2021-07-15T23:59:59.999999Z") << event.dump();
  }
  bool june_listed = false;
  for (const json& row : changed["rows"]) {
    const std::string month = row["month"];
    june_listed |= month == "2021-06";
    ASSERT_TRUE(now_rows.count(month)) << month;
    for (const char* figure : {"deliveries", "delivered_cents", "eligible_cents", "claimed_cents", "paid_cents"}) {
      EXPECT_EQ(row["at_known_at"][figure], then_rows.count(month) ? then_rows[month][figure] : json(0)) << month;
      EXPECT_EQ(row["at_to"][figure], now_rows[month][figure]) << month << " " << figure;
      int64_t moved = 0;
      for (const json& move : row["moves"]) {
        moved += move["delta"][figure].get<int64_t>();
        EXPECT_TRUE(causes.count(move["position"].get<uint64_t>())) << move.dump();
        EXPECT_GT(move["position"].get<uint64_t>(), then["known_at_position"].get<uint64_t>());
      }
      EXPECT_EQ(row["at_known_at"][figure].get<int64_t>() + moved, row["at_to"][figure].get<int64_t>()) << month;
    }
  }
  EXPECT_TRUE(june_listed) << "June 2021's claims and payments came after mid-July";
  Output table = RunCli("report changes --known-at 2021-07-15 --to 2021-09-01 --data " + data);
  EXPECT_EQ(table.exit_code, 0) << table.text;
  EXPECT_NE(table.text.find("because of "), std::string::npos) << table.text;
  // Bad input: a clear error naming the option, exit 2; an id never recorded, exit 1.
  for (const std::string& arguments : {std::string("report changes"), std::string("report changes --known-at 2021-09-01 --to 2021-07-01"),
                                       std::string("report changes --known-at 2021-09-01 --to tomorrow"),
                                       std::string("report funding --to 2021-09-01"),
                                       std::string("report changes --known-at 1 --group-by week")}) {
    Output refused = RunCli(arguments + " --data " + data);
    EXPECT_EQ(refused.exit_code, 2) << arguments << "\n" << refused.text;
    EXPECT_NE(refused.text.find("error:"), std::string::npos) << arguments << "\n" << refused.text;
  }
  EXPECT_EQ(RunCli("report changes --known-at 1 --municipality M-NOWHERE --data " + data).exit_code, 1);

  // After `rebuild`, funding as known at a past moment is read from the journal store: the same output, byte for
  // byte, as the naive fold (--naive), in every format, errors included.
  Output rebuilt = RunCli("rebuild --data " + data);
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.text;
  EXPECT_NE(rebuilt.text.find("rebuilt the journal store from"), std::string::npos) << rebuilt.text;
  for (const std::string& arguments :
       {std::string("--known-at 2021-07-15 --valid-at 2021-06-30 --group-by month --format json"),
        std::string("--known-at 2019-03-01 --group-by territory,service --format csv"),
        std::string("--known-at 2022-01-01 --valid-at 2020-12-31"), std::string("--known-at 40 --format json"),
        std::string("--group-by project --format json"), std::string("--known-at 2021-07-15 --group-by colour"),
        std::string("--known-at 2021-07-15 --municipality M-NOWHERE"),
        // The events behind each row: every delivery's line facts and the claims as the store knows them then.
        std::string("--known-at 2021-07-15 --valid-at 2021-06-30 --explain --format json"),
        std::string("--known-at 2022-01-01 --group-by territory,month --explain"),
        std::string("--explain --group-by service --format json")}) {
    Output journal = RunCli("report funding " + arguments + " --data " + data);
    Output naive = RunCli("report funding --naive " + arguments + " --data " + data);
    EXPECT_EQ(journal.exit_code, naive.exit_code) << arguments;
    EXPECT_EQ(FirstDifference(journal.text, naive.text), "") << arguments;
  }
  // The changes between two moments from the store's records == from a journal folded from the nearest checkpoint.
  for (const std::string& arguments :
       {std::string("--known-at 2021-07-15 --to 2021-09-01 --group-by month --format json"),
        std::string("--known-at 2019-01-01 --valid-at 2019-06-30 --format csv"),
        std::string("--known-at 2021-07-15 --to 2021-09-01")}) {
    Output journal = RunCli("report changes " + arguments + " --data " + data);
    Output naive = RunCli("report changes --naive " + arguments + " --data " + data);
    EXPECT_EQ(journal.exit_code, 0) << arguments << "\n" << journal.text;
    EXPECT_EQ(FirstDifference(journal.text, naive.text), "") << arguments;
  }
  // Entitlements as known at a past moment: the family's facts and the caps' usage from the store == the fold.
  for (const std::string& arguments :
       {std::string("P-000003 --known-at 2021-07-15 --valid-at 2021-06-30 --format json"),
        std::string("P-000007 --known-at 2020-03-01 --valid-at 2020-02-10 --format csv"),
        std::string("P-000012 --known-at 2022-01-01 --valid-at 2021-12-20"), std::string("P-000001 --format json"),
        std::string("P-000005 --known-at 2016-01-01 --format json"), std::string("P-NOBODY --known-at 2021-07-15"),
        // The decisions behind the figures as the journal made them, none decided again.
        std::string("P-000003 --known-at 2021-07-15 --valid-at 2021-06-30 --explain --format json"),
        std::string("P-000012 --known-at 2022-01-01 --valid-at 2021-12-20 --explain"),
        std::string("P-000001 --explain --format json")}) {
    Output journal = RunCli("entitlements " + arguments + " --data " + data);
    Output naive = RunCli("entitlements --naive " + arguments + " --data " + data);
    EXPECT_EQ(journal.exit_code, naive.exit_code) << arguments;
    EXPECT_EQ(FirstDifference(journal.text, naive.text), "") << arguments;
  }
  {
    // The explained answers compared above are not empty: decisions listed, events per funding row.
    Output decisions = RunCli("entitlements P-000001 --explain --format json --data " + data);
    ASSERT_EQ(decisions.exit_code, 0) << decisions.text;
    EXPECT_FALSE(json::parse(decisions.text)["deliveries"].empty()) << decisions.text.substr(0, 400);
    Output rows = RunCli("report funding --explain --group-by service --format json --data " + data);
    ASSERT_EQ(rows.exit_code, 0) << rows.text;
    const json funding = json::parse(rows.text);
    ASSERT_FALSE(funding["rows"].empty());
    EXPECT_FALSE(funding["rows"][0]["positions"].empty()) << rows.text.substr(0, 400);
  }
  // Reconciliation as known at any moment: the claims folded and each line's facts from the store == the fold.
  Output claims = RunCli("report reconciliation --known-at 2021-09-01 --format json --data " + data);
  ASSERT_EQ(claims.exit_code, 0) << claims.text;
  const json claims_then = json::parse(claims.text);
  ASSERT_FALSE(claims_then["claims"].empty()) << claims.text;
  const std::string claim = claims_then["claims"].back()["claim_id"];
  for (const std::string& arguments :
       {std::string("--known-at 2021-09-01 --format json"), std::string("--known-at 2021-07-15 --valid-at 2021-06-30"),
        std::string("--claim " + claim + " --known-at 2021-09-01"), std::string("--claim " + claim + " --format json"),
        std::string("--claim " + claim + " --known-at 2019-01-01 --format json"),
        std::string("--known-at 2022-01-01 --format csv --table lines"),
        std::string("--known-at 2022-01-01 --format csv --table payments"), std::string("--claim C-NONE")}) {
    Output journal = RunCli("report reconciliation " + arguments + " --data " + data);
    Output naive = RunCli("report reconciliation --naive " + arguments + " --data " + data);
    EXPECT_EQ(journal.exit_code, naive.exit_code) << arguments;
    // Megabytes of text: the first line that differs, not gtest's diff of the whole (quadratic in memory).
    EXPECT_EQ(FirstDifference(journal.text, naive.text), "") << arguments;
  }
  // Indicators as known at any moment: each person's facts from the store == the fold.
  for (const std::string& arguments :
       {std::string("--known-at 2021-09-01 --format json"), std::string("--known-at 2019-03-01 --valid-at 2018-12-31"),
        std::string("--known-at 2022-01-01 --format csv"), std::string("--format json"),
        std::string("--known-at 2016-01-01 --format json"), std::string("--known-at 2021-07-15 --project PR-NONE")}) {
    Output journal = RunCli("report indicators " + arguments + " --data " + data);
    Output naive = RunCli("report indicators --naive " + arguments + " --data " + data);
    EXPECT_EQ(journal.exit_code, naive.exit_code) << arguments;
    EXPECT_EQ(FirstDifference(journal.text, naive.text), "") << arguments;
  }
}

TEST(MigrationCliTest, KeepingRecordedTimesRefusesBadTimesNamingTheLineAndAppendsNothingOfTheBatch) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_EQ(RunCli("init --no-rules --data " + data).exit_code, 0);
  std::vector<json> world;
  int minute = 0;
  for (json& event : BaseWorld()) {
    char time[32];
    std::snprintf(time, sizeof(time), "2021-01-04T09:%02d:00Z", minute++);
    world.push_back(di::testing::Migrated(std::move(event), time));
  }
  std::vector<json> missing = world;
  missing[3].erase("recorded_at");
  Output output = RunCli("import " + WriteLines(dir, "missing.jsonl", missing) + " --keep-recorded-at --data " + data);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_NE(output.text.find("line 4: invalid_argument: event 'e-pv1': field 'recorded_at': is required"),
            std::string::npos)
      << output.text;
  std::vector<json> backwards = world;
  backwards[5]["recorded_at"] = "2021-01-04T09:00:30Z";
  output = RunCli("import " + WriteLines(dir, "backwards.jsonl", backwards) + " --keep-recorded-at --data " + data);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_NE(output.text.find("line 6: invalid_argument: event '" + backwards[5]["id"].get<std::string>() +
                             "': field 'recorded_at'"),
            std::string::npos)
      << output.text;
  EXPECT_NE(output.text.find("nothing of lines 1.."), std::string::npos) << output.text;
  EXPECT_EQ(RunCli("export --data " + data).text, "");

  // Into a store whose rules were recorded now, migrated history would go back in time: refused.
  const std::string live = dir.Sub("live");
  ASSERT_EQ(RunCli("init --data " + live).exit_code, 0);
  output = RunCli("import " + WriteLines(dir, "world.jsonl", world) + " --keep-recorded-at --data " + live);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_NE(output.text.find("before the recorded_at of the event before it in the log"), std::string::npos)
      << output.text;
  EXPECT_EQ(ReadLines(RunCli("export --data " + live).text).size(), 1u);

  ASSERT_EQ(RunCli("import " + dir.Sub("world.jsonl") + " --keep-recorded-at --data " + data).exit_code, 0);
  // Known at a time before anything was recorded: an empty answer that says so; a typo is still an error.
  output = RunCli("report funding --municipality M-2 --known-at 2020-12-31 --format json --data " + data);
  ASSERT_EQ(output.exit_code, 0) << output.text;
  const json report = json::parse(output.text);
  EXPECT_EQ(report["known_at_position"], 0);
  EXPECT_NE(report.value("note", "").find("is before the first recorded event"), std::string::npos) << output.text;
  output = RunCli("report funding --municipality M-2 --known-at 2020-12-31 --data " + data);
  EXPECT_NE(output.text.find("note: known at '2020-12-31' is before the first recorded event"), std::string::npos)
      << output.text;
  output = RunCli("entitlements P-C1 --known-at 2020-12-31 --data " + data);
  EXPECT_EQ(output.exit_code, 0) << output.text;
  EXPECT_NE(output.text.find("nothing was known yet"), std::string::npos) << output.text;
  EXPECT_EQ(RunCli("report funding --municipality M-22 --known-at 2020-12-31 --data " + data).exit_code, 1);
  EXPECT_EQ(RunCli("entitlements P-NOBODY --known-at 2020-12-31 --data " + data).exit_code, 1);
  EXPECT_EQ(RunCli("init --rules-recorded-at 2015-07-01 --data " + dir.Sub("bad-time")).exit_code, 1);
}

}  // namespace
}  // namespace di::cli
