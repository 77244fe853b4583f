// The routes of the HTTP API (docs/api.md): parse the request, call LedgerService, render JSON or CSV.
// Nothing here decides who may do what: LedgerService does, so every transport answers the same way.
#include <chrono>
#include <charconv>
#include <set>
#include <sstream>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/event.h"
#include "di/ledger/json_codec.h"
#include "di/projections/eligibility.h"
#include "http_internal.h"

namespace di::server::internal {
namespace {

using Json = nlohmann::ordered_json;
using ledger::Status;
using ledger::StatusCode;

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

bool ParseTarget(std::string_view target, Target* out, std::string* problem) {
  const size_t question = target.find('?');
  if (!UrlDecode(target.substr(0, question), &out->path)) {
    *problem = "bad percent-escape in the path";
    return false;
  }
  if (question == std::string_view::npos) return true;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t equals = pair.find('=');
    std::string key, value;
    if (!UrlDecode(pair.substr(0, equals), &key) ||
        (equals != std::string_view::npos && !UrlDecode(pair.substr(equals + 1), &value))) {
      *problem = "bad percent-escape in the query";
      return false;
    }
    if (!key.empty()) out->query[key] = value;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return true;
}

Reply JsonReply(unsigned status, const Json& json) {
  Reply reply;
  reply.status = status;
  // Error messages quote what the client sent (a path, an id, a query value), which need not be UTF-8:
  // replace such bytes (U+FFFD) rather than let dump() throw out of the handler, which would end the
  // server's io thread and with it the process (found by tests/fuzz/fuzz_http_request).
  reply.body = json.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  return reply;
}

Reply CsvReply(std::string csv) {
  Reply reply;
  reply.content_type = "text/csv; charset=utf-8";
  reply.body = std::move(csv);
  return reply;
}

// The query parameters a route accepts; anything else is a 400 naming it (a typo must not silently
// change the answer, e.g. "valid_on" for "valid_at").
Status CheckParameters(const Target& target, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : target.query) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) return Status::InvalidArgument("unknown query parameter", key);
  }
  return Status::Ok();
}

std::string Parameter(const Target& target, const std::string& name) {
  auto it = target.query.find(name);
  return it == target.query.end() ? std::string() : it->second;
}

Status NumberParameter(const Target& target, const std::string& name, uint64_t fallback, uint64_t* out) {
  const std::string text = Parameter(target, name);
  if (text.empty()) {
    *out = fallback;
    return Status::Ok();
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (error != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("must be a non-negative integer", name);
  }
  return Status::Ok();
}

Status BoolParameter(const Target& target, const std::string& name, bool* out) {
  const std::string text = Parameter(target, name);
  if (text.empty() || text == "false" || text == "0") {
    *out = false;
  } else if (text == "true" || text == "1") {
    *out = true;
  } else {
    return Status::InvalidArgument("must be true or false", name);
  }
  return Status::Ok();
}

// A calendar year (the activities report's `year`); absent: 0, every year.
Status YearParameter(const Target& target, int32_t* year) {
  uint64_t value = 0;
  if (!NumberParameter(target, "year", 0, &value).ok() || (value != 0 && (value < 1900 || value > 2199))) {
    return Status::InvalidArgument("must be a year 1900..2199", "year");
  }
  *year = static_cast<int32_t>(value);
  return Status::Ok();
}

Status FormatParameter(const Target& target, bool csv_allowed, std::string* format) {
  *format = Parameter(target, "format");
  if (format->empty()) *format = "json";
  if (*format == "json" || (csv_allowed && *format == "csv")) return Status::Ok();
  return Status::InvalidArgument(csv_allowed ? "must be json or csv" : "must be json", "format");
}

// Reconciliation's CSV comes as one of three tables (claims, lines, payments); JSON holds them all.
Status TableParameter(const std::string& format, const std::string& table) {
  if (table.empty()) return Status::Ok();
  if (format != "csv") return Status::InvalidArgument("is for format=csv (JSON holds every table)", "table");
  Status status = projections::CheckReconciliationTable(table);
  return status.ok() ? Status::Ok() : Status::InvalidArgument(status.message(), "table");
}

Json PageToJson(const ReadPage& page) {
  Json json;
  json["events"] = page.events;
  json["next_after"] = page.next_after;
  json["head"] = page.head;
  return json;
}

class Router {
 public:
  // `header_only`: the body has not been read (AcceptsBody): stop before the handler, at the checks that need
  // no body (version, target, route, method, token), and say in accepted() whether they passed.
  Router(Context& context, const Request& request, std::string* route, bool header_only = false)
      : context_(context), request_(request), route_(route), header_only_(header_only) {}

  bool accepted() const { return accepted_; }

  bool Dispatch(Reply* reply, SubscriptionPlan* subscription) {
    std::string problem;
    if (!ParseTarget(std::string_view(request_.target().data(), request_.target().size()), &target_, &problem)) {
      *route_ = "invalid";
      *reply = ErrorReply(400, "invalid_argument", problem, "path");
      return false;
    }
    const std::string& path = target_.path;
    // HEAD is GET without the body (the connection writes only the header), so it is allowed wherever GET is.
    const bool get = request_.method() == http::verb::get || request_.method() == http::verb::head;
    const bool post = request_.method() == http::verb::post;

    // Unauthenticated: health and metrics (no personal data, for probes and scrapers).
    if (path == "/healthz") return Only(get, "GET, HEAD", "/healthz", reply, [&] { return Health(); });
    if (path == "/metrics") return Only(get, "GET, HEAD", "/metrics", reply, [&] { return MetricsText(); });

    if (path == "/v1/events") {
      if (post) return Authenticated("/v1/events", reply, [&] { return Append(); });
      return Only(get, "GET, HEAD, POST", "/v1/events", reply, [&] { return ReadLog(); });
    }
    if (path.rfind("/v1/events/", 0) == 0) {
      const std::string id = path.substr(std::string("/v1/events/").size());
      return Only(get, "GET, HEAD", "/v1/events/{id}", reply, [&] { return GetEvent(id); });
    }
    if (path.rfind("/v1/streams/", 0) == 0) {
      const std::string stream = path.substr(std::string("/v1/streams/").size());
      return Only(get, "GET, HEAD", "/v1/streams/{stream}", reply, [&] { return ReadStream(stream); });
    }
    if (path == "/v1/subscribe") {
      *route_ = "/v1/subscribe";
      if (!get) {
        *reply = MethodNotAllowed("GET, HEAD");
        return false;
      }
      // The stream is chunked NDJSON, and HTTP/1.0 has no chunked transfer coding (a 1.0 client could not
      // tell a chunk size from an event). The connection answers this in HTTP/1.0.
      if (request_.version() < 11) {
        *reply = ErrorReply(400, "unsupported_http_version",
                            "GET /v1/subscribe streams chunked NDJSON, which needs HTTP/1.1; this request is HTTP/1.0 "
                            "(a proxy in front must speak HTTP/1.1 to the server, docs/api.md)",
                            "http_version");
        return false;
      }
      if (Status status = Authenticate(); !status.ok()) {
        *reply = Error(status);
        return false;
      }
      if (header_only_) {
        accepted_ = true;
        return false;
      }
      Status status = Subscribe(subscription);
      if (!status.ok()) {
        *reply = Error(status);
        return false;
      }
      return true;
    }
    if (path.rfind("/v1/entitlements/", 0) == 0) {
      const std::string person = path.substr(std::string("/v1/entitlements/").size());
      return Only(get, "GET, HEAD", "/v1/entitlements/{person_id}", reply, [&] { return Entitlements(person); });
    }
    if (path == "/v1/reports/funding") return Only(get, "GET, HEAD", path, reply, [&] { return Funding(); });
    if (path == "/v1/reports/changes") return Only(get, "GET, HEAD", path, reply, [&] { return FundingChanges(); });
    if (path == "/v1/reports/reconciliation") return Only(get, "GET, HEAD", path, reply, [&] { return Reconciliation(); });
    if (path == "/v1/reports/indicators") return Only(get, "GET, HEAD", path, reply, [&] { return Indicators(); });
    if (path == "/v1/reports/partners") return Only(get, "GET, HEAD", path, reply, [&] { return Partners(); });
    if (path == "/v1/reports/activities") return Only(get, "GET, HEAD", path, reply, [&] { return Activities(); });
    if (path == "/v1/audit/head") return Only(get, "GET, HEAD", path, reply, [&] { return AuditHead(); });
    if (path == "/v1/audit/verify") return Only(get, "GET, HEAD", path, reply, [&] { return AuditVerify(); });
    if (path == "/v1/whoami") return Only(get, "GET, HEAD", path, reply, [&] { return WhoAmI(); });
    if (path == "/v1/admin/backup") return Only(post, "POST", path, reply, [&] { return AdminBackup(); });
    *route_ = "unknown";
    *reply = ErrorReply(404, "not_found", "no route " + path + " (see docs/api.md)", "path");
    return false;
  }

 private:
  // Runs `handler` for a GET-only (or listed-methods) route; authenticated unless it is health/metrics.
  template <typename Handler>
  bool Only(bool method_ok, const char* allow, const std::string& route, Reply* reply, Handler handler) {
    *route_ = route;
    if (!method_ok) {
      *reply = MethodNotAllowed(allow);
      return false;
    }
    if (route == "/healthz" || route == "/metrics") {
      if (header_only_) {
        accepted_ = true;
        return false;
      }
      *reply = handler();
      return false;
    }
    return Authenticated(route, reply, handler);
  }

  template <typename Handler>
  bool Authenticated(const std::string& route, Reply* reply, Handler handler) {
    *route_ = route;
    if (Status status = Authenticate(); !status.ok()) {
      *reply = Error(status);
      return false;
    }
    // Who may write is settled before the body is read ("Expect: 100-continue") or parsed: a body that a role
    // may not append costs the server nothing.
    if (request_.method() == http::verb::post && route == "/v1/events") {
      bool keep_recorded_at = false;
      Status status = BoolParameter(target_, "keep_recorded_at", &keep_recorded_at);
      if (status.ok()) status = context_.service->AuthorizeAppend(principal_, keep_recorded_at);
      if (!status.ok()) {
        *reply = Error(status);
        return false;
      }
    }
    if (header_only_) {
      accepted_ = true;
      return false;
    }
    *reply = handler();
    return false;
  }

  Reply MethodNotAllowed(const char* allow) {
    Reply reply = ErrorReply(405, "method_not_allowed",
                             "method " + std::string(request_.method_string()) + " is not allowed here (allowed: " +
                                 allow + ")");
    reply.headers.emplace_back("Allow", allow);
    return reply;
  }

  Status Authenticate() {
    const auto header = request_.find(http::field::authorization);
    std::string_view value =
        header == request_.end() ? std::string_view() : std::string_view(header->value().data(), header->value().size());
    constexpr std::string_view kBearer = "Bearer ";
    if (value.substr(0, kBearer.size()) != kBearer) {
      return Status::Unauthenticated("an Authorization: Bearer <token> header is required");
    }
    return context_.tokens->Authenticate(value.substr(kBearer.size()), &principal_);
  }

  // Error replies, counting denials (every 403 is counted by route and role).
  Reply Error(const Status& status) {
    if (status.code() == StatusCode::kForbidden && context_.metrics != nullptr) {
      context_.metrics->Add("di_http_denied_total", {{"route", *route_}, {"role", std::string(RoleName(principal_.role))}});
    }
    return ErrorReply(status);
  }

  Reply Health() {
    Json json;
    json["status"] = context_.stopping ? "stopping" : "ok";
    json["head_position"] = context_.service->store().Head().position;
    json["visible_position"] = context_.service->VisiblePosition();
    return JsonReply(context_.stopping ? 503 : 200, json);
  }

  Reply MetricsText() {
    Reply reply;
    reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
    reply.body = context_.metrics != nullptr ? context_.metrics->Render() : std::string();
    return reply;
  }

  Reply WhoAmI() {
    Json json;
    json["name"] = principal_.name;
    json["role"] = std::string(RoleName(principal_.role));
    if (principal_.role == Role::kClerk) json["municipality"] = principal_.municipality_id;
    return JsonReply(200, json);
  }

  Reply Append() {
    if (Status status = CheckParameters(target_, {"keep_recorded_at"}); !status.ok()) return Error(status);
    // A migration keeps each event's "recorded_at" (docs/api.md); the role may append, and keep recorded times if
    // it asks to (Authenticated asked LedgerService::AuthorizeAppend before the body was parsed).
    ledger::EventJsonOptions parse_options;
    if (Status status = BoolParameter(target_, "keep_recorded_at", &parse_options.keep_recorded_at); !status.ok()) {
      return Error(status);
    }
    nlohmann::json body;
    if (Status parsed = ledger::ParseJson(request_.body(), "", &body); !parsed.ok()) {
      // Fields name what is in the body ("events[0].data.document..."); the body itself is "body".
      const bool names_body = parsed.field().empty() || parsed.field().front() == '[';
      return Error(names_body ? parsed.WithFieldPrefix("body") : parsed);
    }
    if (!body.is_object() || !body.contains("events") || !body["events"].is_array()) {
      return Error(Status::InvalidArgument("the body must be an object {\"events\": [...]}", "events"));
    }
    for (const auto& [key, value] : body.items()) {
      if (key != "events") return Error(Status::InvalidArgument("unknown field", key));
    }
    const nlohmann::json& events = body["events"];
    std::vector<ledger::NewEvent> batch;
    batch.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      ledger::NewEvent event;
      const Status status = ledger::EventFromJson(events[i], &event, parse_options);
      if (!status.ok()) return Error(status.WithFieldPrefix("events[" + std::to_string(i) + "]"));
      batch.push_back(std::move(event));
    }
    std::vector<std::string> ids;
    for (const auto& event : batch) ids.push_back(event.id());
    ledger::AppendResult result;
    Status status = context_.service->Append(principal_, std::move(batch), &result);
    if (!status.ok()) {
      // Name the batch index of the event the error is about.
      for (size_t i = 0; i < ids.size(); ++i) {
        if (!status.event_id().empty() && ids[i] == status.event_id()) {
          const std::string prefix = "events[" + std::to_string(i) + "]";
          status = Status::Make(status.code(), status.message(),
                                status.field().empty() ? prefix : prefix + "." + status.field(), status.event_id());
          break;
        }
      }
      return Error(status);  // a 429 carries Retry-After (ErrorReply)
    }
    Json json;
    json["positions"] = result.positions;
    json["appended"] = result.appended;
    json["last_position"] = result.last_position;
    // 201: something was created; 200: a pure retry, everything was already recorded.
    return JsonReply(result.appended > 0 ? 201 : 200, json);
  }

  Reply ReadLog() {
    if (Status status = CheckParameters(target_, {"after", "limit", "types", "stream_prefix"}); !status.ok()) {
      return Error(status);
    }
    uint64_t after = 0, limit = 0;
    EventFilter filter;
    Status status = NumberParameter(target_, "after", 0, &after);
    if (status.ok()) status = NumberParameter(target_, "limit", 0, &limit);
    if (status.ok()) status = EventFilter::Parse(Parameter(target_, "types"), Parameter(target_, "stream_prefix"), &filter);
    ReadPage page;
    if (status.ok()) status = context_.service->ReadLog(principal_, after, limit, filter, &page);
    if (!status.ok()) return Error(status);
    return JsonReply(200, PageToJson(page));
  }

  Reply GetEvent(const std::string& id) {
    if (Status status = CheckParameters(target_, {}); !status.ok()) return Error(status);
    Json event;
    Status status = context_.service->GetEvent(principal_, id, &event);
    if (!status.ok()) return Error(status);
    return JsonReply(200, event);
  }

  Reply ReadStream(const std::string& stream) {
    if (Status status = CheckParameters(target_, {"after_version", "limit"}); !status.ok()) return Error(status);
    uint64_t after = 0, limit = 0;
    Status status = NumberParameter(target_, "after_version", 0, &after);
    if (status.ok()) status = NumberParameter(target_, "limit", 0, &limit);
    ReadPage page;
    if (status.ok()) status = context_.service->ReadStream(principal_, stream, after, limit, &page);
    if (!status.ok()) return Error(status);
    Json json;
    json["stream"] = stream;
    json["events"] = page.events;
    json["next_after_version"] = page.next_after;
    json["head"] = page.head;
    return JsonReply(200, json);
  }

  Status Subscribe(SubscriptionPlan* plan) {
    Status status = CheckParameters(target_, {"after", "types", "stream_prefix"});
    if (status.ok()) status = NumberParameter(target_, "after", 0, &plan->after);
    if (status.ok()) status = EventFilter::Parse(Parameter(target_, "types"), Parameter(target_, "stream_prefix"), &plan->filter);
    if (status.ok()) status = context_.service->AuthorizeSubscribe(principal_, plan->filter);
    if (status.ok() && context_.subscribers.load() >= context_.options.max_subscribers) {
      status = Status::Make(StatusCode::kShutdown, "too many subscriptions open; retry later");
    }
    plan->principal = principal_;
    return status;
  }

  AsOf ReadAsOf() { return AsOf{Parameter(target_, "valid_at"), Parameter(target_, "known_at")}; }

  Reply Entitlements(const std::string& person) {
    Status status = CheckParameters(target_, {"valid_at", "known_at", "explain", "format"});
    bool explain = false;
    std::string format;
    if (status.ok()) status = BoolParameter(target_, "explain", &explain);
    if (status.ok()) status = FormatParameter(target_, true, &format);
    projections::Entitlements entitlements;
    if (status.ok()) status = context_.service->QueryEntitlements(principal_, person, ReadAsOf(), explain, &entitlements);
    if (!status.ok()) return Error(status);
    if (format == "csv") return CsvReply(projections::EntitlementsToCsv(entitlements));
    return JsonReply(200, projections::EntitlementsToJson(entitlements));
  }

  Reply Funding() {
    Status status = CheckParameters(
        target_, {"valid_at", "known_at", "project", "municipality", "group_by", "explain", "format"});
    projections::FundingQuery query;
    std::string format;
    if (status.ok()) status = BoolParameter(target_, "explain", &query.explain);
    if (status.ok()) status = FormatParameter(target_, true, &format);
    query.project_id = Parameter(target_, "project");
    query.municipality_id = Parameter(target_, "municipality");
    query.group_by = GroupByParameter();
    std::set<std::string> keep;
    if (status.ok()) status = projections::FundingDimensions(query.group_by, &keep);
    projections::FundingReport report;
    if (status.ok()) status = context_.service->QueryFunding(principal_, ReadAsOf(), query, &report);
    if (!status.ok()) return Error(status);
    if (format == "csv") return CsvReply(projections::FundingToCsv(report));
    return JsonReply(200, projections::FundingToJson(report));
  }

  // group_by=a,b: the dimensions a funding answer keeps (checked by projections::FundingDimensions).
  std::vector<std::string> GroupByParameter() const {
    std::vector<std::string> dimensions;
    std::stringstream list(Parameter(target_, "group_by"));
    for (std::string dimension; std::getline(list, dimension, ',');) {
      if (!dimension.empty()) dimensions.push_back(dimension);
    }
    return dimensions;
  }

  // What changed in the funding figures between known_at and to, and the events that changed them.
  Reply FundingChanges() {
    Status status =
        CheckParameters(target_, {"valid_at", "known_at", "to", "project", "municipality", "group_by", "format"});
    projections::FundingChangesQuery query;
    std::string format;
    if (status.ok()) status = FormatParameter(target_, true, &format);
    query.funding.project_id = Parameter(target_, "project");
    query.funding.municipality_id = Parameter(target_, "municipality");
    query.funding.group_by = GroupByParameter();
    std::set<std::string> keep;
    if (status.ok()) status = projections::FundingDimensions(query.funding.group_by, &keep);
    projections::FundingChangesReport report;
    if (status.ok()) {
      status = context_.service->QueryFundingChanges(principal_, ReadAsOf(), Parameter(target_, "to"), query, &report);
    }
    if (!status.ok()) return Error(status);
    if (format == "csv") return CsvReply(projections::FundingChangesToCsv(report));
    return JsonReply(200, projections::FundingChangesToJson(report));
  }

  Reply Reconciliation() {
    Status status =
        CheckParameters(target_, {"valid_at", "known_at", "project", "municipality", "claim", "format", "table"});
    std::string format;
    if (status.ok()) status = FormatParameter(target_, true, &format);
    const std::string table = Parameter(target_, "table");
    if (status.ok()) status = TableParameter(format, table);
    projections::ReconciliationQuery query;
    query.project_id = Parameter(target_, "project");
    query.municipality_id = Parameter(target_, "municipality");
    query.claim_id = Parameter(target_, "claim");
    std::vector<projections::ClaimReconciliation> claims;
    int32_t valid_date = 0;
    uint64_t known_at = 0;
    std::string note;
    if (status.ok()) {
      status = context_.service->QueryReconciliation(principal_, ReadAsOf(), query, &claims, &valid_date, &known_at, &note);
    }
    if (!status.ok()) return Error(status);
    if (format == "csv") return CsvReply(projections::ReconciliationToCsv(claims, table));
    return JsonReply(200, projections::ReconciliationToJson(claims, valid_date, known_at, note));
  }

  Reply Indicators() {
    Status status = CheckParameters(target_, {"valid_at", "known_at", "project", "municipality", "format"});
    std::string format;
    if (status.ok()) status = FormatParameter(target_, true, &format);
    projections::IndicatorsReport report;
    if (status.ok()) {
      status = context_.service->QueryIndicators(principal_, ReadAsOf(), Parameter(target_, "project"),
                                                 Parameter(target_, "municipality"), &report);
    }
    if (!status.ok()) return Error(status);
    if (format == "csv") return CsvReply(projections::IndicatorsToCsv(report));
    return JsonReply(200, projections::IndicatorsToJson(report));
  }

  Reply Partners() {
    Status status = CheckParameters(target_, {"valid_at", "known_at", "project", "format"});
    std::string format;
    if (status.ok()) status = FormatParameter(target_, true, &format);
    projections::PartnersReport report;
    if (status.ok()) {
      status = context_.service->QueryPartners(principal_, ReadAsOf(), Parameter(target_, "project"), &report);
    }
    if (!status.ok()) return Error(status);
    if (format == "csv") return CsvReply(projections::PartnersToCsv(report));
    return JsonReply(200, projections::PartnersToJson(report));
  }

  Reply Activities() {
    Status status = CheckParameters(target_, {"valid_at", "known_at", "project", "year", "format"});
    std::string format;
    if (status.ok()) status = FormatParameter(target_, true, &format);
    int32_t year = 0;
    if (status.ok()) status = YearParameter(target_, &year);
    projections::ActivitiesReport report;
    if (status.ok()) {
      status = context_.service->QueryActivities(principal_, ReadAsOf(), Parameter(target_, "project"), year, &report);
    }
    if (!status.ok()) return Error(status);
    if (format == "csv") return CsvReply(projections::ActivitiesToCsv(report));
    return JsonReply(200, projections::ActivitiesToJson(report));
  }

  Reply AuditHead() {
    if (Status status = CheckParameters(target_, {}); !status.ok()) return Error(status);
    ledger::LogHead head;
    Status status = context_.service->ChainHead(principal_, &head);
    if (!status.ok()) return Error(status);
    Json json;
    json["position"] = head.position;
    json["hash"] = ledger::HashToHex(head.hash);
    json["recorded_at"] = head.position == 0 ? "" : ledger::FormatUtcMicros(head.recorded_at_micros);
    return JsonReply(200, json);
  }

  // POST /v1/admin/backup: an online backup into the directory the operator gave `serve --backup-dir`.
  Reply AdminBackup() {
    if (Status status = CheckParameters(target_, {}); !status.ok()) return Error(status);
    const auto started = std::chrono::steady_clock::now();
    ledger::BackupResult result;
    Status status = context_.service->Backup(principal_, &result);
    if (!status.ok()) return Error(status);
    Json json;
    json["backup_id"] = result.backup_id;
    json["head_position"] = result.head.position;
    json["head_hash"] = ledger::HashToHex(result.head.hash);
    json["files"] = result.file_count;
    json["bytes"] = result.size_bytes;
    json["milliseconds"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    return JsonReply(200, json);
  }

  Reply AuditVerify() {
    Status status = CheckParameters(target_, {"from", "to"});
    uint64_t from = 0, to = 0;
    if (status.ok()) status = NumberParameter(target_, "from", 1, &from);
    if (status.ok()) status = NumberParameter(target_, "to", 0, &to);
    RangeVerifyReport report;
    if (status.ok()) status = context_.service->VerifyRange(principal_, from, to, &report);
    if (!status.ok()) return Error(status);
    Json json;
    json["from"] = report.from;
    json["to"] = report.to;
    json["events_checked"] = report.events_checked;
    json["ok"] = report.first_bad_position == 0;
    if (report.first_bad_position != 0) {
      json["first_bad_position"] = report.first_bad_position;
      json["problem"] = report.problem;
    } else {
      json["hash"] = ledger::HashToHex(report.last_hash);
    }
    return JsonReply(200, json);
  }

  Context& context_;
  const Request& request_;
  std::string* route_;
  bool header_only_ = false;
  bool accepted_ = false;
  Target target_;
  Principal principal_;
};

}  // namespace

unsigned HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kForbidden: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kConflict: return 409;
    case StatusCode::kDuplicateId: return 409;
    case StatusCode::kBusy: return 429;
    case StatusCode::kShutdown: return 503;
    case StatusCode::kIOError: return 503;
    case StatusCode::kCorruption: return 500;
  }
  return 500;
}

Reply ErrorReply(unsigned http_status, std::string_view code, std::string message, std::string field) {
  Json error;
  error["code"] = std::string(code);
  error["message"] = std::move(message);
  error["field"] = std::move(field);
  return JsonReply(http_status, Json{{"error", std::move(error)}});
}

Reply ErrorReply(const Status& status) {
  Json error;
  error["code"] = std::string(status.CodeName());
  error["message"] = status.message();
  error["field"] = status.field();
  if (!status.event_id().empty()) error["event_id"] = status.event_id();
  Reply reply = JsonReply(HttpStatusFor(status.code()), Json{{"error", std::move(error)}});
  if (status.code() == StatusCode::kUnauthenticated) reply.headers.emplace_back("WWW-Authenticate", "Bearer");
  // Every 429 says when to try again (RFC 6585 section 4): the store's append queue drains within milliseconds,
  // and a past-known-at model load (the other source of kBusy) takes about half a second (docs/performance.md).
  if (status.code() == StatusCode::kBusy) reply.headers.emplace_back("Retry-After", "1");
  return reply;
}

bool Route(Context& context, const Request& request, Reply* reply, SubscriptionPlan* subscription, std::string* route) {
  Router router(context, request, route);
  return router.Dispatch(reply, subscription);
}

bool AcceptsBody(Context& context, const Request& header, Reply* refusal, std::string* route) {
  Router router(context, header, route, /*header_only=*/true);
  SubscriptionPlan unused;
  router.Dispatch(refusal, &unused);
  return router.accepted();
}

bool UrlDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;  // "%" or "%4" at the end
    int value = 0;
    const auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (error != std::errc() || end != text.data() + i + 3) return false;
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

}  // namespace di::server::internal
