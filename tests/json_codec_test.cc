// JSON <-> Cap'n Proto: lossless round trip of every event type, and every codec error path.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/json_codec.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using nlohmann::json;

std::vector<std::string> SampleLines() {
  std::ifstream file(std::string(DI_TEST_DATA_DIR) + "/catalog_samples.jsonl");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(file, line)) lines.push_back(line);
  return lines;
}

TEST(JsonCodecTest, SamplesCoverEveryEventType) {
  std::set<std::string> sample_types;
  for (const std::string& line : SampleLines()) sample_types.insert(json::parse(line)["type"].get<std::string>());
  for (EventType type : AllEventTypes()) {
    EXPECT_TRUE(sample_types.count(std::string(EventTypeName(type)))) << "no sample for " << EventTypeName(type);
  }
  EXPECT_EQ(AllEventTypes().size(), 30u);  // 28 domain types + checkpoint_signed, signing_key_rotated
}

// JSON -> Cap'n Proto -> JSON gives back the same bytes: same keys, same order, same values.
TEST(JsonCodecTest, EveryEventTypeRoundTripsByteForByte) {
  for (const std::string& line : SampleLines()) {
    NewEvent event;
    Status status = EventFromJsonText(line, &event);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(EventToJson(event.reader()).dump(), line);
  }
}

// Cap'n Proto -> JSON -> Cap'n Proto gives back the same canonical bytes (what the hash chain covers).
TEST(JsonCodecTest, CanonicalBytesSurviveTheRoundTrip) {
  for (const std::string& line : SampleLines()) {
    NewEvent first, second;
    ASSERT_TRUE(EventFromJsonText(line, &first).ok());
    ASSERT_TRUE(EventFromJson(json::parse(EventToJson(first.reader()).dump()), &second).ok());
    EXPECT_EQ(first.event.bytes(), second.event.bytes()) << line;
  }
}

TEST(JsonCodecTest, KeyOrderOfInputDoesNotChangeCanonicalBytes) {
  const std::string line = SampleLines().at(17);  // service_granted, many fields
  json reordered = json::parse(line);              // nlohmann::json sorts keys alphabetically
  NewEvent original, sorted;
  ASSERT_TRUE(EventFromJsonText(line, &original).ok());
  ASSERT_TRUE(EventFromJson(reordered, &sorted).ok());
  EXPECT_EQ(original.event.bytes(), sorted.event.bytes());
}

TEST(JsonCodecTest, OptionalFieldsMayBeOmittedAndStayOmitted) {
  json event = json::parse(SampleLines().at(10));  // disability_recorded with valid_until
  event["data"].erase("valid_until");
  NewEvent parsed;
  ASSERT_TRUE(EventFromJson(event, &parsed).ok());
  EXPECT_EQ(parsed.reader().getPayload().getDisabilityRecorded().getValidUntil(), kNoDate);
  EXPECT_FALSE(EventToJson(parsed.reader())["data"].contains("valid_until"));
}

TEST(JsonCodecTest, LedgerAssignedKeysAreAcceptedAndIgnored) {
  json event = json::parse(SampleLines().at(0));
  event["position"] = 17;
  event["recorded_at"] = "2026-01-01T00:00:00.000000Z";
  event["stream"] = "project/PR-ZEM";
  event["stream_version"] = 1;
  event["hash"] = "00";
  NewEvent parsed;
  ASSERT_TRUE(EventFromJson(event, &parsed).ok());
  EXPECT_EQ(EventToJson(parsed.reader()).dump(), SampleLines().at(0));
}

TEST(JsonCodecTest, ExpectedVersionIsAPreconditionNotContent) {
  json event = json::parse(SampleLines().at(0));
  NewEvent without, with;
  ASSERT_TRUE(EventFromJson(event, &without).ok());
  event["expected_version"] = 0;
  ASSERT_TRUE(EventFromJson(event, &with).ok());
  ASSERT_TRUE(with.expected_version.has_value());
  EXPECT_EQ(*with.expected_version, 0u);
  EXPECT_FALSE(without.expected_version.has_value());
  EXPECT_EQ(with.event.bytes(), without.event.bytes());
}

struct BadInput {
  std::string name;
  std::function<void(json&)> mutate;
  std::string field;
  std::string message_part;
};

class JsonCodecErrorTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(JsonCodecErrorTest, RejectsWithFieldAndReason) {
  json event = json::parse(SampleLines().at(22));  // service_delivered, S-23
  GetParam().mutate(event);
  NewEvent parsed;
  Status status = EventFromJson(event, &parsed);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.field(), GetParam().field) << status.ToString();
  EXPECT_NE(status.message().find(GetParam().message_part), std::string::npos) << status.ToString();
  if (GetParam().field != "id") EXPECT_EQ(status.event_id(), "S-23");
}

INSTANTIATE_TEST_SUITE_P(
    Codec, JsonCodecErrorTest,
    ::testing::Values(
        BadInput{"MissingId", [](json& e) { e.erase("id"); }, "id", "required"},
        BadInput{"IdTooLong", [](json& e) { e["id"] = std::string(65, 'a'); }, "id", "not a valid event id"},
        BadInput{"IdWithSpace", [](json& e) { e["id"] = "a b"; }, "id", "not a valid event id"},
        BadInput{"IdNotString", [](json& e) { e["id"] = 7; }, "id", "must be a string"},
        BadInput{"UnknownType", [](json& e) { e["type"] = "service_teleported"; }, "type", "unknown event type"},
        BadInput{"MissingType", [](json& e) { e.erase("type"); }, "type", "required"},
        BadInput{"BadEffectiveDate", [](json& e) { e["effective_date"] = "2021-02-29"; }, "effective_date",
                 "valid date"},
        BadInput{"EffectiveDateBeforeRange", [](json& e) { e["effective_date"] = "1899-12-31"; },
                 "effective_date", "valid date"},
        BadInput{"MissingActor", [](json& e) { e.erase("actor"); }, "actor", "required"},
        BadInput{"EmptyActor", [](json& e) { e["actor"] = ""; }, "actor", "1..128"},
        BadInput{"BadCausation", [](json& e) { e["causation_id"] = "x y"; }, "causation_id", "valid event id"},
        BadInput{"NegativeExpectedVersion", [](json& e) { e["expected_version"] = -1; }, "expected_version",
                 "non-negative"},
        BadInput{"UnknownEnvelopeKey", [](json& e) { e["colour"] = "red"; }, "colour", "unknown field"},
        BadInput{"MissingData", [](json& e) { e.erase("data"); }, "data", "required"},
        BadInput{"DataNotObject", [](json& e) { e["data"] = json::array(); }, "data", "must be an object"},
        BadInput{"MissingRequiredField", [](json& e) { e["data"].erase("quantity"); }, "data.quantity",
                 "required"},
        BadInput{"UnknownDataField", [](json& e) { e["data"]["quantiti"] = 3; }, "data.quantiti",
                 "unknown field"},
        BadInput{"FractionalQuantity", [](json& e) { e["data"]["quantity"] = 1.5; }, "data.quantity",
                 "an integer"},
        BadInput{"QuantityAsString", [](json& e) { e["data"]["quantity"] = "3"; }, "data.quantity",
                 "an integer"},
        BadInput{"CostOutOfInt64", [](json& e) { e["data"]["cost_cents"] = 18446744073709551615ull; },
                 "data.cost_cents", "out of range"},
        BadInput{"UnknownEnumValue", [](json& e) { e["data"]["mode"] = "by_pigeon"; }, "data.mode",
                 "one of: in_person, remote"},
        BadInput{"EnumAsNumber", [](json& e) { e["data"]["mode"] = 1; }, "data.mode", "must be a string"},
        BadInput{"BadIdInData", [](json& e) { e["data"]["grant_id"] = "G 1"; }, "data.grant_id",
                 "not a valid id"},
        BadInput{"EmptyText", [](json& e) { e["data"]["provider_id"] = ""; }, "data.provider_id", "empty"},
        BadInput{"BadDateInData", [](json& e) { e["data"]["last_date"] = "07/07/2021"; }, "data.last_date",
                 "valid date"},
        BadInput{"OptionalSpelledAsAbsent", [](json& e) { e["data"]["purpose"] = "unspecified"; },
                 "data.purpose", "omit the field"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

TEST(JsonCodecTest, ErrorsInsideListsNameTheElement) {
  json event = json::parse(SampleLines().at(25));  // reimbursement_claimed
  event["data"]["lines"][1]["amount_cents"] = "1450";
  NewEvent parsed;
  Status status = EventFromJson(event, &parsed);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.field(), "data.lines[1].amount_cents");
  EXPECT_EQ(status.ToString(),
            "invalid_argument: event 'S-26': field 'data.lines[1].amount_cents': must be an integer, got a string");
}

TEST(JsonCodecTest, UnknownServiceAndTargetGroupAreNamed) {
  json grant = json::parse(SampleLines().at(17));
  grant["data"]["service"] = "massage";
  NewEvent parsed;
  Status status = EventFromJson(grant, &parsed);
  EXPECT_EQ(status.field(), "data.service");
  EXPECT_NE(status.message().find("unknown value 'massage'"), std::string::npos);
  json person = json::parse(SampleLines().at(8));
  person["data"]["target_group"] = "pensioner";
  status = EventFromJson(person, &parsed);
  EXPECT_EQ(status.field(), "data.target_group");
  EXPECT_NE(status.message().find("adult_mental_disability"), std::string::npos);
}

TEST(JsonCodecTest, RulesDocumentMustBeAnObject) {
  json rules = json::parse(SampleLines().at(7));
  rules["data"]["document"] = "caps: none";
  NewEvent parsed;
  Status status = EventFromJson(rules, &parsed);
  EXPECT_EQ(status.field(), "data.document");
  EXPECT_NE(status.message().find("a JSON object"), std::string::npos);
}

TEST(JsonCodecTest, MalformedJsonText) {
  NewEvent parsed;
  Status status = EventFromJsonText("{\"id\": \"x\",", &parsed);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("not valid JSON"), std::string::npos);
  status = EventFromJsonText("[1,2]", &parsed);
  EXPECT_NE(status.message().find("must be a JSON object"), std::string::npos);
}

// Nesting is bounded at kMaxJsonDepth (64) levels: 64 parse, 65 are refused naming the path, and a document
// of a million levels is refused without recursion (it would overflow the stack when serialised or copied).
std::string Nested(int levels, std::string_view open, std::string_view close, std::string_view inner = "1") {
  std::string text;
  for (int i = 0; i < levels; ++i) text += open;
  text += inner;
  for (int i = 0; i < levels; ++i) text += close;
  return text;
}

TEST(JsonCodecTest, NestingIsBoundedAtItsLimitAndNamesThePath) {
  json parsed;
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth, "[", "]"), "body", &parsed).ok());
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth, "{\"k\":", "}"), "body", &parsed).ok());
  Status status = ParseJson(Nested(kMaxJsonDepth + 1, "[", "]"), "body", &parsed);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.field(), "body[0][0][0][0][0]... (level 65)");  // the first levels, then the depth
  EXPECT_NE(status.message().find("deeper than 64 levels"), std::string::npos) << status.message();
  status = ParseJson("{\"events\":[{\"data\":" + Nested(100, "{\"a\":", "}") + "}]}", "", &parsed);
  EXPECT_EQ(status.field().rfind("events[0].data.a.a...", 0), 0u) << status.field();
  // Brackets inside strings are text, not structure (escaped quotes included).
  EXPECT_TRUE(ParseJson("{\"s\":\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}", "x", &parsed).ok());
  // A million levels: refused, no crash, for every entry point that reads outside text.
  const std::string deep = Nested(1000000, "[", "]");
  EXPECT_FALSE(ParseJson(deep, "body", &parsed).ok());
  nlohmann::ordered_json ordered;
  EXPECT_FALSE(ParseJson(deep, "body", &ordered).ok());
  json rules = json::parse(SampleLines().at(7));
  rules["data"]["document"] = json::object();
  std::string line = rules.dump();
  line.replace(line.find("\"document\":{}"), 13, "\"document\":" + Nested(1000000, "{\"a\":", "}"));
  NewEvent event;
  status = EventFromJsonText(line, &event);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.field().rfind("data.document.a", 0), 0u) << status.field();
  // Wide documents are fine: 100 000 keys in one object.
  std::string wide = "{";
  for (int i = 0; i < 100000; ++i) wide += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":[]";
  EXPECT_TRUE(ParseJson(wide + "}", "x", &parsed).ok());
  EXPECT_EQ(parsed.size(), 100000u);
}

TEST(JsonCodecTest, ControlCharactersAreRefusedWhereTheFieldCannotHoldThem) {
  json event = json::parse(SampleLines().at(0));
  NewEvent parsed;
  event["actor"] = std::string("a\0b", 3);
  Status status = EventFromJson(event, &parsed);
  EXPECT_EQ(status.field(), "actor");
  EXPECT_NE(status.message().find("U+0000"), std::string::npos);
  for (const char* actor : {"a\tb", "a\nb", "a\x7f" "b", "a\x1b" "b"}) {
    event["actor"] = actor;
    EXPECT_EQ(EventFromJson(event, &parsed).field(), "actor") << actor;
  }
  event["actor"] = "an actor";
  EXPECT_TRUE(EventFromJson(event, &parsed).ok());
}

TEST(CatalogTest, ServiceUnits) {
  EXPECT_EQ(ServiceUnit(schema::Service::CHILD_CARE), schema::Unit::MINUTES);
  EXPECT_EQ(ServiceUnit(schema::Service::RESPITE), schema::Unit::DAYS);
  EXPECT_EQ(ServiceUnit(schema::Service::PARENT_REHABILITATION), schema::Unit::SESSIONS);
  EXPECT_EQ(ServiceName(schema::Service::ADULT_PSYCHOLOGIST_CONSULTATION), "adult_psychologist_consultation");
}

TEST(CatalogTest, IdRules) {
  EXPECT_TRUE(IsValidId("P-0001"));
  EXPECT_TRUE(IsValidId(std::string(64, 'x')));
  EXPECT_FALSE(IsValidId(std::string(65, 'x')));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("person/P-1"));  // '/' separates stream kind and id
  EXPECT_FALSE(IsValidId("Pērsona"));
}

}  // namespace
}  // namespace di::ledger
