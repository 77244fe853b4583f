// ledger::EventFromReader (di/ledger/event_checks.h): a client's Cap'n Proto event is checked on the struct
// itself, by the rules the JSON codec applies. Until issue #14 the binary endpoint rendered each event as JSON
// text and parsed it back to reach those rules; OldEventFromReader below is that round trip, kept here as the
// oracle. For every event type (tests/data/catalog_samples.jsonl) and every field of it, each mutation a
// client's struct can carry (empty, too long, control characters, NUL, not UTF-8, not an id, an unknown
// enumerant, an impossible date, a bad document) must give the same refusal (code, field, message, event id)
// or the same canonical bytes on both paths.
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/event_checks.h"
#include "di/ledger/json_codec.h"
#include "test_util.h"

namespace di::ledger {
namespace {

using capnp::DynamicList;
using capnp::DynamicStruct;
using di::testing::SampleLines;

// The binary endpoint's path before issue #14: Event -> JSON text -> NewEvent.
Status OldEventFromReader(schema::Event::Reader event, NewEvent* out) {
  const std::string id(event.getId().cStr(), event.getId().size());
  const EventType type = event.getPayload().which();
  if (static_cast<size_t>(type) >= AllEventTypes().size()) {
    return Status::InvalidArgument("unknown event type (written by a newer schema?)", "type", id);
  }
  if (type == schema::Event::Payload::RULES_ENACTED && event.getPayload().getRulesEnacted().hasDocument()) {
    const capnp::Text::Reader text = event.getPayload().getRulesEnacted().getDocument();
    nlohmann::ordered_json document;
    Status status = ParseJson(std::string_view(text.begin(), text.size()), "data.document", &document);
    if (!status.ok()) return status.WithEventId(id);
    if (!document.is_object()) {
      return Status::InvalidArgument(std::string("must be a JSON object, got ") +
                                         (document.is_array() ? "an array" : document.is_string() ? "a string" : "a number"),
                                     "data.document", id);
    }
  }
  std::string text;
  try {
    text = EventToJson(event).dump();
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidArgument("a text field is not valid UTF-8", "", id);
  }
  return EventFromJsonText(text, out);
}

// The texts a client's struct can hold where the JSON codec would refuse one, and a few it accepts.
const std::vector<std::string>& TextMutations() {
  static const std::vector<std::string> texts = {
      "", "has spaces", std::string("a\0b", 3), "line\nbreak", "tab\there", "\x7f", "\xff\xfe", "\xc0\x80",
      "\xed\xa0\x80", std::string(4097, 'x'), std::string(65, 'x'), "P-1", "\xc5\xab"};
  return texts;
}

// Calls `mutate` once per mutation site of `event`'s payload (every text, enum, date, list of text or enum,
// recursively), each time on a fresh copy, and `check` with the mutated event.
void ForEachMutation(schema::Event::Reader original, const std::function<void(schema::Event::Reader, const std::string&)>& check) {
  // Envelope first.
  for (const std::string& text : TextMutations()) {
    for (int which = 0; which < 3; ++which) {
      capnp::MallocMessageBuilder message;
      message.setRoot(original);
      auto event = message.getRoot<schema::Event>();
      const capnp::Text::Reader value(text.data(), text.size());
      if (which == 0) event.setId(value);
      if (which == 1) event.setActor(value);
      if (which == 2) event.setCausationId(value);
      check(event.asReader(), "envelope " + std::to_string(which) + " '" + text + "'");
    }
  }
  for (int32_t days : {kNoDate, 0, -25567, -25568, DaysFromCivil(2199, 12, 31) + 1, INT32_MAX}) {
    capnp::MallocMessageBuilder message;
    message.setRoot(original);
    message.getRoot<schema::Event>().setEffectiveDate(days);
    check(message.getRoot<schema::Event>().asReader(), "effective date " + std::to_string(days));
  }
  // The payload: site `target` of the walk gets mutation `kind`; the walk counts sites.
  for (int target = 0;; ++target) {
    bool reached = false;
    for (int kind = 0; kind < static_cast<int>(TextMutations().size()) + 4; ++kind) {
      capnp::MallocMessageBuilder message;
      message.setRoot(original);
      auto event = message.getRoot<schema::Event>();
      auto payload = capnp::toDynamic(event).get("payload").as<DynamicStruct>();
      capnp::StructSchema::Field member = payload.getSchema().getFields()[0];
      KJ_IF_MAYBE(which, payload.which()) { member = *which; }
      auto data = payload.get(member).as<DynamicStruct>();
      int site = 0;
      std::string where;
      std::function<void(DynamicStruct::Builder, const std::string&)> walk = [&](DynamicStruct::Builder s,
                                                                                const std::string& path) {
        for (auto field : s.getSchema().getNonUnionFields()) {
          const capnp::Type type = field.getType();
          const std::string name = path + "." + field.getProto().getName().cStr();
          const bool is_site = type.isText() || type.isEnum() || type.isInt32() ||
                               (type.isList() && !type.asList().getElementType().isStruct());
          if (is_site && site++ == target) {
            reached = true;
            where = name;
            const size_t texts = TextMutations().size();
            if (type.isText() && kind < static_cast<int>(texts)) {
              s.set(field, capnp::Text::Reader(TextMutations()[kind].data(), TextMutations()[kind].size()));
            } else if (type.isText() && kind == static_cast<int>(texts)) {
              s.set(field, "{\"a\":1.5}");
            } else if (type.isText() && kind == static_cast<int>(texts) + 1) {
              s.set(field, "[1]");
            } else if (type.isEnum()) {
              s.set(field, capnp::DynamicEnum(type.asEnum(), static_cast<uint16_t>(kind == 0 ? 999 : kind - 1)));
            } else if (type.isInt32()) {
              s.set(field, kind == 0 ? kNoDate : kind == 1 ? INT32_MAX : kind == 2 ? 0 : kind - 2);
            } else if (type.isList() && type.asList().getElementType().isText() && kind < static_cast<int>(texts)) {
              auto list = s.init(field, 2).as<DynamicList>();
              list.set(0, "ok-id");
              list.set(1, capnp::Text::Reader(TextMutations()[kind].data(), TextMutations()[kind].size()));
            } else if (type.isList() && type.asList().getElementType().isEnum()) {
              auto list = s.init(field, 1).as<DynamicList>();
              list.set(0, capnp::DynamicEnum(type.asList().getElementType().asEnum(), static_cast<uint16_t>(kind * 7)));
            } else {
              s.clear(field);
            }
          } else if (type.isStruct() && s.has(field)) {
            walk(s.get(field).as<DynamicStruct>(), name);
          } else if (type.isList() && type.asList().getElementType().isStruct() && s.has(field)) {
            auto list = s.get(field).as<DynamicList>();
            for (unsigned i = 0; i < list.size(); ++i) walk(list[i].as<DynamicStruct>(), name + "[" + std::to_string(i) + "]");
          }
        }
      };
      walk(data, "data");
      if (!reached) break;
      check(event.asReader(), where + " kind " + std::to_string(kind));
    }
    if (!reached) return;
  }
}

TEST(EventChecksTest, EveryMutationOfEveryEventTypeGetsTheSameAnswerAsTheJsonRoundTrip) {
  size_t cases = 0, refused = 0;
  for (const std::string& line : SampleLines()) {
    NewEvent sample;
    ASSERT_TRUE(EventFromJsonText(line, &sample).ok()) << line;
    ForEachMutation(sample.reader(), [&](schema::Event::Reader event, const std::string& what) {
      NewEvent old_event, new_event;
      const Status old_status = OldEventFromReader(event, &old_event);
      const Status new_status = EventFromReader(event, &new_event);
      ++cases;
      const std::string context = std::string(EventTypeName(event.getPayload().which())) + " " + what;
      ASSERT_EQ(new_status.ToString(), old_status.ToString()) << context;
      ASSERT_EQ(new_status.field(), old_status.field()) << context;
      ASSERT_EQ(new_status.event_id(), old_status.event_id()) << context;
      if (old_status.ok()) {
        ASSERT_EQ(new_event.event.bytes(), old_event.event.bytes()) << context;
      } else {
        ++refused;
      }
    });
  }
  EXPECT_GT(cases, 3000u);
  EXPECT_GT(refused, cases / 2);
}

// The rules document: stored in its RFC 8785 form however the client spelt it; a document too deep for the
// event's JSON form is refused as the round trip refused it.
TEST(EventChecksTest, DocumentsAreCanonicalisedAndBoundedAsInJson) {
  for (const std::string& line : SampleLines()) {
    if (line.find("\"rules_enacted\"") == std::string::npos) continue;
    NewEvent sample;
    ASSERT_TRUE(EventFromJsonText(line, &sample).ok());
    for (int levels : {1, 2, 61, 62, 63, 64, 65}) {
      std::string document;
      for (int i = 0; i < levels; ++i) document += "{ \"b\" : 2, \"a\" :";
      document += "1" + std::string(levels, '}');
      capnp::MallocMessageBuilder message;
      message.setRoot(sample.reader());
      message.getRoot<schema::Event>().getPayload().getRulesEnacted().setDocument(document);
      const auto event = message.getRoot<schema::Event>().asReader();
      NewEvent old_event, new_event;
      const Status old_status = OldEventFromReader(event, &old_event);
      const Status new_status = EventFromReader(event, &new_event);
      ASSERT_EQ(new_status.ToString(), old_status.ToString()) << levels;
      ASSERT_EQ(new_status.field(), old_status.field()) << levels;
      if (old_status.ok()) {
        EXPECT_EQ(new_event.event.bytes(), old_event.event.bytes()) << levels;
        const auto stored = new_event.reader().getPayload().getRulesEnacted().getDocument();
        if (levels >= 3) EXPECT_EQ(std::string(stored.cStr()).substr(0, 12), "{\"a\":{\"a\":{\"") << levels;
      }
    }
  }
}

}  // namespace
}  // namespace di::ledger

namespace di::ledger {
namespace {

// Not a check: the figure for docs/performance.md (run with --gtest_also_run_disabled_tests). Per event, the
// binary endpoint's decoding of a delivery before (JSON round trip) and after (EventFromReader).
TEST(EventChecksTest, DISABLED_MeasureDecodePerEvent) {
  NewEvent delivery;
  for (const std::string& line : SampleLines()) {
    if (line.find("\"service_delivered\"") != std::string::npos) ASSERT_TRUE(EventFromJsonText(line, &delivery).ok());
  }
  constexpr int kRounds = 200000;
  for (int pass = 0; pass < 2; ++pass) {
    for (const bool old_path : {true, false}) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kRounds; ++i) {
        NewEvent out;
        const Status status = old_path ? OldEventFromReader(delivery.reader(), &out) : EventFromReader(delivery.reader(), &out);
        ASSERT_TRUE(status.ok());
      }
      const double micros = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      std::printf("%-28s %.2f us per event\n", old_path ? "JSON round trip (before)" : "EventFromReader (after)",
                  micros / kRounds);
    }
  }
}

}  // namespace
}  // namespace di::ledger
