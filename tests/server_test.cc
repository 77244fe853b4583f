// The HTTP server end to end: a real server on 127.0.0.1 (ephemeral port) over a real store in a temp dir,
// real sockets, bounded loops. No timing thresholds: timeouts in the options are small so that "dropped" or
// "timed out" happens quickly, and every wait is bounded by a generous deadline.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>  // before Asio (Boost 1.74 + C++20)

#include <boost/beast/http.hpp>

#include "child_process.h"
#include "di/ledger/civil_date.h"
#include "di/projections/funding.h"
#include "di/projections/funding_changes.h"
#include "di/projections/journal_store.h"
#include "di/projections/replay.h"
#include "di/server/http_server.h"
#include "di/server/ledger_service.h"
#include "di/server/metrics.h"
#include "server_fixture.h"
#include "test_util.h"

namespace di::server {
namespace {

namespace http = boost::beast::http;
using di::testing::ChildProcess;
using di::testing::Deliveries;
using di::testing::Delivery;
using di::testing::Get;
using di::testing::kAuditor;
using di::testing::kClerk1;
using di::testing::kClerk2;
using di::testing::kFinance;
using di::testing::kMigration;
using di::testing::kProject;
using di::testing::kReader;
using di::testing::MakeEvent;
using di::testing::Migrated;
using di::testing::Post;
using di::testing::RawClient;
using di::testing::Response;
using di::testing::Send;
using di::testing::TempDir;
using di::testing::TokensJson;
using di::testing::World;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

class ServerTest : public di::testing::ServerFixture {
 protected:
  // Every event id in the log, in position order, through the API (auditor).
  std::vector<std::string> AllIds() {
    std::vector<std::string> ids;
    uint64_t after = 0;
    for (int page = 0; page < 10000; ++page) {
      const json body = Get(port_, "/v1/events?after=" + std::to_string(after), kAuditor).Json();
      for (const auto& event : body["events"]) ids.push_back(event["id"]);
      if (body["next_after"].get<uint64_t>() == after) break;
      after = body["next_after"];
    }
    return ids;
  }
};

TEST_F(ServerTest, HealthAndMetricsNeedNoToken) {
  StartServer();
  Response health = Get(port_, "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.Json()["head_position"], 13);
  EXPECT_EQ(health.Json()["visible_position"], 13);
  Response metrics = Get(port_, "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.content_type.find("text/plain"), std::string::npos);
  EXPECT_NE(metrics.body.find("di_head_position 13"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("di_projection_lag_events 0"), std::string::npos);
  EXPECT_NE(metrics.body.find("di_http_requests_total{route=\"/healthz\",status=\"200\"} 1"), std::string::npos);
}

TEST_F(ServerTest, MissingOrBadTokenIs401) {
  StartServer();
  for (const char* token : {static_cast<const char*>(nullptr), "nope"}) {
    Response response = Get(port_, "/v1/events", token);
    EXPECT_EQ(response.status, 401u);
    EXPECT_EQ(response.Json()["error"]["code"], "unauthenticated");
  }
  Response whoami = Get(port_, "/v1/whoami", kClerk1);
  EXPECT_EQ(whoami.status, 200u);
  EXPECT_EQ(whoami.Json(), (json{{"name", "clerk-m1"}, {"role", "clerk"}, {"municipality", "M-1"}}));
}

TEST_F(ServerTest, AppendIs201ThenRetryIs200WithTheSamePositions) {
  StartServer();
  const std::vector<json> batch = Deliveries("a", 3);
  Response first = Post(port_, batch, kClerk1);
  ASSERT_EQ(first.status, 201u) << first.body;
  EXPECT_EQ(first.Json()["positions"], json({14, 15, 16}));
  EXPECT_EQ(first.Json()["appended"], 3);
  EXPECT_EQ(first.Json()["last_position"], 16);
  Response retry = Post(port_, batch, kClerk1);
  ASSERT_EQ(retry.status, 200u) << retry.body;
  EXPECT_EQ(retry.Json()["positions"], json({14, 15, 16}));
  EXPECT_EQ(retry.Json()["appended"], 0);
  EXPECT_EQ(store_->Head().position, 16u);
  EXPECT_EQ(metrics_.Value("di_appended_events_total"), 3);
  EXPECT_EQ(metrics_.Value("di_appends_total", {{"code", "ok"}}), 2);
}

TEST_F(ServerTest, AppendErrorsNameCodeAndField) {
  StartServer();
  // Invalid: a zero quantity, second event of the batch. Nothing of the batch is appended.
  std::vector<json> batch = Deliveries("b", 2);
  batch[1]["data"]["quantity"] = 0;
  Response invalid = Post(port_, batch, kClerk1);
  EXPECT_EQ(invalid.status, 400u);
  EXPECT_EQ(invalid.Json()["error"]["code"], "invalid_argument");
  EXPECT_EQ(invalid.Json()["error"]["field"], "events[1].data.quantity");
  EXPECT_EQ(invalid.Json()["error"]["event_id"], "b-e1");
  // Codec error (unknown key) names the index too.
  batch = Deliveries("c", 1);
  batch[0]["data"]["colour"] = "red";
  Response unknown = Post(port_, batch, kClerk1);
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_EQ(unknown.Json()["error"]["field"], "events[0].data.colour");
  // Not JSON; not the expected shape; empty.
  Response malformed = Send(port_, http::verb::post, "/v1/events", kClerk1, "{\"events\": [");
  EXPECT_EQ(malformed.status, 400u);
  EXPECT_EQ(malformed.Json()["error"]["field"], "body");
  Response shape = Send(port_, http::verb::post, "/v1/events", kClerk1, "[1,2]");
  EXPECT_EQ(shape.status, 400u);
  EXPECT_EQ(shape.Json()["error"]["field"], "events");
  Response empty = Send(port_, http::verb::post, "/v1/events", kClerk1, "{\"events\":[]}");
  EXPECT_EQ(empty.status, 400u);
  // Same id, different content: 409 duplicate_id.
  ASSERT_EQ(Post(port_, Deliveries("d", 1), kClerk1).status, 201u);
  batch = Deliveries("d", 1);
  batch[0]["data"]["cost_cents"] = 999;
  Response duplicate = Post(port_, batch, kClerk1);
  EXPECT_EQ(duplicate.status, 409u);
  EXPECT_EQ(duplicate.Json()["error"]["code"], "duplicate_id");
  // Wrong expected version: 409 conflict.
  batch = Deliveries("e", 1);
  batch[0]["expected_version"] = 1;  // grant/G-1 is at version 2 or more
  Response conflict = Post(port_, batch, kClerk1);
  EXPECT_EQ(conflict.status, 409u);
  EXPECT_EQ(conflict.Json()["error"]["code"], "conflict");
  EXPECT_EQ(conflict.Json()["error"]["field"], "events[0].expected_version");
  EXPECT_EQ(store_->Head().position, 14u);  // only d-e0 went in
}

TEST_F(ServerTest, ReadsLogStreamAndEvent) {
  StartServer();
  ASSERT_EQ(Post(port_, Deliveries("r", 3), kClerk1).status, 201u);
  json page = Get(port_, "/v1/events?after=10&limit=2", kAuditor).Json();
  ASSERT_EQ(page["events"].size(), 2u);
  EXPECT_EQ(page["events"][0]["position"], 11);
  EXPECT_EQ(page["next_after"], 12);
  EXPECT_EQ(page["head"], 16);
  json filtered = Get(port_, "/v1/events?after=0&types=service_delivered", kAuditor).Json();
  EXPECT_EQ(filtered["events"].size(), 3u);
  json prefixed = Get(port_, "/v1/events?stream_prefix=person/", kAuditor).Json();
  EXPECT_EQ(prefixed["events"].size(), 7u);  // 3 enrolments, assessment, plan, application, decision
  EXPECT_EQ(Get(port_, "/v1/events?types=nope", kAuditor).status, 400u);
  EXPECT_EQ(Get(port_, "/v1/events?after=x", kAuditor).status, 400u);
  EXPECT_EQ(Get(port_, "/v1/events?colour=red", kAuditor).Json()["error"]["field"], "colour");

  json stream = Get(port_, "/v1/streams/grant/G-1?after_version=1", kAuditor).Json();
  EXPECT_EQ(stream["stream"], "grant/G-1");
  ASSERT_EQ(stream["events"].size(), 3u);
  EXPECT_EQ(stream["events"][0]["stream_version"], 2);
  EXPECT_EQ(stream["next_after_version"], 4);
  EXPECT_EQ(Get(port_, "/v1/streams/grant/G-404", kAuditor).status, 404u);

  Response event = Get(port_, "/v1/events/r-e1", kAuditor);
  ASSERT_EQ(event.status, 200u);
  EXPECT_EQ(event.Json()["position"], 15);
  EXPECT_EQ(event.Json()["data"]["delivery_id"], "r-d1");
  EXPECT_EQ(event.Json()["hash"].get<std::string>().size(), 64u);
  Response missing = Get(port_, "/v1/events/none", kAuditor);
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.Json()["error"]["code"], "not_found");
}

TEST_F(ServerTest, UnknownRouteIs404AndWrongMethodIs405) {
  StartServer();
  Response unknown = Get(port_, "/v2/nothing", kAuditor);
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(unknown.Json()["error"]["field"], "path");
  Response method = Send(port_, http::verb::delete_, "/v1/events", kAuditor);
  EXPECT_EQ(method.status, 405u);
  EXPECT_EQ(method.header_allow, "GET, HEAD, POST");
  EXPECT_EQ(method.Json()["error"]["code"], "method_not_allowed");
  EXPECT_EQ(Send(port_, http::verb::post, "/v1/audit/head", kAuditor).status, 405u);
}

TEST_F(ServerTest, QueriesAndReportsInJsonAndCsvAsOfAValidDateAndAKnownAt) {
  StartServer();
  // Child care needs a special-care opinion (VDEAK); then three deliveries, 2021-01-01..03, 120 min each.
  const json opinion = MakeEvent("op-1", "special_care_opinion_recorded", "2020-06-01",
                                 {{"person_id", "P-C1"}, {"valid_from", "2020-06-01"}});
  ASSERT_EQ(Post(port_, {opinion}, kClerk1).status, 201u);  // position 14
  ASSERT_EQ(Post(port_, Deliveries("q", 3), kClerk1).status, 201u);  // 15..17
  json now = Get(port_, "/v1/entitlements/P-C1?valid_at=2021-01-15", kClerk1).Json();
  ASSERT_EQ(now["entitlements"].size(), 1u) << now.dump();
  EXPECT_EQ(now["known_at_position"], 17);
  const json& cap_now = now["entitlements"][0]["caps"];
  json before = Get(port_, "/v1/entitlements/P-C1?valid_at=2021-01-15&known_at=13", kClerk1).Json();
  EXPECT_EQ(before["known_at_position"], 13);
  // As known before the deliveries were recorded, nothing was used yet.
  int64_t used_now = 0, used_before = 0;
  for (const auto& cap : cap_now) used_now += cap["used"].get<int64_t>();
  for (const auto& cap : before["entitlements"][0]["caps"]) used_before += cap["used"].get<int64_t>();
  EXPECT_GT(used_now, 0) << now.dump();
  EXPECT_EQ(used_before, 0);
  Response csv = Get(port_, "/v1/entitlements/P-C1?valid_at=2021-01-15&format=csv", kClerk1);
  EXPECT_EQ(csv.status, 200u);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.rfind("person_id,service,unit,grant_id", 0), 0u) << csv.body;
  EXPECT_NE(csv.body.find("P-C1,child_care,minutes,G-1"), std::string::npos);
  json explained = Get(port_, "/v1/entitlements/P-C1?valid_at=2021-01-15&explain=true", kClerk1).Json();
  EXPECT_EQ(explained["deliveries"].size(), 3u);

  for (const std::string report : {"funding", "reconciliation", "indicators"}) {
    Response json_report = Get(port_, "/v1/reports/" + report + "?valid_at=2021-02-01", kFinance);
    EXPECT_EQ(json_report.status, 200u) << report << ": " << json_report.body;
    EXPECT_FALSE(json_report.Json().is_discarded());
    Response csv_report = Get(port_, "/v1/reports/" + report + "?valid_at=2021-02-01&format=csv", kFinance);
    EXPECT_EQ(csv_report.status, 200u) << report;
    EXPECT_EQ(csv_report.content_type, "text/csv; charset=utf-8");
  }
  // Reconciliation as CSV: one of three tables; JSON holds them all.
  for (const std::string table : {"claims", "lines", "payments"}) {
    Response csv_table = Get(port_, "/v1/reports/reconciliation?format=csv&table=" + table, kFinance);
    EXPECT_EQ(csv_table.status, 200u) << table << ": " << csv_table.body;
    EXPECT_EQ(csv_table.body.rfind(table == "payments" ? "claim_id,municipality_id,payment_id," : "claim_id,", 0), 0u)
        << csv_table.body;
  }
  EXPECT_EQ(Get(port_, "/v1/reports/reconciliation?format=csv&table=months", kFinance).Json()["error"]["field"], "table");
  EXPECT_EQ(Get(port_, "/v1/reports/reconciliation?table=claims", kFinance).Json()["error"]["field"], "table");
  json funding = Get(port_, "/v1/reports/funding?valid_at=2021-02-01&group_by=municipality", kFinance).Json();
  EXPECT_EQ(funding["totals"]["delivered_cents"], 3 * 1400) << funding.dump();
  json funding_before =
      Get(port_, "/v1/reports/funding?valid_at=2021-02-01&group_by=municipality&known_at=13", kFinance).Json();
  EXPECT_EQ(funding_before["totals"]["delivered_cents"], 0);
  // What changed since position 13: the three deliveries, each named with the event that recorded it.
  json changes = Get(port_, "/v1/reports/changes?valid_at=2021-02-01&group_by=municipality&known_at=13", kFinance).Json();
  EXPECT_EQ(changes["totals_at_known_at"], funding_before["totals"]) << changes.dump();
  EXPECT_EQ(changes["totals_at_to"], funding["totals"]) << changes.dump();
  ASSERT_EQ(changes["rows"].size(), 1u) << changes.dump();
  ASSERT_EQ(changes["rows"][0]["moves"].size(), 3u) << changes.dump();
  ASSERT_EQ(changes["events"].size(), 3u) << changes.dump();
  for (const json& event : changes["events"]) EXPECT_EQ(event["type"], "service_delivered") << event.dump();
  EXPECT_EQ(Get(port_, "/v1/reports/changes?group_by=municipality", kFinance).Json()["error"]["field"], "known_at");
  EXPECT_EQ(Get(port_, "/v1/reports/changes?known_at=14&to=13", kFinance).Json()["error"]["field"], "to");
  EXPECT_EQ(Get(port_, "/v1/reports/changes?known_at=13&to=soon", kFinance).Json()["error"]["field"], "to");
  EXPECT_EQ(Get(port_, "/v1/reports/changes?known_at=13&group_by=colour", kFinance).Json()["error"]["field"], "group_by");
  EXPECT_EQ(Get(port_, "/v1/reports/changes?known_at=13", kReader).status, 403u);
  // Parameter errors.
  EXPECT_EQ(Get(port_, "/v1/entitlements/P-C1?valid_at=2021-02-30", kClerk1).Json()["error"]["field"], "valid_at");
  EXPECT_EQ(Get(port_, "/v1/entitlements/P-C1?known_at=999", kClerk1).Json()["error"]["field"], "known_at");
  EXPECT_EQ(Get(port_, "/v1/entitlements/P-C1?format=xml", kClerk1).status, 400u);
  EXPECT_EQ(Get(port_, "/v1/reports/funding?group_by=colour", kFinance).Json()["error"]["field"], "group_by");
  EXPECT_EQ(Get(port_, "/v1/entitlements/P-NOBODY", kAuditor).status, 404u);
  // The past-known-at entitlements came from the person's streams, the past-known-at funding from a replay.
  EXPECT_GE(metrics_.Value("di_model_scoped_loads_total"), 1);
  EXPECT_GE(metrics_.Value("di_model_replays_total"), 1);
  // The funding reports as known now came from the live funding journal.
  EXPECT_GE(metrics_.Value("di_funding_from_journal_total"), 3);
}

// With a journal store, funding as known at a past position is read from it (an image and the records after it),
// and equals the naive fold's report at that position; a restarted server resumes the store where it stood.
TEST_F(ServerTest, PastKnownAtFundingComesFromTheJournalStoreAndEqualsTheNaiveFold) {
  std::unique_ptr<projections::JournalStore> journal;
  projections::JournalStoreOptions journal_options;
  journal_options.image_stride = 4;  // several images in a short log
  ASSERT_TRUE(projections::JournalStore::Open(dir_.path() + "/journal", journal_options, &journal).ok());
  server::ServiceOptions service_options;
  service_options.journal_store = journal.get();
  StartServer({}, service_options);
  const json opinion = MakeEvent("op-1", "special_care_opinion_recorded", "2020-06-01",
                                 {{"person_id", "P-C1"}, {"valid_from", "2020-06-01"}});
  ASSERT_EQ(Post(port_, {opinion}, kClerk1).status, 201u);          // position 14
  ASSERT_EQ(Post(port_, Deliveries("j", 3), kClerk1).status, 201u);  // 15..17
  // The server starts the journal on a thread of its own and brings the store up to the head; answers meanwhile come
  // from folds. Bounded wait: 10 s.
  auto wait_for_store = [&](uint64_t position) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (journal->position() < position && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  ASSERT_EQ(Get(port_, "/v1/reports/funding?valid_at=2021-02-01", kFinance).status, 200u);
  wait_for_store(17);
  EXPECT_EQ(journal->position(), 17u);
  EXPECT_EQ(metrics_.Value("di_journal_projected_position"), 17);
  ASSERT_EQ(Post(port_, Deliveries("k", 2), kClerk1).status, 201u);  // 18..19: recorded as the projector folds them
  wait_for_store(19);
  EXPECT_EQ(journal->position(), 19u);
  auto check_past = [&](uint64_t known_at) {
    SCOPED_TRACE("known at " + std::to_string(known_at));
    projections::LedgerModel model;
    ASSERT_TRUE(projections::LoadModel(*store_, nullptr, known_at, &model).ok());
    for (const std::string group_by : {"municipality", "service,month", "", "provider,mode,month"}) {
      for (bool explain : {false, true}) {  // explained: the events per row from the store's line facts and claims
        projections::FundingQuery query;
        std::stringstream dimensions(group_by);
        for (std::string dimension; std::getline(dimensions, dimension, ',');) query.group_by.push_back(dimension);
        query.explain = explain;
        projections::FundingReport naive;
        ASSERT_TRUE(projections::ComputeFunding(model, ledger::DaysFromCivil(2021, 2, 1), query, &naive).ok());
        const json served = Get(port_, "/v1/reports/funding?valid_at=2021-02-01&known_at=" + std::to_string(known_at) +
                                           (group_by.empty() ? "" : "&group_by=" + group_by) +
                                           (explain ? "&explain=true" : ""), kFinance).Json();
        EXPECT_EQ(served.dump(), json(projections::FundingToJson(naive)).dump()) << group_by << " " << explain;
      }
    }
    // Entitlements as known then: the family's facts folded, the caps' usage (explained: the decisions) from the
    // store's records.
    if (model.FindPerson("P-C1") != nullptr) {
      for (const char* valid_at : {"2021-01-02", "2021-01-15"}) {
        for (bool explain : {false, true}) {
          projections::Entitlements naive;
          int32_t valid_date = 0;
          ASSERT_TRUE(ledger::ParseDate(valid_at, &valid_date));
          ASSERT_TRUE(projections::ComputeEntitlements(model, "P-C1", valid_date, &naive, explain).ok());
          const json served = Get(port_, "/v1/entitlements/P-C1?valid_at=" + std::string(valid_at) + "&known_at=" +
                                             std::to_string(known_at) + (explain ? "&explain=true" : ""),
                                  kClerk1).Json();
          EXPECT_EQ(served.dump(), json(projections::EntitlementsToJson(naive)).dump()) << valid_at << " " << explain;
        }
      }
    }
  };
  const double replays_before = metrics_.Value("di_model_replays_total");
  const double scoped_before = metrics_.Value("di_model_scoped_loads_total");
  for (uint64_t known_at : {3u, 13u, 15u, 16u, 18u}) check_past(known_at);
  EXPECT_EQ(metrics_.Value("di_model_scoped_loads_total"), scoped_before);  // no family's deliveries folded
  EXPECT_EQ(metrics_.Value("di_entitlements_from_journal_total", {{"journal", "store"}}), 16);
  {
    // As known now: the caps' usage and the decisions from the live journal, which the store's start began; the
    // funding report's events per row from the live model's facts.
    projections::LedgerModel model;
    ASSERT_TRUE(projections::LoadModel(*store_, nullptr, projections::kKnownNow, &model).ok());
    const double funding_before = metrics_.Value("di_funding_from_journal_total");
    for (bool explain : {false, true}) {
      projections::Entitlements naive;
      ASSERT_TRUE(
          projections::ComputeEntitlements(model, "P-C1", ledger::DaysFromCivil(2021, 1, 15), &naive, explain).ok());
      EXPECT_EQ(Get(port_, std::string("/v1/entitlements/P-C1?valid_at=2021-01-15") + (explain ? "&explain=true" : ""),
                    kClerk1).Json().dump(),
                json(projections::EntitlementsToJson(naive)).dump());
      projections::FundingQuery query;
      query.explain = explain;
      projections::FundingReport funding;
      ASSERT_TRUE(projections::ComputeFunding(model, ledger::DaysFromCivil(2021, 2, 1), query, &funding).ok());
      EXPECT_EQ(Get(port_, std::string("/v1/reports/funding?valid_at=2021-02-01") + (explain ? "&explain=true" : ""),
                    kFinance).Json().dump(),
                json(projections::FundingToJson(funding)).dump());
      if (explain) {
        EXPECT_EQ(naive.deliveries.size(), 5u);  // j-d0..2, k-d0..1
        ASSERT_FALSE(funding.rows.empty());
        EXPECT_FALSE(funding.rows[0].positions.empty());
      }
    }
    EXPECT_EQ(metrics_.Value("di_entitlements_from_journal_total", {{"journal", "live"}}), 2);
    EXPECT_EQ(metrics_.Value("di_funding_from_journal_total"), funding_before + 2);
  }
  // What changed between two positions: from the store's records, as from a journal followed from A.
  for (const auto& [from, to] : std::vector<std::pair<uint64_t, uint64_t>>{{3, 19}, {13, 16}, {16, 16}}) {
    projections::FundingChangesQuery query;
    query.from_position = from;
    query.to_position = to;
    query.valid_date = ledger::DaysFromCivil(2021, 2, 1);
    query.funding.group_by = {"municipality"};
    projections::FundingChangesReport followed;
    ASSERT_TRUE(projections::ComputeFundingChanges(*store_, nullptr, query, &followed).ok());
    const json served = Get(port_, "/v1/reports/changes?valid_at=2021-02-01&group_by=municipality&known_at=" +
                                       std::to_string(from) + "&to=" + std::to_string(to), kFinance).Json();
    EXPECT_EQ(served.dump(), json(projections::FundingChangesToJson(followed)).dump()) << from << ".." << to;
  }
  EXPECT_EQ(metrics_.Value("di_model_replays_total"), replays_before);  // no model folded for them
  // 5 positions x 4 groupings x explained or not, and the 3 changes reports (their figures at A)
  EXPECT_EQ(metrics_.Value("di_funding_from_journal_store_total"), 43);
  // A restarted server resumes the store where it stands and goes on recording.
  server_.reset();
  service_.reset();
  StartServer({}, service_options);
  wait_for_store(19);
  ASSERT_EQ(Post(port_, Deliveries("m", 1), kClerk1).status, 201u);  // 20
  check_past(19);
  EXPECT_EQ(journal->position(), 20u);
  check_past(20);
}

// Reconciliation and indicators as known now come from the live journal, as known at a past position from the journal
// store (the claims, or the projects and municipalities, folded; each line's or person's facts read): both equal the
// naive fold at every position of a claim's life (its deliveries, the claim, a correction and a void of claimed
// deliveries, the review, a payment).
TEST_F(ServerTest, ReconciliationAndIndicatorsComeFromTheJournalAndEqualTheNaiveFoldAtEveryPosition) {
  std::unique_ptr<projections::JournalStore> journal;
  projections::JournalStoreOptions journal_options;
  journal_options.image_stride = 4;
  ASSERT_TRUE(projections::JournalStore::Open(dir_.path() + "/journal", journal_options, &journal).ok());
  server::ServiceOptions service_options;
  service_options.journal_store = journal.get();
  StartServer({}, service_options);
  const json opinion = MakeEvent("op-1", "special_care_opinion_recorded", "2020-06-01",
                                 {{"person_id", "P-C1"}, {"valid_from", "2020-06-01"}});
  ASSERT_EQ(Post(port_, {opinion}, kClerk1).status, 201u);          // 14
  ASSERT_EQ(Post(port_, Deliveries("j", 3), kClerk1).status, 201u);  // 15..17
  json lines = json::array();
  for (const char* id : {"j-d0", "j-d1", "j-d2"}) lines.push_back({{"delivery_id", id}, {"amount_cents", 1400}});
  ASSERT_EQ(Post(port_, {MakeEvent("rc-claim", "reimbursement_claimed", "2021-02-10",
                                   {{"claim_id", "C-2021-01-M1"}, {"project_id", "PR-1"}, {"municipality_id", "M-1"},
                                    {"period_start", "2021-01-01"}, {"period_end", "2021-01-31"}, {"lines", lines},
                                    {"total_cents", 4200}})},
                 kFinance).status,
            201u);  // 18
  ASSERT_EQ(Post(port_, {MakeEvent("rc-fix", "delivery_corrected", "2021-02-12",
                                   {{"delivery_id", "j-d1"}, {"quantity", 20}, {"cost_cents", 700}, {"reason", "timesheet"}})},
                 kClerk1).status,
            201u);  // 19
  ASSERT_EQ(Post(port_, {MakeEvent("rc-void", "delivery_voided", "2021-02-13",
                                   {{"delivery_id", "j-d2"}, {"reason", "did not happen"}})},
                 kClerk1).status,
            201u);  // 20
  json review = json::array();
  review.push_back({{"delivery_id", "j-d0"}, {"accepted", true}, {"approved_cents", 1400}});
  review.push_back({{"delivery_id", "j-d1"}, {"accepted", true}, {"approved_cents", 700}, {"reason", "corrected"}});
  review.push_back({{"delivery_id", "j-d2"}, {"accepted", false}, {"approved_cents", 0}, {"reason", "voided"}});
  const Response reviewed = Post(port_, {MakeEvent("rc-review", "claim_reviewed", "2021-02-20",
                                                   {{"claim_id", "C-2021-01-M1"}, {"lines", review},
                                                    {"approved_total_cents", 2100}})},
                                 kProject);
  ASSERT_EQ(reviewed.status, 201u) << reviewed.body;  // 21
  const Response paid = Post(port_, {MakeEvent("rc-pay", "reimbursement_paid", "2021-03-01",
                                               {{"claim_id", "C-2021-01-M1"}, {"payment_id", "PAY-1"},
                                                {"amount_cents", 2100}, {"esf_cents", 1785}, {"state_cents", 315}})},
                             kFinance);
  ASSERT_EQ(paid.status, 201u) << paid.body;  // 22
  // Known now first: the journal starts on the live model and brings the store up to the head. Bounded wait: 10 s.
  auto naive_at = [&](uint64_t known_at, const char* valid_at) {
    projections::LedgerModel model;
    EXPECT_TRUE(projections::LoadModel(*store_, nullptr, known_at, &model).ok());
    int32_t valid_date = 0;
    EXPECT_TRUE(ledger::ParseDate(valid_at, &valid_date));
    std::vector<projections::ClaimReconciliation> claims;
    EXPECT_TRUE(projections::ComputeReconciliation(model, valid_date, {}, &claims).ok());
    return json(projections::ReconciliationToJson(claims, valid_date, model.last_position())).dump();
  };
  const json now = Get(port_, "/v1/reports/reconciliation?valid_at=2021-03-31", kFinance).Json();
  EXPECT_EQ(now.dump(), naive_at(22, "2021-03-31"));
  ASSERT_EQ(now["claims"].size(), 1u) << now.dump();
  EXPECT_EQ(now["claims"][0]["lines"].size(), 3u) << now.dump();
  EXPECT_EQ(metrics_.Value("di_reconciliation_from_journal_total", {{"journal", "live"}}), 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (journal->position() < 22 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(journal->position(), 22u);
  // Indicators too: the persons' facts from the journal, the first day receiving services from its decisions.
  auto naive_indicators_at = [&](uint64_t known_at, const char* valid_at) {
    projections::LedgerModel model;
    EXPECT_TRUE(projections::LoadModel(*store_, nullptr, known_at, &model).ok());
    int32_t valid_date = 0;
    EXPECT_TRUE(ledger::ParseDate(valid_at, &valid_date));
    projections::IndicatorsReport report;
    EXPECT_TRUE(projections::ComputeIndicators(model, valid_date, "", "", &report).ok());
    return json(projections::IndicatorsToJson(report)).dump();
  };
  const json indicators_now = Get(port_, "/v1/reports/indicators?valid_at=2021-03-31", kFinance).Json();
  EXPECT_EQ(indicators_now.dump(), naive_indicators_at(22, "2021-03-31"));
  EXPECT_EQ(metrics_.Value("di_indicators_from_journal_total", {{"journal", "live"}}), 1);
  for (uint64_t known_at = 1; known_at < 22; ++known_at) {
    for (const char* valid_at : {"2021-01-02", "2021-02-15", "2021-03-31"}) {
      const json served = Get(port_, "/v1/reports/reconciliation?valid_at=" + std::string(valid_at) +
                                         "&known_at=" + std::to_string(known_at), kFinance).Json();
      EXPECT_EQ(served.dump(), naive_at(known_at, valid_at)) << "known at " << known_at << ", valid at " << valid_at;
      const json indicators = Get(port_, "/v1/reports/indicators?valid_at=" + std::string(valid_at) +
                                             "&known_at=" + std::to_string(known_at), kFinance).Json();
      EXPECT_EQ(indicators.dump(), naive_indicators_at(known_at, valid_at))
          << "known at " << known_at << ", valid at " << valid_at;
    }
  }
  EXPECT_EQ(metrics_.Value("di_reconciliation_from_journal_total", {{"journal", "store"}}), 63);
  EXPECT_EQ(metrics_.Value("di_indicators_from_journal_total", {{"journal", "store"}}), 63);
  // One claim as known between its correction and its void: the voided line is still live, the corrected one's
  // eligible figure is the corrected cost.
  const json one = Get(port_, "/v1/reports/reconciliation?claim=C-2021-01-M1&known_at=19&valid_at=2021-02-15",
                       kClerk1).Json();
  ASSERT_EQ(one["claims"].size(), 1u) << one.dump();
  EXPECT_EQ(one["claims"][0]["lines"][1]["delivery_id"], "j-d1");
  EXPECT_EQ(one["claims"][0]["lines"][1]["eligible_cents"], 700) << one.dump();
  EXPECT_EQ(one["claims"][0]["lines"][2]["eligible_cents"], 1400) << one.dump();
}

// An append is acknowledged once durable; the projector thread folds it into the live model (and the journal) without
// any read asking for it, and a read right after the acknowledgement sees it (it folds what is behind itself).
TEST_F(ServerTest, TheProjectorFoldsAcknowledgedAppendsAndAReadSeesThemAtOnce) {
  StartServer();
  ASSERT_EQ(Post(port_, Deliveries("p", 3), kClerk1).status, 201u);  // 14..16
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (service_->VisiblePosition() < 16 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(service_->VisiblePosition(), 16u);  // no request asked: the projector did
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(Post(port_, Deliveries("r" + std::to_string(i), 1), kClerk1).status, 201u);
    const json page = Get(port_, "/v1/events?after=" + std::to_string(16 + i), kClerk1).Json();
    ASSERT_EQ(page["events"].size(), 1u) << page.dump();  // read your write, whoever folded it
    EXPECT_EQ(page["events"][0]["position"], 17 + i);
  }
}

// Back-pressure: an append that finds the projector more than max_projection_lag_events behind is acknowledged only
// once it is within the bound again, so a read never has more than that to fold.
TEST_F(ServerTest, AppendsWaitForAProjectorFartherBehindThanTheBound) {
  server::ServiceOptions service_options;
  service_options.max_projection_lag_events = 2;
  StartServer({}, service_options);
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(Post(port_, Deliveries("lag" + std::to_string(i), 50), kClerk1).status, 201u);
    EXPECT_GE(service_->VisiblePosition() + 2, store_->Head().position) << "after append " << i;
  }
}

TEST_F(ServerTest, AuditHeadAndVerifyRange) {
  StartServer();
  json head = Get(port_, "/v1/audit/head", kReader).Json();
  EXPECT_EQ(head["position"], 13);
  EXPECT_EQ(head["hash"], ledger::HashToHex(store_->Head().hash));
  json all = Get(port_, "/v1/audit/verify", kAuditor).Json();
  EXPECT_EQ(all["ok"], true);
  EXPECT_EQ(all["events_checked"], 13);
  EXPECT_EQ(all["hash"], head["hash"]);
  json part = Get(port_, "/v1/audit/verify?from=5&to=13", kAuditor).Json();
  EXPECT_EQ(part["events_checked"], 9);
  EXPECT_EQ(part["hash"], head["hash"]);
  EXPECT_EQ(Get(port_, "/v1/audit/verify?from=5&to=14", kAuditor).Json()["error"]["field"], "to");
  EXPECT_EQ(Get(port_, "/v1/audit/verify?from=9&to=3", kAuditor).Json()["error"]["field"], "from");
  EXPECT_EQ(Get(port_, "/v1/audit/verify", kClerk1).status, 403u);
}

TEST_F(ServerTest, ClerkWritesAndReadsOnlyItsOwnResidents) {
  StartServer();
  // M-1's clerk records a delivery for P-C1 (resident of M-1); M-2's clerk may not.
  EXPECT_EQ(Post(port_, Deliveries("own", 1), kClerk1).status, 201u);
  Response denied = Post(port_, Deliveries("other", 1), kClerk2);
  EXPECT_EQ(denied.status, 403u);
  EXPECT_EQ(denied.Json()["error"]["code"], "forbidden");
  EXPECT_EQ(denied.Json()["error"]["field"], "events[0].data.grant_id");
  EXPECT_NE(denied.Json()["error"]["message"].get<std::string>().find("P-C1"), std::string::npos);
  // A grant to P-A1 (resident of M-2) in M-1's name: M-1's clerk is refused for the person, M-2's for the
  // municipality it names.
  json grant = MakeEvent("g2", "service_granted", "2021-01-05",
                         {{"grant_id", "G-2"}, {"person_id", "P-A1"}, {"municipality_id", "M-1"},
                          {"service", "adult_day_centre"}, {"quantity", 20}, {"period", "month"},
                          {"valid_from", "2021-01-05"}, {"valid_until", "2021-12-31"}, {"cost_basis", "actual_cost"}});
  EXPECT_EQ(Post(port_, {grant}, kClerk1).Json()["error"]["field"], "events[0].data.person_id");
  EXPECT_EQ(Post(port_, {grant}, kClerk2).Json()["error"]["field"], "events[0].data.municipality_id");
  grant["data"]["municipality_id"] = "M-2";
  // Within one batch: a grant to their resident, then a delivery under it (resolved from the batch).
  json delivery = Delivery("g2-d1", "G2-D1", "2021-01-06");
  delivery["data"]["grant_id"] = "G-2";
  delivery["data"].erase("purpose");
  delivery["data"]["quantity"] = 1;
  Response batch = Post(port_, {grant, delivery}, kClerk2);
  EXPECT_EQ(batch.status, 201u) << batch.body;
  // Unknown references are refused (never "not known to be ours" passes as ours).
  json stray = Delivery("stray", "S-1", "2021-01-07");
  stray["data"]["grant_id"] = "G-404";
  EXPECT_EQ(Post(port_, {stray}, kClerk1).status, 403u);
  // Not a clerk's event type at all.
  json expense = MakeEvent("x1", "project_expense_recorded", "2021-01-01",
                           {{"project_id", "PR-1"}, {"expense_id", "X-1"}, {"category", "camp"}, {"amount_cents", 100}});
  Response type_denied = Post(port_, {expense}, kClerk1);
  EXPECT_EQ(type_denied.Json()["error"]["field"], "events[0].type");

  // Reads: M-2's clerk sees neither P-C1's records nor grant G-1's deliveries.
  EXPECT_EQ(Get(port_, "/v1/streams/person/P-C1", kClerk2).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/streams/grant/G-1", kClerk2).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/events/own-e0", kClerk2).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/events/own-e0", kClerk1).status, 200u);
  EXPECT_EQ(Get(port_, "/v1/entitlements/P-C1", kClerk2).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/entitlements/P-A1", kClerk2).status, 200u);
  EXPECT_EQ(Get(port_, "/v1/reports/funding?municipality=M-1", kClerk2).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/reports/changes?known_at=1&municipality=M-1", kClerk2).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/reports/funding", kClerk2).status, 200u);
  std::set<std::string> seen_by_m2;
  const Response log = Get(port_, "/v1/events", kClerk2);
  ASSERT_EQ(log.status, 200u) << log.body;
  const json log_json = log.Json();  // named: a range-for over a temporary's member would dangle
  for (const auto& event : log_json["events"]) seen_by_m2.insert(event["id"].get<std::string>());
  EXPECT_TRUE(seen_by_m2.count("e-adult") && seen_by_m2.count("g2") && seen_by_m2.count("e-m1"))  // own + reference
      << json(seen_by_m2).dump();
  EXPECT_FALSE(seen_by_m2.count("e-child") || seen_by_m2.count("e-g1") || seen_by_m2.count("own-e0") ||
               seen_by_m2.count("e-ap1"));
  // Every 403 was counted.
  EXPECT_EQ(metrics_.Value("di_http_denied_total", {{"route", "/v1/events"}, {"role", "clerk"}}), 5);
  EXPECT_GE(metrics_.Value("di_http_denied_total", {{"route", "/v1/streams/{stream}"}, {"role", "clerk"}}), 2);
}

TEST_F(ServerTest, RolesWriteOnlyTheirEventTypes) {
  StartServer();
  const json enrol = MakeEvent("enrol-9", "person_enrolled", "2021-01-01",
                               {{"person_id", "P-9"}, {"project_id", "PR-1"}, {"target_group", "adult_mental_disability"},
                                {"birth_date", "1980-01-01"}, {"residence_municipality_id", "M-2"}});
  EXPECT_EQ(Post(port_, {enrol}, kAuditor).status, 403u);
  EXPECT_EQ(Post(port_, {enrol}, kReader).status, 403u);
  EXPECT_EQ(Post(port_, {enrol}, kFinance).status, 403u);
  EXPECT_EQ(Post(port_, {enrol}, kClerk2).status, 403u);
  EXPECT_EQ(Post(port_, {enrol}, kProject).status, 201u);
  EXPECT_EQ(Post(port_, Deliveries("p", 1), kProject).status, 403u);  // deliveries are the clerk's
  EXPECT_EQ(Get(port_, "/v1/streams/person/P-9", kReader).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/reports/funding", kReader).status, 403u);
  EXPECT_EQ(Get(port_, "/v1/events/enrol-9", kAuditor).status, 200u);
}

TEST_F(ServerTest, ReaderGetsPseudonymisedEvents) {
  StartServer();
  json page = Get(port_, "/v1/events?after=0", kReader).Json();
  ASSERT_EQ(page["events"].size(), 13u);
  std::string text;
  for (size_t i = 1; i < page["events"].size(); ++i) text += page["events"][i].dump();  // [0]: the rules
  for (const char* secret : {"P-C1", "P-P1", "P-A1", "G-1", "AP-1", "AS-1", "PL-1", "2018-03-15", "e-child"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " leaked: " << text;
  }
  const json& child = page["events"][5];
  ASSERT_EQ(child["type"], "person_enrolled");
  EXPECT_EQ(child["data"]["birth_date"], "2018");
  EXPECT_EQ(child["data"]["residence_municipality_id"], "M-1");
  EXPECT_FALSE(child.contains("hash"));
  // The same person has the same pseudonym everywhere (read models can join), never the ledger's id.
  const std::string child_pseudonym = child["data"]["person_id"];
  EXPECT_EQ(child_pseudonym, service_->Pseudonym("person", "P-C1"));
  EXPECT_EQ(page["events"][6]["data"]["representative"]["child_ids"][0], child_pseudonym);
  EXPECT_EQ(page["events"][12]["data"]["person_id"], child_pseudonym);  // the grant
  EXPECT_EQ(child["stream"], "person/" + child_pseudonym);
  EXPECT_EQ(page["events"][1]["data"]["project_id"], "PR-1");  // not personal: kept
}

// A rules document nested ~100 000 levels deep (~400 KB) crashed the server (SIGSEGV: serialising it recursed once
// per level) for any token, the reader's included, since the body was decoded before the role was checked.
std::string DeeplyNestedRulesAppend(int levels) {
  std::string document;
  for (int i = 0; i < levels; ++i) document += "{\"a\":";
  document += "1";
  document.append(static_cast<size_t>(levels), '}');
  return "{\"events\":[{\"id\":\"deep-1\",\"type\":\"rules_enacted\",\"effective_date\":\"2021-01-01\",\"actor\":\"t\","
         "\"data\":{\"rule_set_id\":\"R-DEEP\",\"title\":\"deep\",\"document\":" +
         document + "}}]}";
}

TEST_F(ServerTest, DeeplyNestedInputIsRefusedNamingTheFieldAndTheServerKeepsServing) {
  StartServer();
  const std::string deep = DeeplyNestedRulesAppend(100000);
  // The reader may not append: refused before its body is parsed (the body here is not even JSON).
  EXPECT_EQ(Send(port_, http::verb::post, "/v1/events", kReader, deep).status, 403u);
  EXPECT_EQ(Send(port_, http::verb::post, "/v1/events", kReader, "{not json").status, 403u);
  // The project role may enact rules: a 400 naming the document, and the server still answers.
  const Response refused = Send(port_, http::verb::post, "/v1/events", kProject, deep);
  ASSERT_EQ(refused.status, 400u) << refused.body;
  const json error = refused.Json()["error"];
  EXPECT_EQ(error["field"].get<std::string>().rfind("events[0].data.document.a", 0), 0u) << error.dump();
  EXPECT_NE(error["message"].get<std::string>().find("deeper than 64 levels"), std::string::npos) << error.dump();
  // A body that is only brackets, 4 MiB of them.
  const Response brackets =
      Send(port_, http::verb::post, "/v1/events", kProject, std::string(4 << 20, '[') + std::string(4 << 20, ']'));
  EXPECT_EQ(brackets.status, 400u);
  EXPECT_EQ(brackets.Json()["error"]["field"].get<std::string>().rfind("body[0][0]", 0), 0u) << brackets.body;
  // Exactly at the bound: the body's own 4 levels (body, events, event, data) + the document's 60 = 64 levels;
  // one more is refused. (Such a document is not a rule set: it is recorded, and the projections ignore it.)
  EXPECT_EQ(Send(port_, http::verb::post, "/v1/events", kProject, DeeplyNestedRulesAppend(61)).status, 400u);
  const Response at_bound = Send(port_, http::verb::post, "/v1/events", kProject, DeeplyNestedRulesAppend(60));
  EXPECT_EQ(at_bound.status, 201u) << at_bound.body;
  EXPECT_EQ(Get(port_, "/healthz").status, 200u);
  EXPECT_EQ(Get(port_, "/v1/events/deep-1", kAuditor).status, 200u);  // the recorded one reads back
}

TEST_F(ServerTest, ActorWithAControlCharacterIsRefusedNeverStoredTruncated) {
  StartServer();
  json event = Deliveries("nul", 1)[0];
  event["actor"] = std::string("clerk\0-hidden", 13);
  Response refused = Post(port_, {event}, kClerk1);
  ASSERT_EQ(refused.status, 400u) << refused.body;
  EXPECT_EQ(refused.Json()["error"]["field"], "events[0].actor");
  EXPECT_NE(refused.Json()["error"]["message"].get<std::string>().find("U+0000"), std::string::npos);
  event["actor"] = "clerk\nsecond line";
  EXPECT_EQ(Post(port_, {event}, kClerk1).Json()["error"]["field"], "events[0].actor");
  event["actor"] = "clerk";
  ASSERT_EQ(Post(port_, {event}, kClerk1).status, 201u);
  // Free text may hold a line break, never a NUL.
  json voided = MakeEvent("nul-void", "delivery_voided", "2021-02-01",
                          {{"delivery_id", "nul-d0"}, {"reason", std::string("first\0second", 12)}});
  EXPECT_EQ(Post(port_, {voided}, kClerk1).Json()["error"]["field"], "events[0].data.reason");
  voided["data"]["reason"] = "first line\nsecond line";
  ASSERT_EQ(Post(port_, {voided}, kClerk1).status, 201u);
  EXPECT_EQ(Get(port_, "/v1/events/nul-void", kAuditor).Json()["data"]["reason"], "first line\nsecond line");
}

TEST_F(ServerTest, ReaderFiltersOnlyInPseudonymSpace) {
  // A natural-person provider (its name and register number are personal data) and a grant it delivers under.
  ASSERT_TRUE(di::testing::AppendJson(*store_, {MakeEvent("e-pv2", "provider_registered", "2016-01-10",
                                                          {{"provider_id", "PV-JANIS"},
                                                           {"name", "Jānis Bērziņš"},
                                                           {"kind", "natural_person"},
                                                           {"registers", {{{"register", "social_service_providers"},
                                                                           {"registration_number", "SP-77777"}}}}})})
                  .ok());
  StartServer();
  // A real id in the prefix is refused by its shape, whether or not the person exists: no answer depends on it.
  for (const char* prefix : {"person/P-C1", "person/P-NOBODY", "grant/G-1", "provider/PV-JANIS", "person/ps-zz"}) {
    const Response events = Get(port_, std::string("/v1/events?stream_prefix=") + prefix, kReader);
    EXPECT_EQ(events.status, 400u) << prefix;
    EXPECT_EQ(events.Json()["error"]["field"], "stream_prefix");
    RawClient subscriber(port_);
    unsigned status = 0;
    ASSERT_TRUE(subscriber.Subscribe(std::string("/v1/subscribe?stream_prefix=") + prefix, kReader, &status));
    EXPECT_EQ(status, 400u) << prefix;
  }
  // In pseudonym space the filter works: the child's pseudonymous stream, and every person stream.
  const std::string child = "person/" + service_->Pseudonym("person", "P-C1");
  const json own = Get(port_, "/v1/events?stream_prefix=" + child, kReader).Json();
  ASSERT_EQ(own["events"].size(), 3u) << own.dump();  // enrolment, application, decision
  for (const auto& event : own["events"]) EXPECT_EQ(event["stream"], child);
  const size_t person_events = Get(port_, "/v1/events?stream_prefix=person/", kAuditor).Json()["events"].size();
  EXPECT_EQ(person_events, 7u);
  EXPECT_EQ(Get(port_, "/v1/events?stream_prefix=person/", kReader).Json()["events"].size(), person_events);
  EXPECT_EQ(Get(port_, "/v1/events?stream_prefix=person/ps-", kReader).Json()["events"].size(), person_events);
  // Other roles filter by the ledger's names as before.
  EXPECT_EQ(Get(port_, "/v1/events?stream_prefix=person/P-C1", kAuditor).Json()["events"].size(), 3u);
  // Providers: every provider id is pseudonymised; a natural person's name and register number are dropped, a
  // legal person's kept.
  const json page = Get(port_, "/v1/events?types=provider_registered,service_granted", kReader).Json();
  const std::string text = page.dump();
  for (const char* secret : {"PV-JANIS", "Jānis", "SP-77777", "PV-1"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " leaked: " << text;
  }
  EXPECT_NE(text.find("Biedrība Cerību sala"), std::string::npos);
  EXPECT_NE(text.find("SP-123"), std::string::npos);
  EXPECT_EQ(page["events"][0]["data"]["provider_id"], service_->Pseudonym("provider", "PV-1"));
  EXPECT_EQ(page["events"][0]["stream"], "provider/" + service_->Pseudonym("provider", "PV-1"));
}

TEST_F(ServerTest, ClerkScopeFollowsValidTimeThroughAMergerAndErrorsDoNotSayWhereAPersonLives) {
  // M-1 merges into M-3 on 2021-07-01 (the 2021 reform): from that day on, only M-3's clerks write.
  ASSERT_TRUE(di::testing::AppendJson(*store_, {MakeEvent("e-merge", "municipalities_merged", "2021-07-01",
                                                          {{"successor_id", "M-3"},
                                                           {"successor_name", "Jelgavas novads (2021)"},
                                                           {"predecessor_ids", {"M-1"}},
                                                           {"project_id", "PR-1"}})})
                  .ok());
  json tokens = TokensJson();
  tokens.push_back(TokenEntryJson({"clerk-m3", Role::kClerk, "M-3"}, "tok-clerk-m3"));
  ASSERT_TRUE(TokenRegistry::FromJson(tokens, &tokens_).ok());
  StartServer();
  json before = Delivery("m1-before", "D-M1-BEFORE", "2021-06-30");
  json after = Delivery("m1-after", "D-M1-AFTER", "2021-07-01");
  EXPECT_EQ(Post(port_, {before}, kClerk1).status, 201u);
  const Response dissolved = Post(port_, {after}, kClerk1);
  ASSERT_EQ(dissolved.status, 403u) << dissolved.body;
  EXPECT_EQ(dissolved.Json()["error"]["field"], "events[0].effective_date");
  EXPECT_NE(dissolved.Json()["error"]["message"].get<std::string>().find("M-3"), std::string::npos);
  EXPECT_EQ(Post(port_, {after}, "tok-clerk-m3").status, 201u);
  // A 403 says the person is out of scope, not where they live.
  const Response denied = Post(port_, Deliveries("m2", 1), kClerk2);
  ASSERT_EQ(denied.status, 403u);
  const std::string message = denied.Json()["error"]["message"];
  EXPECT_EQ(message.find("M-1"), std::string::npos) << message;
  EXPECT_EQ(message.find("M-3"), std::string::npos) << message;
  const std::string entitlements = Get(port_, "/v1/entitlements/P-C1", kClerk2).Json()["error"]["message"];
  EXPECT_EQ(entitlements.find("M-1"), std::string::npos) << entitlements;
}

TEST_F(ServerTest, AClaimOutsideAClerksScopeIs403AndAnUnknownClaimIs404) {
  ASSERT_TRUE(di::testing::AppendJson(*store_, {Delivery("c-d1", "D-C1", "2021-01-04")}).ok());
  ASSERT_TRUE(di::testing::AppendJson(*store_, {MakeEvent("e-claim", "reimbursement_claimed", "2021-02-10",
                                                          {{"claim_id", "C-2021-01-M1"},
                                                           {"project_id", "PR-1"},
                                                           {"municipality_id", "M-1"},
                                                           {"period_start", "2021-01-01"},
                                                           {"period_end", "2021-01-31"},
                                                           {"lines", {{{"delivery_id", "D-C1"}, {"amount_cents", 1400}}}},
                                                           {"total_cents", 1400}})})
                  .ok());
  StartServer();
  const Response own = Get(port_, "/v1/reports/reconciliation?claim=C-2021-01-M1", kClerk1);
  ASSERT_EQ(own.status, 200u) << own.body;
  const Response other = Get(port_, "/v1/reports/reconciliation?claim=C-2021-01-M1", kClerk2);
  EXPECT_EQ(other.status, 403u) << other.body;
  EXPECT_EQ(other.Json()["error"]["field"], "claim");
  EXPECT_EQ(Get(port_, "/v1/reports/reconciliation?claim=C-NONE", kFinance).status, 404u);
  EXPECT_EQ(Get(port_, "/v1/reports/reconciliation?claim=C-2021-01-M1", kFinance).status, 200u);
}

TEST_F(ServerTest, ConcurrentAppendersWithRetriesLoseAndDuplicateNothing) {
  HttpServerOptions options;
  options.threads = 4;
  StartServer(options);
  constexpr int kClients = 6, kBatches = 15, kEvents = 10;
  std::atomic<int> failures{0}, retries_ok{0};
  std::vector<std::thread> clients;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      for (int batch = 0; batch < kBatches; ++batch) {
        const std::vector<json> events = Deliveries("c" + std::to_string(client) + "b" + std::to_string(batch), kEvents);
        json first_positions;
        bool done = false;
        // Send until acknowledged (bounded); every third batch is sent again as if the ack had been lost.
        for (int attempt = 0; attempt < 20 && !done; ++attempt) {
          Response response = Post(port_, events, kClerk1);
          if (response.status == 201 || response.status == 200) {
            first_positions = response.Json()["positions"];
            done = true;
          } else if (response.status != 429 && response.status != 503) {
            ++failures;
            return;
          }
        }
        if (!done) {
          ++failures;
          continue;
        }
        if (batch % 3 == 0) {
          Response again = Post(port_, events, kClerk1);
          if (again.status == 200 && again.Json()["positions"] == first_positions) ++retries_ok;
        }
      }
    });
  }
  for (auto& thread : clients) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(retries_ok.load(), kClients * 5);
  const std::vector<std::string> ids = AllIds();
  EXPECT_EQ(ids.size(), 13u + kClients * kBatches * kEvents);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());  // no duplicates
  EXPECT_EQ(store_->Head().position, ids.size());                              // dense, nothing lost
}

TEST_F(ServerTest, SubscriberResumesAndSeesEveryEventExactlyOnceInOrder) {
  HttpServerOptions options;
  options.heartbeat_interval = std::chrono::milliseconds(100);
  StartServer(options);
  ASSERT_EQ(Post(port_, Deliveries("s1", 20), kClerk1).status, 201u);  // head 33
  std::vector<uint64_t> seen;
  {
    RawClient client(port_);
    unsigned status = 0;
    ASSERT_TRUE(client.Subscribe("/v1/subscribe?after=0", kAuditor, &status));
    ASSERT_EQ(status, 200u);
    std::string line;
    while (seen.size() < 10 && client.NextLine(&line)) seen.push_back(json::parse(line)["position"]);
    // Disconnect after 10 events.
  }
  ASSERT_EQ(seen.size(), 10u);
  ASSERT_EQ(Post(port_, Deliveries("s2", 5), kClerk1).status, 201u);  // appended while away: head 38
  RawClient resumed(port_);
  unsigned status = 0;
  ASSERT_TRUE(resumed.Subscribe("/v1/subscribe?after=" + std::to_string(seen.back()), kAuditor, &status));
  ASSERT_EQ(status, 200u);
  std::string line;
  while (seen.size() < 38 && resumed.NextLine(&line)) seen.push_back(json::parse(line)["position"]);
  // Live: appended after the subscriber caught up.
  std::thread writer([&] { Post(port_, Deliveries("s3", 4), kClerk1); });
  while (seen.size() < 42 && resumed.NextLine(&line)) seen.push_back(json::parse(line)["position"]);
  writer.join();
  ASSERT_EQ(seen.size(), 42u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1) << "at " << i;
  EXPECT_GE(metrics_.Value("di_subscription_events_total"), 42);
}

TEST_F(ServerTest, SubscriptionFiltersByTypeAndStreamPrefix) {
  StartServer();
  ASSERT_EQ(Post(port_, Deliveries("f", 3), kClerk1).status, 201u);
  RawClient client(port_);
  unsigned status = 0;
  ASSERT_TRUE(client.Subscribe("/v1/subscribe?after=0&types=person_enrolled,service_delivered&stream_prefix=person/",
                               kAuditor, &status));
  std::string line;
  std::vector<std::string> types;
  while (types.size() < 3 && client.NextLine(&line)) types.push_back(json::parse(line)["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"person_enrolled", "person_enrolled", "person_enrolled"}));
  RawClient bad(port_);
  ASSERT_TRUE(bad.Subscribe("/v1/subscribe?types=nope", kAuditor, &status));
  EXPECT_EQ(status, 400u);
}

TEST_F(ServerTest, StalledSubscriberIsDroppedWhileAppendsContinueAndResumes) {
  // ~3000 events of ~400 bytes: far more than the socket buffers below hold.
  for (int chunk = 0; chunk < 3; ++chunk) {
    ASSERT_TRUE(di::testing::AppendJson(*store_, Deliveries("bulk" + std::to_string(chunk), 1000)).ok());
  }
  HttpServerOptions options;
  options.subscription_stall_timeout = std::chrono::milliseconds(300);
  options.subscription_drop_grace = std::chrono::milliseconds(300);
  options.socket_send_buffer_bytes = 4096;
  StartServer(options);
  RawClient stalled(port_, 4096);
  unsigned status = 0;
  ASSERT_TRUE(stalled.Subscribe("/v1/subscribe?after=0", kAuditor, &status));
  ASSERT_EQ(status, 200u);
  // The subscriber reads nothing now. Writers are not held up by it.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int appended = 0;
  while (metrics_.Value("di_subscriptions_dropped_total", {{"reason", "slow_consumer"}}) == 0 && Clock::now() < deadline) {
    ASSERT_EQ(Post(port_, Deliveries("live" + std::to_string(appended), 1), kClerk1).status, 201u);
    ++appended;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(metrics_.Value("di_subscriptions_dropped_total", {{"reason", "slow_consumer"}}), 1);
  EXPECT_GT(appended, 0);
  // What it did get is a prefix of the log; it resumes after its last complete line.
  std::vector<uint64_t> seen;
  std::string line;
  while (stalled.NextLine(&line)) {
    json parsed = json::parse(line, nullptr, false);
    if (parsed.is_discarded() || parsed.contains("error")) break;
    seen.push_back(parsed["position"]);
  }
  ASSERT_FALSE(seen.empty());
  const uint64_t head = store_->Head().position;
  ASSERT_LT(seen.size(), head);
  RawClient resumed(port_);
  ASSERT_TRUE(resumed.Subscribe("/v1/subscribe?after=" + std::to_string(seen.back()), kAuditor, &status));
  while (seen.size() < head && resumed.NextLine(&line)) seen.push_back(json::parse(line)["position"]);
  ASSERT_EQ(seen.size(), head);
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 1) << "at " << i;
}

TEST_F(ServerTest, OversizedBodyIs413AndTheServerKeepsServing) {
  HttpServerOptions options;
  options.body_limit_bytes = 64 * 1024;
  StartServer(options);
  Response big = Send(port_, http::verb::post, "/v1/events", kClerk1, std::string(100 * 1024, ' '));
  EXPECT_EQ(big.status, 413u);
  EXPECT_EQ(big.Json()["error"]["code"], "payload_too_large");
  EXPECT_EQ(Get(port_, "/healthz").status, 200u);
  EXPECT_EQ(metrics_.Value("di_http_rejected_connections_total", {{"reason", "body_limit"}}), 1);
}

TEST_F(ServerTest, MalformedRequestAndOversizedHeadersAreRefused) {
  StartServer();
  RawClient garbage(port_);
  ASSERT_TRUE(garbage.Write("HELLO THERE\r\n\r\n"));
  const std::string answer = garbage.ReadToEnd();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("malformed_request"), std::string::npos);
  RawClient huge(port_);
  ASSERT_TRUE(huge.Write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
  EXPECT_EQ(huge.ReadToEnd().rfind("HTTP/1.1 431", 0), 0u);
  EXPECT_EQ(Get(port_, "/healthz").status, 200u);
}

TEST_F(ServerTest, SlowClientTimesOutWithoutBlockingOthers) {
  HttpServerOptions options;
  options.read_timeout = std::chrono::milliseconds(300);
  options.threads = 1;  // even with a single thread, the stalled client holds no thread
  StartServer(options);
  RawClient slow(port_);
  ASSERT_TRUE(slow.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // the header never ends
  EXPECT_EQ(Get(port_, "/healthz").status, 200u);
  EXPECT_EQ(Post(port_, Deliveries("t", 1), kClerk1).status, 201u);
  EXPECT_TRUE(slow.PeerClosed());
  // The count follows the close on the server's thread: wait for it (bounded).
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (metrics_.Value("di_http_rejected_connections_total", {{"reason", "timeout"}}) < 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(metrics_.Value("di_http_rejected_connections_total", {{"reason", "timeout"}}), 1);
}

TEST_F(ServerTest, StopFinishesAndLeavesSubscribersAFinalLine) {
  StartServer();
  RawClient subscriber(port_);
  unsigned status = 0;
  ASSERT_TRUE(subscriber.Subscribe("/v1/subscribe?after=0", kAuditor, &status));
  std::string line;
  std::vector<json> lines;
  while (lines.size() < 13 && subscriber.NextLine(&line)) lines.push_back(json::parse(line));
  server_->Stop();
  ASSERT_TRUE(subscriber.NextLine(&line));
  const json final_line = json::parse(line);
  EXPECT_EQ(final_line["error"]["code"], "shutdown");
  EXPECT_EQ(final_line["error"]["resume_from"], 13);
  EXPECT_FALSE(subscriber.NextLine(&line));
}

TEST(TokenRegistryTest, AuthenticatesByHashAndRejectsBadFiles) {
  TokenRegistry registry;
  ASSERT_TRUE(TokenRegistry::FromJson(TokensJson(), &registry).ok());
  Principal who;
  ASSERT_TRUE(registry.Authenticate(kClerk2, &who).ok());
  EXPECT_EQ(who.name, "clerk-m2");
  EXPECT_EQ(who.municipality_id, "M-2");
  EXPECT_EQ(registry.Authenticate("tok-clerk-m", &who).code(), ledger::StatusCode::kUnauthenticated);
  EXPECT_EQ(TokenSha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string token = NewRandomToken();
  EXPECT_EQ(token.size(), 4u + 43u);
  EXPECT_NE(token, NewRandomToken());
  auto field_of = [](json entries) {
    TokenRegistry ignored;
    return TokenRegistry::FromJson(entries, &ignored).field();
  };
  const std::string hash(64, 'a');
  EXPECT_EQ(field_of(json::object()), "tokens");
  EXPECT_EQ(field_of(json::array({{{"name", "x"}, {"role", "boss"}, {"token_sha256", hash}}})), "tokens[0].role");
  EXPECT_EQ(field_of(json::array({{{"name", "x"}, {"role", "clerk"}, {"token_sha256", hash}}})),
            "tokens[0].municipality");
  EXPECT_EQ(field_of(json::array({{{"name", "x"}, {"role", "reader"}, {"token_sha256", "zz"}}})),
            "tokens[0].token_sha256");
  EXPECT_EQ(field_of(json::array({{{"name", "x"}, {"role", "reader"}, {"token_sha256", hash}, {"extra", "1"}}})),
            "tokens[0].extra");
  EXPECT_EQ(field_of(json::array({{{"name", "x"}, {"role", "reader"}, {"token_sha256", hash}},
                                  {{"name", "x"}, {"role", "auditor"}, {"token_sha256", hash}}})),
            "tokens[1].name");
}

// `di-ledger serve` as a child process: SIGTERM under load loses no acknowledged event.
TEST(ServeProcessTest, SigtermDuringLoadLosesNoAcknowledgedEvent) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  {
    auto store = di::testing::OpenStore(data);
    ASSERT_TRUE(di::testing::AppendJson(*store, World()).ok());
  }
  const std::string tokens_path = dir.Sub("tokens.json");
  std::ofstream(tokens_path) << TokensJson().dump();
  // stdout and stderr to a file: nobody reads them while the load runs.
  ChildProcess serve;
  ASSERT_TRUE(serve.Start({DI_CLI_BINARY, "serve", "--data", data, "--port", "0", "--tokens", tokens_path, "--threads",
                           "4"},
                          dir.Sub("serve.log")));
  // Wait (bounded) for "listening on http://127.0.0.1:PORT".
  const uint16_t port = serve.WaitForPortAfter(di::testing::kServeListeningPrefix);
  ASSERT_NE(port, 0) << "the server did not start";

  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::atomic<int> batches{0};
  std::atomic<bool> server_gone{false};
  std::vector<std::thread> clients;
  for (int client = 0; client < 4; ++client) {
    clients.emplace_back([&, client] {
      for (int batch = 0; batch < 100000 && !server_gone; ++batch) {
        const std::string prefix = "k" + std::to_string(client) + "-" + std::to_string(batch);
        std::vector<json> events;
        for (int i = 0; i < 5; ++i) {
          events.push_back(Delivery(prefix + "-" + std::to_string(i), prefix + "-d" + std::to_string(i),
                                    "2021-0" + std::to_string(1 + i) + "-1" + std::to_string(client)));
        }
        try {
          Response response = Post(port, events, kClerk1);
          if (response.status == 201 || response.status == 200) {
            std::lock_guard lock(mutex);
            for (const auto& event : events) acknowledged.push_back(event["id"]);
            ++batches;
          } else if (response.status == 503) {
            server_gone = true;
          }
        } catch (const std::exception&) {
          server_gone = true;  // refused or reset: the server has stopped listening
        }
      }
    });
  }
  for (int i = 0; i < 2000 && batches.load() < 40; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(batches.load(), 40) << "no load reached the server";
  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  const std::optional<int> status = serve.WaitExit(std::chrono::seconds(30));
  server_gone = true;
  for (auto& thread : clients) thread.join();
  if (!status.has_value()) {
    FAIL() << "the server did not stop within 30 s of SIGTERM";  // ~ChildProcess kills it
  }
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);

  auto store = di::testing::OpenStore(data);
  ledger::VerifyReport report;
  ASSERT_TRUE(store->Verify(&report).ok());
  EXPECT_EQ(report.first_bad_position, 0u);
  for (const std::string& id : acknowledged) {
    ledger::StoredEvent event;
    EXPECT_TRUE(store->GetByEventId(id, &event).ok()) << "acknowledged event " << id << " is missing";
  }
  EXPECT_GE(store->Head().position, 13u + acknowledged.size());
}


// Issue #13: one definition, one answer. The same query gives the same document from the CLI and over HTTP:
// JSON equal key for key and in the same order, CSV byte for byte.
TEST_F(ServerTest, TheCliAndHttpGiveTheSameDocumentForTheSameQuery) {
  StartServer();
  const json opinion = MakeEvent("op-1", "special_care_opinion_recorded", "2020-06-01",
                                 {{"person_id", "P-C1"}, {"valid_from", "2020-06-01"}});
  ASSERT_EQ(Post(port_, {opinion}, kClerk1).status, 201u);
  ASSERT_EQ(Post(port_, Deliveries("q", 3), kClerk1).status, 201u);
  // A partner and an activity of the project (issue #17): the partners and activities reports.
  ASSERT_EQ(Post(port_,
                 {MakeEvent("pj-1", "partner_joined", "2016-02-01",
                            {{"project_id", "PR-1"}, {"partner_id", "PV-1"}, {"kind", "state_social_care_centre"},
                             {"branches", {"VSAC-Z-JELGAVA", "VSAC-Z-IECAVA"}}}),
                  MakeEvent("pa-1", "project_activity_held", "2018-08-31",
                            {{"project_id", "PR-1"}, {"activity_id", "A-1"}, {"kind", "camp"}, {"title", "Nometne \"Satekas\", 2018"},
                             {"first_date", "2018-08-20"}, {"last_date", "2018-08-24"}, {"participants", 30}})},
                 kProject)
                .status,
            201u);
  struct Query {
    std::string http, cli, token;
    bool csv;
  };
  const std::vector<Query> queries = {
      {"/v1/entitlements/P-C1?valid_at=2021-01-15&explain=true", "entitlements P-C1 --valid-at 2021-01-15 --explain --format json", kClerk1, false},
      {"/v1/entitlements/P-C1?valid_at=2021-01-15&format=csv", "entitlements P-C1 --valid-at 2021-01-15 --format csv", kClerk1, true},
      {"/v1/entitlements/P-C1?valid_at=2021-01-15&known_at=13", "entitlements P-C1 --valid-at 2021-01-15 --known-at 13 --format json", kClerk1, false},
      {"/v1/reports/funding?valid_at=2021-12-31", "report funding --valid-at 2021-12-31 --format json", kFinance, false},
      {"/v1/reports/funding?valid_at=2021-12-31&format=csv&group_by=municipality,month", "report funding --valid-at 2021-12-31 --format csv --group-by municipality,month", kFinance, true},
      {"/v1/reports/reconciliation?valid_at=2021-12-31", "report reconciliation --valid-at 2021-12-31 --format json", kFinance, false},
      {"/v1/reports/reconciliation?valid_at=2021-12-31&format=csv&table=claims", "report reconciliation --valid-at 2021-12-31 --format csv --table claims", kFinance, true},
      {"/v1/reports/indicators?valid_at=2021-12-31", "report indicators --valid-at 2021-12-31 --format json", kFinance, false},
      {"/v1/reports/indicators?valid_at=2021-12-31&format=csv", "report indicators --valid-at 2021-12-31 --format csv", kFinance, true},
      {"/v1/reports/changes?known_at=13&valid_at=2021-12-31", "report changes --known-at 13 --valid-at 2021-12-31 --format json", kFinance, false},
      {"/v1/reports/changes?known_at=13&format=csv&group_by=month", "report changes --known-at 13 --format csv --group-by month", kFinance, true},
      {"/v1/reports/partners?valid_at=2021-12-31", "report partners --valid-at 2021-12-31 --format json", kClerk1, false},
      {"/v1/reports/partners?valid_at=2021-12-31&format=csv", "report partners --valid-at 2021-12-31 --format csv", kFinance, true},
      {"/v1/reports/activities?valid_at=2021-12-31&year=2018", "report activities --valid-at 2021-12-31 --year 2018 --format json", kFinance, false},
      {"/v1/reports/activities?valid_at=2021-12-31&format=csv", "report activities --valid-at 2021-12-31 --format csv", kFinance, true},
      {"/v1/reports/partners?valid_at=2021-12-31&known_at=13", "report partners --valid-at 2021-12-31 --known-at 13 --format json", kFinance, false},
  };
  std::vector<std::string> over_http;
  for (const Query& query : queries) {
    Response response = Get(port_, query.http, query.token.c_str());
    ASSERT_EQ(response.status, 200u) << query.http << ": " << response.body;
    over_http.push_back(response.body);
  }
  // What the new reports say, so that equal answers are not equally empty; a reader may not ask; a bad year is named.
  const json partners = json::parse(over_http[11]);
  EXPECT_EQ(partners["projects"][0]["partners"], 3);  // M-1, M-2 registered with PR-1, and the centre
  EXPECT_EQ(partners["projects"][0]["branches"], 2);
  EXPECT_NE(over_http[12].find(",VSAC-Z-JELGAVA VSAC-Z-IECAVA\n"), std::string::npos) << over_http[12];
  EXPECT_EQ(json::parse(over_http[13])["rows"][0]["participants"], 30);
  EXPECT_EQ(json::parse(over_http[15])["projects"][0]["partners"], 2);  // as known before the centre joined
  EXPECT_EQ(Get(port_, "/v1/reports/partners", kReader).status, 403u);
  const Response bad_year = Get(port_, "/v1/reports/activities?year=20", kFinance);
  EXPECT_EQ(bad_year.status, 400u);
  EXPECT_EQ(json::parse(bad_year.body)["error"]["field"], "year") << bad_year.body;
  EXPECT_EQ(Get(port_, "/v1/reports/activities?project=PR-9", kFinance).status, 404u);
  server_.reset();  // the CLI opens the store itself
  service_.reset();
  store_.reset();
  for (size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE(queries[i].cli);
    const di::testing::CommandOutput cli = di::testing::RunCli(queries[i].cli + " --data " + dir_.Sub("data"));
    ASSERT_EQ(cli.exit_code, 0) << cli.text;
    if (queries[i].csv) {
      EXPECT_EQ(cli.text, over_http[i]);
    } else {
      const nlohmann::ordered_json from_cli = nlohmann::ordered_json::parse(cli.text);
      const nlohmann::ordered_json from_http = nlohmann::ordered_json::parse(over_http[i]);
      EXPECT_EQ(from_cli.dump(), from_http.dump());
    }
  }
}

// ---- Migration (issue #13 §2): recorded times kept by a migration token; known-at before anything was known --

// The test world as a migration of older history: the rules recorded on 2015-07-01, then the base world a minute
// apart from 2021-01-04 09:00 UTC.
std::vector<json> MigratedWorld() {
  std::vector<json> world = World();
  world[0]["recorded_at"] = "2015-07-01T00:00:00Z";
  for (size_t i = 1; i < world.size(); ++i) {
    char time[32];
    std::snprintf(time, sizeof(time), "2021-01-04T09:%02zu:00Z", i - 1);
    world[i]["recorded_at"] = time;
  }
  return world;
}

Response PostKeeping(uint16_t port, const std::vector<json>& events, const char* token) {
  return Send(port, http::verb::post, "/v1/events?keep_recorded_at=true", token, json{{"events", events}}.dump());
}

// An empty store (the server's clock is the real one), so that migrated history can go in first.
class MigrationServerTest : public ServerTest {
 protected:
  void SetUp() override { OpenEmptyStore(); }
};

TEST_F(MigrationServerTest, OnlyAMigrationTokenKeepsRecordedTimesAndABadTimeAppendsNothing) {
  StartServer();
  const std::vector<json> world = MigratedWorld();
  // Every other role that may append is refused before the body is read, naming the parameter.
  for (const char* token : {kProject, kFinance, kClerk1}) {
    const Response refused = PostKeeping(port_, world, token);
    ASSERT_EQ(refused.status, 403u) << refused.body;
    EXPECT_EQ(refused.Json()["error"]["field"], "keep_recorded_at");
  }
  EXPECT_EQ(PostKeeping(port_, world, kAuditor).status, 403u);
  EXPECT_EQ(Send(port_, http::verb::post, "/v1/events?keep_recorded_at=maybe", kMigration,
                 json{{"events", world}}.dump())
                .Json()["error"]["field"],
            "keep_recorded_at");

  // A line without recorded_at, times going back, a time in the future: 400 naming the event's field, nothing
  // appended.
  std::vector<json> missing = world;
  missing[5].erase("recorded_at");
  std::vector<json> backwards = world;
  backwards[6]["recorded_at"] = "2021-01-04T08:00:00Z";
  std::vector<json> future = world;
  future.back()["recorded_at"] = "2199-01-01T00:00:00Z";
  for (const auto& [bad, field] : {std::pair{missing, "events[5].recorded_at"}, std::pair{backwards, "events[6].recorded_at"},
                                   std::pair{future, "events[12].recorded_at"}}) {
    const Response refused = PostKeeping(port_, bad, kMigration);
    ASSERT_EQ(refused.status, 400u) << refused.body;
    EXPECT_EQ(refused.Json()["error"]["code"], "invalid_argument");
    EXPECT_EQ(refused.Json()["error"]["field"], field) << refused.body;
  }
  EXPECT_EQ(store_->Head().position, 0u);

  const Response appended = PostKeeping(port_, world, kMigration);
  ASSERT_EQ(appended.status, 201u) << appended.body;
  const json moved = Get(port_, "/v1/events/e-m1", kAuditor).Json();
  EXPECT_EQ(moved["recorded_at"], "2021-01-04T09:01:00.000000Z");
  EXPECT_EQ(moved["recorded_at_asserted"], true);
  // Before the log's last recorded time: refused by the writer, which names the event.
  const Response late = PostKeeping(port_, {Migrated(Delivery("d-late", "D-LATE", "2021-01-02"), "2021-01-03T00:00:00Z")}, kMigration);
  ASSERT_EQ(late.status, 400u) << late.body;
  EXPECT_EQ(late.Json()["error"]["field"], "events[0].recorded_at");
  EXPECT_EQ(late.Json()["error"]["event_id"], "d-late");
  EXPECT_EQ(store_->Head().position, world.size());

  // Without the parameter a migration token appends like anyone: recorded now, "recorded_at" ignored.
  ASSERT_EQ(Post(port_, {Migrated(Delivery("d-now", "D-NOW", "2021-01-05"), "2021-01-05T00:00:00Z")}, kMigration).status,
            201u);
  const json observed = Get(port_, "/v1/events/d-now", kAuditor).Json();
  EXPECT_FALSE(observed.contains("recorded_at_asserted")) << observed.dump();
  EXPECT_NE(observed["recorded_at"], "2021-01-05T00:00:00.000000Z");
}

TEST_F(MigrationServerTest, KnownAtBeforeTheFirstEventOrBeforeAFilterExistedIsEmptyWithANoteNot404) {
  StartServer();
  ASSERT_EQ(PostKeeping(port_, MigratedWorld(), kMigration).status, 201u);
  ASSERT_EQ(Post(port_, Deliveries("now", 2), kClerk1).status, 201u);  // recorded now

  const json funding = Get(port_, "/v1/reports/funding?known_at=2015-01-01&municipality=M-1", kFinance).Json();
  EXPECT_EQ(funding["known_at_position"], 0);
  EXPECT_TRUE(funding["rows"].empty());
  EXPECT_NE(funding.value("note", "").find("known at '2015-01-01' is before the first recorded event (position 1, "
                                           "recorded at 2015-07-01T00:00:00.000000Z); nothing was known yet"),
            std::string::npos)
      << funding.dump();
  // Known at a time after the rules and before M-2 was recorded: empty, and it says when M-2 came.
  const json not_yet =
      Get(port_, "/v1/reports/funding?known_at=2021-01-04T09:01:30Z&municipality=M-2", kFinance).Json();
  EXPECT_EQ(not_yet["known_at_position"], 3);
  EXPECT_NE(not_yet.value("note", "").find("municipality 'M-2' was not known yet"), std::string::npos) << not_yet.dump();
  // A typo is still a 404, whatever the known-at.
  const Response typo = Get(port_, "/v1/reports/funding?known_at=2015-01-01&municipality=M-22", kFinance);
  EXPECT_EQ(typo.status, 404u);
  EXPECT_EQ(typo.Json()["error"]["code"], "not_found");

  const json entitlements = Get(port_, "/v1/entitlements/P-C1?known_at=2015-01-01", kClerk1).Json();
  EXPECT_TRUE(entitlements["entitlements"].empty()) << entitlements.dump();
  EXPECT_FALSE(entitlements.contains("target_group"));
  EXPECT_NE(entitlements.value("note", "").find("nothing was known yet"), std::string::npos);
  const json indicators = Get(port_, "/v1/reports/indicators?known_at=2015-01-01&project=PR-1", kFinance).Json();
  EXPECT_TRUE(indicators["rows"].empty());
  EXPECT_NE(indicators.value("note", "").find("nothing was known yet"), std::string::npos);
  const json claims = Get(port_, "/v1/reports/reconciliation?known_at=2015-01-01", kFinance).Json();
  EXPECT_TRUE(claims["claims"].empty());
  EXPECT_NE(claims.value("note", "").find("nothing was known yet"), std::string::npos);

  // Between the migration and today: the migrated history, without what was recorded since.
  const json then =
      Get(port_, "/v1/reports/funding?valid_at=2021-02-01&known_at=2021-07-15&group_by=municipality", kFinance).Json();
  EXPECT_EQ(then["known_at_position"], MigratedWorld().size());
  EXPECT_FALSE(then.contains("note"));
  EXPECT_EQ(then["totals"]["delivered_cents"], 0);
  const json now = Get(port_, "/v1/reports/funding?valid_at=2021-02-01&group_by=municipality", kFinance).Json();
  EXPECT_EQ(now["totals"]["delivered_cents"], 2 * 1400);
}

}  // namespace
}  // namespace di::server
