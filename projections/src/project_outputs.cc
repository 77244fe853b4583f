#include "di/projections/project_outputs.h"

#include <algorithm>
#include <sstream>
#include <tuple>

#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/projections/csv.h"
#include "di/projections/person_scope.h"

namespace di::projections {
namespace {

using ledger::FormatDate;
using ledger::kNoDate;

std::string DateOrEmpty(int32_t date) { return date == kNoDate ? "" : FormatDate(date); }

std::string NameOf(const LedgerModel& model, schema::PartnerKind kind, const std::string& id) {
  if (kind == schema::PartnerKind::MUNICIPALITY) {
    auto found = model.municipalities().find(id);
    return found == model.municipalities().end() ? "" : found->second.name;
  }
  auto found = model.providers().find(id);
  return found == model.providers().end() ? "" : found->second.name;
}

Status NeedProject(const LedgerModel& model, const std::string& project_id) {
  if (!project_id.empty() && !model.projects().count(project_id)) {
    return Status::NotFound("no project '" + project_id + "'", "project");
  }
  return Status::Ok();
}

// Every partnership of one project as rows, whatever its dates (ComputePartners sorts them by the valid date).
std::vector<PartnerRow> PartnershipsOf(const LedgerModel& model, const ProjectFacts& project) {
  std::vector<PartnerRow> rows;
  // Municipalities registered with the project that left it (a partnership without a first day).
  std::map<std::string, const PartnershipFacts*> left_own;
  for (const PartnershipFacts& partnership : project.partnerships) {
    if (partnership.from == kNoDate) {
      left_own[partnership.partner_id] = &partnership;
      continue;
    }
    PartnerRow row{project.id, partnership.partner_id, NameOf(model, partnership.kind, partnership.partner_id),
                   ledger::EnumValueName(partnership.kind), "joined", partnership.from, partnership.until,
                   partnership.reason, partnership.branches, partnership.positions};
    rows.push_back(std::move(row));
  }
  for (const auto& [id, municipality] : model.municipalities()) {
    if (municipality.project_id != project.id || municipality.registered_on == kNoDate) continue;
    PartnerRow row{project.id, id, municipality.name, "municipality", "registered", municipality.registered_on,
                   kNoDate, "", {}, {}};
    if (!municipality.merged_into.empty()) {
      row.until = municipality.merged_on;
      row.reason = "merged into " + municipality.merged_into;
    }
    auto left = left_own.find(id);
    if (left != left_own.end() && (row.until == kNoDate || left->second->until < row.until)) {
      row.until = left->second->until;
      row.reason = left->second->reason;
      row.positions = left->second->positions;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

Status ComputePartners(const LedgerModel& model, int32_t valid_date, const std::string& project_id,
                       PartnersReport* out) {
  *out = PartnersReport{};
  out->valid_date = valid_date;
  out->known_at_position = model.last_position();
  DI_RETURN_IF_ERROR(NeedProject(model, project_id));
  for (const auto& [id, project] : model.projects()) {
    if (!project_id.empty() && id != project_id) continue;
    PartnerCounts counts;
    counts.project_id = id;
    for (PartnerRow& row : PartnershipsOf(model, project)) {
      if (row.from > valid_date) continue;
      if (row.until != kNoDate && row.until <= valid_date) {
        out->former.push_back(std::move(row));
        continue;
      }
      ++counts.by_kind[row.kind];
      ++counts.partners;
      counts.branches += static_cast<int64_t>(row.branches.size());
      out->partners.push_back(std::move(row));
    }
    out->projects.push_back(std::move(counts));
  }
  auto order = [](const PartnerRow& a, const PartnerRow& b) {
    return std::tie(a.project_id, a.partner_id, a.from) < std::tie(b.project_id, b.partner_id, b.from);
  };
  std::sort(out->partners.begin(), out->partners.end(), order);
  std::sort(out->former.begin(), out->former.end(), order);
  return Status::Ok();
}

namespace {

nlohmann::ordered_json PartnerJson(const PartnerRow& row) {
  nlohmann::ordered_json json{{"project_id", row.project_id}, {"partner_id", row.partner_id},
                              {"name", row.name},             {"kind", row.kind},
                              {"basis", row.basis},           {"from", FormatDate(row.from)}};
  if (row.until != kNoDate) json["until"] = FormatDate(row.until);
  if (!row.reason.empty()) json["reason"] = row.reason;
  if (!row.branches.empty()) json["branches"] = row.branches;
  json["positions"] = row.positions;
  return json;
}

void PartnerCsvRow(std::ostringstream& csv, const PartnerRow& row, const char* status) {
  std::string branches;
  for (const std::string& branch : row.branches) branches += (branches.empty() ? "" : " ") + branch;  // ids
  csv << CsvField(row.project_id) << ',' << CsvField(row.partner_id) << ',' << CsvField(row.name) << ',' << row.kind
      << ',' << row.basis << ',' << FormatDate(row.from) << ',' << DateOrEmpty(row.until) << ',' << status << ','
      << CsvField(row.reason) << ',' << CsvField(branches) << '\n';
}

}  // namespace

nlohmann::ordered_json PartnersToJson(const PartnersReport& report) {
  nlohmann::ordered_json json{{"valid_date", FormatDate(report.valid_date)},
                              {"known_at_position", report.known_at_position}};
  if (!report.note.empty()) json["note"] = report.note;
  json["projects"] = nlohmann::ordered_json::array();
  for (const PartnerCounts& counts : report.projects) {
    json["projects"].push_back({{"project_id", counts.project_id},
                                {"partners", counts.partners},
                                {"by_kind", counts.by_kind},
                                {"branches", counts.branches}});
  }
  json["partners"] = nlohmann::ordered_json::array();
  for (const PartnerRow& row : report.partners) json["partners"].push_back(PartnerJson(row));
  json["former"] = nlohmann::ordered_json::array();
  for (const PartnerRow& row : report.former) json["former"].push_back(PartnerJson(row));
  return json;
}

std::string PartnersToCsv(const PartnersReport& report) {
  std::ostringstream csv;
  csv << "project_id,partner_id,name,kind,basis,from,until,status,reason,branches\n";
  for (const PartnerRow& row : report.partners) PartnerCsvRow(csv, row, "partner");
  for (const PartnerRow& row : report.former) PartnerCsvRow(csv, row, "former");
  return csv.str();
}

Status ComputeActivities(const LedgerModel& model, int32_t valid_date, const std::string& project_id, int32_t year,
                         ActivitiesReport* out) {
  *out = ActivitiesReport{};
  out->valid_date = valid_date;
  out->known_at_position = model.last_position();
  DI_RETURN_IF_ERROR(NeedProject(model, project_id));
  std::map<std::tuple<std::string, int32_t, std::string>, ActivitySummaryRow> summary;
  for (const auto& [id, project] : model.projects()) {
    if (!project_id.empty() && id != project_id) continue;
    for (const auto& [activity_id, activity] : project.activities) {
      const int32_t first_year = ledger::CivilFromDays(activity.first_date).year;
      if (activity.last_date > valid_date || (year != 0 && first_year != year)) continue;
      const std::string kind = ledger::EnumValueName(activity.kind);
      out->activities.push_back(ActivityRow{id, activity_id, kind, activity.title, activity.first_date,
                                            activity.last_date, activity.participants, activity.venue,
                                            activity.positions});
      ActivitySummaryRow& row = summary[{id, first_year, kind}];
      row.project_id = id;
      row.year = first_year;
      row.kind = kind;
      ++row.activities;
      row.participants += activity.participants;
      row.calendar_days += activity.last_date - activity.first_date + 1;
    }
  }
  for (auto& [key, row] : summary) out->rows.push_back(std::move(row));
  std::sort(out->activities.begin(), out->activities.end(), [](const ActivityRow& a, const ActivityRow& b) {
    return std::tie(a.project_id, a.first_date, a.activity_id) < std::tie(b.project_id, b.first_date, b.activity_id);
  });
  return Status::Ok();
}

nlohmann::ordered_json ActivitiesToJson(const ActivitiesReport& report) {
  nlohmann::ordered_json json{{"valid_date", FormatDate(report.valid_date)},
                              {"known_at_position", report.known_at_position}};
  if (!report.note.empty()) json["note"] = report.note;
  json["rows"] = nlohmann::ordered_json::array();
  for (const ActivitySummaryRow& row : report.rows) {
    json["rows"].push_back({{"project_id", row.project_id},
                            {"year", row.year},
                            {"kind", row.kind},
                            {"activities", row.activities},
                            {"participants", row.participants},
                            {"calendar_days", row.calendar_days}});
  }
  json["activities"] = nlohmann::ordered_json::array();
  for (const ActivityRow& row : report.activities) {
    nlohmann::ordered_json item{{"project_id", row.project_id}, {"activity_id", row.activity_id},
                                {"kind", row.kind},             {"title", row.title},
                                {"first_date", FormatDate(row.first_date)},
                                {"last_date", FormatDate(row.last_date)},
                                {"participants", row.participants}};
    if (!row.venue.empty()) item["venue"] = row.venue;
    item["positions"] = row.positions;
    json["activities"].push_back(std::move(item));
  }
  return json;
}

std::string ActivitiesToCsv(const ActivitiesReport& report) {
  std::ostringstream csv;
  csv << "project_id,year,kind,activities,participants,calendar_days\n";
  for (const ActivitySummaryRow& row : report.rows) {
    csv << CsvField(row.project_id) << ',' << row.year << ',' << row.kind << ',' << row.activities << ','
        << row.participants << ',' << row.calendar_days << '\n';
  }
  return csv.str();
}

Status LoadProjectOutputs(ledger::EventStore& store, uint64_t known_at_position, LedgerModel* model) {
  using P = schema::Event::Payload;
  ScopedLoadStats stats;
  return LoadTypesAndStreams(store, known_at_position,
                             {P::PROJECT_REGISTERED, P::MUNICIPALITY_REGISTERED, P::MUNICIPALITIES_MERGED,
                              P::PROVIDER_REGISTERED, P::PARTNER_JOINED, P::PARTNER_LEFT, P::PROJECT_ACTIVITY_HELD},
                             {}, model, &stats);
}

}  // namespace di::projections
