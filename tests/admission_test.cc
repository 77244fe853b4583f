// The store's admission check (ledger/subject.h): the writer resolves each event's subject — the person it concerns
// through its application, grant or delivery, their residence through mergers, the municipality it acts for — on
// the state the event is appended to (the store, earlier batches of the group, earlier events of the batch), and a
// refusal leaves nothing appended.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/ledger/subject.h"
#include "test_util.h"

namespace {

using di::ledger::AppendOptions;
using di::ledger::AppendResult;
using di::ledger::EventSubject;
using di::ledger::Status;
using di::ledger::StatusCode;
using di::ledger::Territory;
using di::ledger::TerritoryLookup;
using di::testing::AppendJson;
using di::testing::Delivery;
using di::testing::Events;
using di::testing::MakeEvent;
using nlohmann::json;

std::vector<std::string> Ids(const Territory& territory) {
  std::vector<std::string> ids;
  for (const auto& step : territory) ids.push_back(step.municipality_id);
  return ids;
}

class AdmissionTest : public di::testing::BaseWorldStoreTest {
 protected:
  AdmissionTest() : BaseWorldStoreTest("store") {}

  // Appends `events` with an admission check that records every subject it is asked about and refuses the
  // event ids in `refuse`.
  Status AppendRecording(const std::vector<json>& events, const std::set<std::string>& refuse = {}) {
    subjects_.clear();
    AppendOptions options;
    options.admit = [&](const EventSubject& subject, TerritoryLookup&) {
      subjects_[subject.event_id] = subject;
      if (refuse.count(subject.event_id)) return Status::Forbidden("refused by the test", subject.person_field);
      return Status::Ok();
    };
    AppendResult result;
    return store_->Append(Events(events), options, &result);
  }

  std::map<std::string, EventSubject> subjects_;
};

TEST_F(AdmissionTest, SubjectsNameThePersonThroughEveryReference) {
  const json corrected = MakeEvent("e-corr", "delivery_corrected", "2021-02-02",
                                   {{"delivery_id", "D-1"}, {"quantity", 60}, {"cost_cents", 700}, {"reason", "x"}});
  const json voided = MakeEvent("e-void", "delivery_voided", "2021-02-03", {{"delivery_id", "D-1"}, {"reason", "x"}});
  const json suspended = MakeEvent("e-susp", "service_suspended", "2021-03-01", {{"grant_id", "G-1"}, {"reason", "x"}});
  // The delivery is recorded earlier in the same batch: the writer's state includes it.
  ASSERT_TRUE(AppendRecording({Delivery("e-d1", "D-1", "2021-02-01"), corrected, voided, suspended}).ok());
  for (const char* id : {"e-d1", "e-corr", "e-void", "e-susp"}) {
    ASSERT_TRUE(subjects_.count(id)) << id;
    EXPECT_EQ(subjects_[id].person_id, "P-C1") << id;
    EXPECT_EQ(Ids(subjects_[id].residence), std::vector<std::string>{"M-1"}) << id;
  }
  EXPECT_EQ(subjects_["e-d1"].person_field, "data.grant_id");
  EXPECT_EQ(subjects_["e-corr"].person_field, "data.delivery_id");
  EXPECT_EQ(subjects_["e-corr"].type, di::ledger::EventType::DELIVERY_CORRECTED);
  EXPECT_EQ(subjects_["e-corr"].effective_date, di::ledger::DaysFromCivil(2021, 2, 2));
}

TEST_F(AdmissionTest, ResidenceFollowsAMoveEarlierInTheBatchAndMergersWithTheirDates) {
  const json merge = MakeEvent("e-merge", "municipalities_merged", "2021-07-01",
                               {{"successor_id", "M-3"},
                                {"successor_name", "Jelgavas novads (2021)"},
                                {"predecessor_ids", {"M-2"}},
                                {"project_id", "PR-1"}});
  const json moved = MakeEvent("e-move", "residence_changed", "2021-03-01", {{"person_id", "P-C1"}, {"municipality_id", "M-2"}});
  ASSERT_TRUE(AppendRecording({merge, moved, Delivery("e-d1", "D-1", "2021-03-02")}).ok());
  const Territory& residence = subjects_["e-d1"].residence;
  ASSERT_EQ(Ids(residence), (std::vector<std::string>{"M-2", "M-3"}));
  EXPECT_EQ(residence[0].merged_on, di::ledger::DaysFromCivil(2021, 7, 1));
  EXPECT_EQ(residence[1].merged_on, di::ledger::kNoDate);
  EXPECT_EQ(subjects_["e-merge"].project_id, "PR-1");
  EXPECT_TRUE(subjects_["e-merge"].person_id.empty());
}

TEST_F(AdmissionTest, ActingMunicipalityAndUnknownReferences) {
  const json application = MakeEvent("e-ap2", "application_submitted", "2021-01-05",
                                     {{"application_id", "AP-2"},
                                      {"person_id", "P-A1"},
                                      {"municipality_id", "M-2"},
                                      {"services", {"adult_day_centre"}},
                                      {"channel", "written"}});
  ASSERT_TRUE(AppendRecording({application}).ok());
  EXPECT_EQ(subjects_["e-ap2"].municipality_id, "M-2");
  EXPECT_EQ(subjects_["e-ap2"].municipality_field, "data.municipality_id");
  EXPECT_EQ(Ids(subjects_["e-ap2"].residence), std::vector<std::string>{"M-2"});
  // A delivery under a grant nobody recorded: no person (the validator refuses it after admission admitted it).
  json orphan = Delivery("e-x", "D-X", "2021-02-01");
  orphan["data"]["grant_id"] = "G-NONE";
  EXPECT_EQ(AppendRecording({orphan}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(subjects_["e-x"].person_id.empty());
  EXPECT_TRUE(subjects_["e-x"].residence.empty());
  EXPECT_EQ(subjects_["e-x"].person_field, "data.grant_id");
}

TEST_F(AdmissionTest, ARefusalAppendsNothingOfTheBatchAndNamesTheEvent) {
  const uint64_t head = store_->Head().position;
  const Status refused =
      AppendRecording({Delivery("e-d1", "D-1", "2021-02-01"), Delivery("e-d2", "D-2", "2021-02-02")}, {"e-d2"});
  ASSERT_EQ(refused.code(), StatusCode::kForbidden) << refused.ToString();
  EXPECT_EQ(refused.event_id(), "e-d2");
  EXPECT_EQ(refused.field(), "data.grant_id");
  EXPECT_EQ(store_->Head().position, head);
  // An idempotent retry is asked too: it must not tell an outsider what was recorded.
  ASSERT_TRUE(AppendRecording({Delivery("e-d1", "D-1", "2021-02-01")}).ok());
  const Status retry = AppendRecording({Delivery("e-d1", "D-1", "2021-02-01")}, {"e-d1"});
  EXPECT_EQ(retry.code(), StatusCode::kForbidden);
  EXPECT_EQ(store_->Head().position, head + 1);
}

TEST_F(AdmissionTest, AClerkPolicyIsDecidedOnTheStateTheEventIsAppendedTo) {
  // A policy of a clerk of M-1 (as the server's access policy states it): the person must live in M-1's territory.
  AppendOptions clerk_of_m1;
  clerk_of_m1.admit = [](const EventSubject& subject, TerritoryLookup& territories) {
    for (const auto& step : subject.residence) {
      if (step.municipality_id == "M-1") return Status::Ok();
    }
    EXPECT_EQ(Ids(territories.TerritoryOf("M-1")), std::vector<std::string>{"M-1"});
    return Status::Forbidden("out of scope", subject.person_field);
  };
  AppendResult result;
  ASSERT_TRUE(store_->Append(Events({Delivery("e-d1", "D-1", "2021-02-01")}), clerk_of_m1, &result).ok());
  // The person moves away earlier in the same batch: the delivery after it is out of scope, the whole batch refused.
  const json moved = MakeEvent("e-move", "residence_changed", "2021-03-01", {{"person_id", "P-C1"}, {"municipality_id", "M-2"}});
  const Status refused = store_->Append(Events({moved, Delivery("e-d2", "D-2", "2021-03-02")}), clerk_of_m1, &result);
  ASSERT_EQ(refused.code(), StatusCode::kForbidden) << refused.ToString();
  EXPECT_EQ(refused.event_id(), "e-d2");
  // Recorded by someone else (no check), the move is the state the next clerk append is decided on.
  ASSERT_TRUE(AppendJson(*store_, {moved}).ok());
  EXPECT_EQ(store_->Append(Events({Delivery("e-d2", "D-2", "2021-03-02")}), clerk_of_m1, &result).code(),
            StatusCode::kForbidden);
}

}  // namespace
