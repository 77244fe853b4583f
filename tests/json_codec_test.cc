// JSON <-> Cap'n Proto: lossless round trip of every event type, and every codec error path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/json_codec.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using di::testing::SampleLines;
using nlohmann::json;

// Catalogue sample `index` (SampleLines()) with data.<key> set to `value`, through the codec: the status, and
// the event in *parsed.
Status SampleWithData(size_t index, const std::string& key, json value, NewEvent* parsed) {
  json event = json::parse(SampleLines().at(index));
  event["data"][key] = std::move(value);
  return EventFromJson(event, parsed);
}

TEST(JsonCodecTest, SamplesCoverEveryEventType) {
  std::set<std::string> sample_types;
  for (const std::string& line : SampleLines()) sample_types.insert(json::parse(line)["type"].get<std::string>());
  for (EventType type : AllEventTypes()) {
    EXPECT_TRUE(sample_types.count(std::string(EventTypeName(type)))) << "no sample for " << EventTypeName(type);
  }
  EXPECT_EQ(AllEventTypes().size(), 37u);  // 35 domain types + checkpoint_signed, signing_key_rotated
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
  NewEvent parsed;
  Status status = SampleWithData(17, "service", "massage", &parsed);  // service_granted
  EXPECT_EQ(status.field(), "data.service");
  EXPECT_NE(status.message().find("unknown value 'massage'"), std::string::npos);
  status = SampleWithData(8, "target_group", "pensioner", &parsed);  // person_enrolled
  EXPECT_EQ(status.field(), "data.target_group");
  EXPECT_NE(status.message().find("adult_mental_disability"), std::string::npos);
}

TEST(JsonCodecTest, RulesDocumentMustBeAnObject) {
  NewEvent parsed;
  Status status = SampleWithData(7, "document", "caps: none", &parsed);  // rules_enacted
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

// ---- $jsonDocument: stored in the RFC 8785 canonical form (docs/audit.md §1.3) ------------------------------

// The text the ledger stores (and hashes) for a rules document.
std::string StoredDocument(const json& document) {
  NewEvent event;
  Status status = SampleWithData(7, "document", document, &event);  // rules_enacted
  EXPECT_TRUE(status.ok()) << status.ToString();
  const capnp::Text::Reader text = event.reader().getPayload().getRulesEnacted().getDocument();
  return std::string(text.cStr(), text.size());
}

Status DocumentRefusal(const json& document) {
  NewEvent event;
  return SampleWithData(7, "document", document, &event);
}

// RFC 8785 §3.2.3's own example: keys sort by UTF-16 code units, so U+1F600 (the surrogate pair D83D DE00) sorts
// before U+FB33, although its UTF-8 bytes (F0 ...) sort after (EF ...): byte order would give another text.
TEST(JsonDocumentTest, KeysSortByUtf16CodeUnitsAsRfc8785Says) {
  const json document = json::parse(
      R"({"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",)"
      R"("\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"})");
  const std::string expected =
      "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With "
      "Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\uFB33\":\"Hebrew Letter "
      "Dalet With Dagesh\"}";
  EXPECT_EQ(StoredDocument(document), expected);
  EXPECT_NE(document.dump(), expected);  // std::map's byte order puts the emoji last
  std::string canonical;
  ASSERT_TRUE(CanonicalJsonDocument(document, "document", &canonical).ok());
  EXPECT_EQ(canonical, expected);
}

// RFC 8785 §3.2.2.2's example string, plus the remaining two-character escapes, DEL and '/' (both literal).
TEST(JsonDocumentTest, StringsAreEscapedAsRfc8785Says) {
  const json document = json::parse(R"({"s":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","t":"\b\f\t\u007f\u001f/"})");
  EXPECT_EQ(StoredDocument(document),
            "{\"s\":\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"t\":\"\\b\\f\\t\x7f\\u001f/\"}");
}

TEST(JsonDocumentTest, IntegersWithinTheExactRangeAreTheOnlyNumbers) {
  EXPECT_EQ(StoredDocument(json::parse(R"({"n":[0,-0,-1,9007199254740991,-9007199254740991],"b":[true,false,null]})")),
            R"({"b":[true,false,null],"n":[0,0,-1,9007199254740991,-9007199254740991]})");
  for (const char* text : {R"({"caps":[1,{"x":2.5}]})", R"({"caps":[1,{"x":1.0}]})", R"({"caps":[1,{"x":1e2}]})"}) {
    Status status = DocumentRefusal(json::parse(text));
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(status.field(), "data.document.caps[1].x") << text;
    EXPECT_NE(status.message().find("must be integers"), std::string::npos) << status.ToString();
  }
  for (const char* text : {R"({"n":9007199254740992})", R"({"n":-9007199254740992})", R"({"n":18446744073709551615})"}) {
    Status status = DocumentRefusal(json::parse(text));
    EXPECT_EQ(status.field(), "data.document.n") << text;
    EXPECT_NE(status.message().find("2^53-1"), std::string::npos) << status.ToString();
  }
  Status status = DocumentRefusal(json{{"k", std::string("\xff")}});
  EXPECT_EQ(status.field(), "data.document.k");
  EXPECT_NE(status.message().find("UTF-8"), std::string::npos) << status.ToString();
}

// Documents already recorded keep their bytes (their hashes are in chains): before RFC 8785 the ledger stored
// nlohmann's dump() of the key-sorted object, and for every document the repository ships or its tests and
// fuzz corpus feed the ledger, the canonical form is that same text.
TEST(JsonDocumentTest, EveryDocumentTheRepositoryShipsKeepsItsStoredBytes) {
  const std::filesystem::path data(DI_TEST_DATA_DIR);
  std::vector<std::pair<std::string, json>> documents;
  std::ifstream rules(data / "../../projections/rules/mk313.json");
  documents.emplace_back("mk313.json", json::parse(rules));
  for (const std::string& line : SampleLines()) {
    const json event = json::parse(line);
    if (event["type"] == "rules_enacted") documents.emplace_back("catalog_samples.jsonl", event["data"]["document"]);
  }
  // The corpus's rules events that the ledger accepts (the others never reach the store).
  for (const auto& entry : std::filesystem::directory_iterator(data / "../fuzz/corpus/json_event")) {
    std::ifstream file(entry.path());
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    NewEvent accepted;
    if (!EventFromJsonText(text, &accepted).ok() || accepted.reader().getPayload().which() != EventType::RULES_ENACTED) {
      continue;
    }
    documents.emplace_back(entry.path().filename().string(), json::parse(text)["data"]["document"]);
  }
  ASSERT_GE(documents.size(), 4u);  // mk313, the catalog sample, and the corpus's accepted rules events
  for (const auto& [name, document] : documents) {
    std::string canonical;
    Status status = CanonicalJsonDocument(document, "document", &canonical);
    ASSERT_TRUE(status.ok()) << name << ": " << status.ToString();
    EXPECT_EQ(canonical, document.dump()) << name;
  }
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
