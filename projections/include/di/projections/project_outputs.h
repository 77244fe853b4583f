// What a project is besides its money: its partners (sadarbības partneri) on a date, and the activities it held
// (camps, trainings, work with schools...) with their participants, per project, year and kind (brief §6.5, §7).
// Pure folds of the project streams and the municipalities (a few hundred events a region), so an answer as known
// at any position folds them from the log's type index (LoadProjectOutputs) rather than keeping a journal.
#ifndef DI_PROJECTIONS_PROJECT_OUTPUTS_H_
#define DI_PROJECTIONS_PROJECT_OUTPUTS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "di/ledger/event_store.h"
#include "di/projections/ledger_model.h"

namespace di::projections {

struct PartnerRow {
  std::string project_id;
  std::string partner_id;
  std::string name;               // the municipality's or the provider's registered name ("" if not known)
  std::string kind;               // municipality | state_social_care_centre | childrens_social_care_centre
  // "registered": a municipality registered with the project (or created in it by a merger), a partner from its
  // registration; "joined": a partner_joined.
  std::string basis;
  int32_t from = ledger::kNoDate;
  int32_t until = ledger::kNoDate;  // not a partner from this day (left, or merged away); kNoDate: still one
  std::string reason;             // why it ended ("merged into M-..." for a merger)
  std::vector<std::string> branches;
  std::vector<uint64_t> positions;  // the partner_joined / partner_left events (none for a registration)
};

struct PartnerCounts {
  std::string project_id;
  std::map<std::string, int64_t> by_kind;  // partners on the valid date, per kind
  int64_t partners = 0;
  int64_t branches = 0;                    // the centres' branches
};

struct PartnersReport {
  int32_t valid_date = 0;
  uint64_t known_at_position = 0;
  std::vector<PartnerCounts> projects;   // one per project asked for
  std::vector<PartnerRow> partners;      // partners on the valid date, by project and partner id
  std::vector<PartnerRow> former;        // partnerships that ended on or before the valid date
  std::string note;                      // as IndicatorsReport::note
};

// Partners of `project_id` ("" = every project) on `valid_date`. NotFound for a project the model does not know.
Status ComputePartners(const LedgerModel& model, int32_t valid_date, const std::string& project_id,
                       PartnersReport* out);
nlohmann::ordered_json PartnersToJson(const PartnersReport& report);
std::string PartnersToCsv(const PartnersReport& report);

struct ActivityRow {
  std::string project_id;
  std::string activity_id;
  std::string kind;
  std::string title;
  int32_t first_date = 0;
  int32_t last_date = 0;
  int64_t participants = 0;
  std::string venue;
  std::vector<uint64_t> positions;  // every record of it; the last is in force
};

struct ActivitySummaryRow {
  std::string project_id;
  int32_t year = 0;                 // of the activity's first day
  std::string kind;
  int64_t activities = 0;
  int64_t participants = 0;
  int64_t calendar_days = 0;        // the activities' calendar days, first to last day inclusive (not sessions)
};

struct ActivitiesReport {
  int32_t valid_date = 0;
  uint64_t known_at_position = 0;
  std::vector<ActivitySummaryRow> rows;   // per project, year and kind
  std::vector<ActivityRow> activities;    // each activity counted, by project, first day and id
  std::string note;
};

// The activities of `project_id` ("" = every project) held by `valid_date` (last day on or before it), of the
// year `year` (0 = every year). NotFound for a project the model does not know.
Status ComputeActivities(const LedgerModel& model, int32_t valid_date, const std::string& project_id, int32_t year,
                         ActivitiesReport* out);
nlohmann::ordered_json ActivitiesToJson(const ActivitiesReport& report);
std::string ActivitiesToCsv(const ActivitiesReport& report);

// Folds into `model` (empty) what both reports read, as known at `known_at_position`: projects, municipalities and
// mergers, providers' registrations, partners and activities.
Status LoadProjectOutputs(ledger::EventStore& store, uint64_t known_at_position, LedgerModel* model);

}  // namespace di::projections

#endif  // DI_PROJECTIONS_PROJECT_OUTPUTS_H_
