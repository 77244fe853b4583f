// The server's live model and projection checkpoints: a restart resumes from the newest snapshot instead
// of replaying the log, and answers are the same whichever path built the model.
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "di/ledger/backup.h"
#include "di/ledger/json_codec.h"
#include "di/projections/checkpoint.h"
#include "di/projections/replay.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "test_util.h"
#include "world.h"

namespace di::server {
namespace {

using di::testing::TempDir;

// The default rules, then 8 years of 15 simulated persons: one JSON event per line.
std::vector<std::string> HistoryLines() {
  const nlohmann::json rules = di::testing::DefaultRulesEvent("default");
  std::vector<std::string> lines = {rules.dump()};
  for (std::string& line : di::testing::SimulatedRegionLines(5, 15)) lines.push_back(std::move(line));
  return lines;
}

// lines[begin, end) as one batch of events.
std::vector<ledger::NewEvent> Batch(const std::vector<std::string>& lines, size_t begin, size_t end) {
  std::vector<ledger::NewEvent> batch(std::min(end, lines.size()) - begin);
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_TRUE(ledger::EventFromJsonText(lines[begin + i], &batch[i]).ok());
  return batch;
}

void FillStore(ledger::EventStore& store) {
  const std::vector<std::string> lines = HistoryLines();
  ledger::AppendResult result;
  ASSERT_TRUE(store.Append(Batch(lines, 0, 1), &result).ok());
  for (size_t begin = 1; begin < lines.size(); begin += 500) {
    ASSERT_TRUE(store.Append(Batch(lines, begin, begin + 500), &result).ok());
  }
}

std::string Answers(LedgerService& service, const AsOf& as_of) {
  const Principal auditor{"auditor", Role::kAuditor, ""};
  std::string out;
  for (const char* person : {"P-000001", "P-000004", "P-000009"}) {
    projections::Entitlements entitlements;
    ledger::Status status = service.QueryEntitlements(auditor, person, as_of, false, &entitlements);
    out += status.ok() ? projections::EntitlementsToJson(entitlements).dump() : status.ToString();
  }
  projections::FundingReport funding;
  ledger::Status status = service.QueryFunding(auditor, as_of, {}, &funding);
  out += status.ok() ? projections::FundingToJson(funding).dump() : status.ToString();
  return out;
}

TEST(ServerCheckpointTest, ARestartResumesTheLiveModelFromASnapshotWithTheSameAnswers) {
  TempDir dir;
  auto store = di::testing::OpenStore(dir.Sub("store"));
  FillStore(*store);
  const uint64_t head = store->Head().position;
  ASSERT_GT(head, 2000u);
  projections::CheckpointOptions checkpoint_options;
  checkpoint_options.interval_events = 500;
  std::unique_ptr<projections::CheckpointStore> checkpoints;
  ASSERT_TRUE(projections::CheckpointStore::Open(dir.Sub("projections"), checkpoint_options, &checkpoints).ok());
  ServiceOptions options;
  options.pseudonym_key = std::string(32, 'k');
  options.checkpoints = checkpoints.get();
  const AsOf now{"2021-07-15", ""};
  const AsOf past{"2019-12-31", std::to_string(head / 2)};

  std::string first_now, first_past;
  {
    Metrics metrics;
    DeclareServerMetrics(metrics);
    LedgerService service(store.get(), options, &metrics);
    ASSERT_TRUE(service.Start().ok());  // no snapshot yet: folds the log, writing snapshots as it passes them
    EXPECT_NE(metrics.Render().find("di_model_resumed_from_snapshot_position 0"), std::string::npos);
    first_now = Answers(service, now);
    first_past = Answers(service, past);
  }
  std::vector<projections::CheckpointInfo> snapshots;
  ASSERT_TRUE(checkpoints->List(&snapshots).ok());
  ASSERT_FALSE(snapshots.empty());
  EXPECT_EQ(snapshots.back().position, head) << "the live model was snapshotted where it stood";

  Metrics metrics;
  DeclareServerMetrics(metrics);
  LedgerService restarted(store.get(), options, &metrics);
  ASSERT_TRUE(restarted.Start().ok());
  EXPECT_NE(metrics.Render().find("di_model_resumed_from_snapshot_position " + std::to_string(head)), std::string::npos)
      << metrics.Render().substr(0, 2000);
  EXPECT_EQ(Answers(restarted, now), first_now);
  EXPECT_EQ(Answers(restarted, past), first_past);

  // And the same as a service that never saw a checkpoint.
  ServiceOptions plain = options;
  plain.checkpoints = nullptr;
  LedgerService replayed(store.get(), plain, nullptr);
  ASSERT_TRUE(replayed.Start().ok());
  EXPECT_EQ(Answers(replayed, now), first_now);
  EXPECT_EQ(Answers(replayed, past), first_past);
}

// Live-model snapshots are written by the service's own thread while appends and queries go on: every one it
// writes is confirmed by the store and decodes to the model a plain replay gives at its position, and a restart
// resumes from the newest.
TEST(ServerCheckpointTest, SnapshotsWrittenWhileAppendsAndQueriesGoOnMatchAPlainReplay) {
  TempDir dir;
  auto store = di::testing::OpenStore(dir.Sub("store"));
  const std::vector<std::string> history = HistoryLines();
  ASSERT_GT(history.size(), 4000u);
  const size_t half = history.size() / 2;
  ledger::AppendResult result;
  ASSERT_TRUE(store->Append(Batch(history, 0, 1), &result).ok());
  ASSERT_TRUE(store->Append(Batch(history, 1, half), &result).ok());

  projections::CheckpointOptions checkpoint_options;
  checkpoint_options.interval_events = 300;
  checkpoint_options.max_snapshots = 64;
  std::unique_ptr<projections::CheckpointStore> checkpoints;
  ASSERT_TRUE(projections::CheckpointStore::Open(dir.Sub("projections"), checkpoint_options, &checkpoints).ok());
  ServiceOptions options;
  options.pseudonym_key = std::string(32, 'k');
  options.checkpoints = checkpoints.get();
  Metrics metrics;
  DeclareServerMetrics(metrics);
  {
    LedgerService service(store.get(), options, &metrics);
    ASSERT_TRUE(service.Start().ok());
    // The store takes the second half in batches of 40 while a reader asks as known at the store's head, which
    // makes the service fold what was appended (as an append through the service does), crossing strides.
    std::atomic<bool> appending{true};
    std::atomic<int> answered{0};
    std::thread reader([&] {
      const Principal auditor{"auditor", Role::kAuditor, ""};
      while (appending) {
        projections::Entitlements entitlements;
        const AsOf as_of{"2021-07-15", std::to_string(store->Head().position)};
        if (service.QueryEntitlements(auditor, "P-000004", as_of, false, &entitlements).ok()) ++answered;
      }
    });
    for (size_t begin = half; begin < history.size(); begin += 40) {
      ASSERT_TRUE(store->Append(Batch(history, begin, begin + 40), &result).ok());
    }
    appending = false;
    reader.join();
    EXPECT_GT(answered.load(), 0);
    projections::Entitlements entitlements;
    const AsOf head{"2021-07-15", std::to_string(store->Head().position)};
    ASSERT_TRUE(service.QueryEntitlements(Principal{"auditor", Role::kAuditor, ""}, "P-000004", head, false,
                                          &entitlements).ok());
    EXPECT_EQ(service.VisiblePosition(), history.size());
  }  // the service's snapshot thread finishes what is due before the service is gone
  ASSERT_EQ(store->Head().position, history.size());

  std::vector<projections::CheckpointInfo> snapshots;
  ASSERT_TRUE(checkpoints->List(&snapshots).ok());
  // A stride was crossed every 300 events of the second half; a snapshot is of the model where it stands when
  // the snapshot thread gets to it, at or after the stride, and one due while another is being written is
  // folded into the next: fewer may be written, but the last stride crossed is covered.
  ASSERT_GE(snapshots.size(), 2u);
  EXPECT_GE(snapshots.back().position, history.size() - history.size() % 300);
  EXPECT_LE(snapshots.back().position, history.size());
  for (const projections::CheckpointInfo& snapshot : snapshots) {
    projections::LedgerModel from_snapshot, replayed;
    projections::LoadReport report;
    ASSERT_TRUE(projections::LoadModel(*store, checkpoints.get(), snapshot.position, &from_snapshot, &report).ok());
    EXPECT_EQ(report.snapshot_position, snapshot.position) << "a snapshot the store does not confirm";
    EXPECT_EQ(report.snapshots_discarded, 0u);
    ASSERT_TRUE(projections::ReplayInto(*store, snapshot.position, &replayed).ok());
    EXPECT_EQ(from_snapshot.EncodeSnapshot(), replayed.EncodeSnapshot()) << "snapshot at " << snapshot.position;
  }
  const std::string rendered = metrics.Render();
  EXPECT_NE(rendered.find("\ndi_model_snapshots_total "), std::string::npos) << rendered.substr(0, 3000);
  EXPECT_EQ(rendered.find("\ndi_model_snapshot_failures_total "), std::string::npos) << "a counter seen only once added";
}

// POST /v1/admin/backup's service call: an online backup of the live store while appends go on, into the
// operator's directory; only project, finance and auditor may; off without a directory.
TEST(ServerBackupTest, BackupWhileServingRestoresToTheBackedUpHead) {
  TempDir dir;
  auto store = di::testing::OpenStore(dir.Sub("store"));
  ASSERT_TRUE(di::testing::AppendJson(*store, di::testing::BaseWorld()).ok());
  ServiceOptions options;
  options.pseudonym_key = std::string(32, 'k');
  {
    LedgerService no_directory(store.get(), options, nullptr);
    ASSERT_TRUE(no_directory.Start().ok());
    ledger::BackupResult result;
    EXPECT_EQ(no_directory.Backup({"a", Role::kAuditor, ""}, &result).code(), ledger::StatusCode::kShutdown);
  }
  options.backup_dir = dir.Sub("backups");
  LedgerService service(store.get(), options, nullptr);
  ASSERT_TRUE(service.Start().ok());
  ledger::BackupResult result;
  EXPECT_EQ(service.Backup({"c", Role::kClerk, "M-1"}, &result).code(), ledger::StatusCode::kForbidden);
  EXPECT_EQ(service.Backup({"r", Role::kReader, ""}, &result).code(), ledger::StatusCode::kForbidden);
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    for (int i = 0; i < 200 && !stop; ++i) {
      (void)di::testing::AppendJson(*store, {di::testing::Delivery("bk" + std::to_string(i), "D-bk" + std::to_string(i),
                                                                   "2021-05-" + std::string(i % 28 < 9 ? "0" : "") +
                                                                       std::to_string(1 + i % 28))});
    }
  });
  ledger::Status status = service.Backup({"a", Role::kAuditor, ""}, &result);
  stop = true;
  appender.join();
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_GE(result.head.position, result.head_before.position);
  ledger::RestoreResult restored;
  ASSERT_TRUE(ledger::RestoreBackup(dir.Sub("backups"), result.backup_id, dir.Sub("restored"), &restored).ok());
  EXPECT_EQ(restored.head.position, result.head.position);
  EXPECT_EQ(restored.head.hash, result.head.hash);
}

// A Metrics registry that outlives a service no longer calls into it (the service removes its collector):
// before, Render() after the service was gone read freed memory (found by the fuzzing harness).
TEST(ServerMetricsTest, ARegistryOutlivingItsServiceRendersWithoutIt) {
  TempDir dir;
  auto store = di::testing::OpenStore(dir.Sub("store"));
  ASSERT_TRUE(di::testing::AppendJson(*store, di::testing::BaseWorld()).ok());
  Metrics metrics;
  DeclareServerMetrics(metrics);
  ServiceOptions options;
  options.pseudonym_key = std::string(32, 'k');
  {
    LedgerService service(store.get(), options, &metrics);
    ASSERT_TRUE(service.Start().ok());
    EXPECT_NE(metrics.Render().find("di_projection_position " + std::to_string(store->Head().position)),
              std::string::npos);
  }
  metrics.Set("di_projection_position", {}, 0);
  const std::string text = metrics.Render();  // the gone service's collector would set it back
  EXPECT_NE(text.find("di_projection_position 0"), std::string::npos) << text.substr(0, 1500);
}

}  // namespace
}  // namespace di::server
