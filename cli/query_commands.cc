// CLI verbs over the projections: enacting rules, entitlements as of a date.
#include <chrono>
#include <cstdio>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "query_output.h"
#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "di/ledger/event_store.h"
#include "di/ledger/json_codec.h"
#include "di/projections/checkpoint.h"
#include "di/projections/default_rules.h"
#include "di/projections/entitlements.h"
#include "di/projections/funding.h"
#include "di/projections/funding_journal.h"
#include "di/projections/indicators.h"
#include "di/projections/journal_entitlements.h"
#include "di/projections/journal_funding.h"
#include "di/projections/journal_indicators.h"
#include "di/projections/project_outputs.h"
#include "di/projections/journal_reconciliation.h"
#include "di/projections/journal_store.h"
#include "di/projections/reconciliation.h"
#include "di/projections/replay.h"
#include "di/projections/rules.h"

namespace di::cli {

using ledger::Status;

Status EnactRules(ledger::EventStore& store, const std::string& rules_file,
                  const std::vector<std::string>& parameters, uint64_t* position, const std::string& recorded_at,
                  const std::vector<std::string>& project_ids) {
  std::string text(projections::DefaultRulesDocument());
  if (!rules_file.empty()) {
    std::ifstream file(rules_file);
    if (!file) return Status::IOError("cannot read '" + rules_file + "'");
    std::stringstream buffer;
    buffer << file.rdbuf();
    text = buffer.str();
  }
  nlohmann::json document;
  if (Status parsed = ledger::ParseJson(text, "rules", &document); !parsed.ok()) return parsed;
  // NAME=DATE overrides rewrite the document's parameters, so the ledger records the rules as applied.
  std::map<std::string, int32_t> overrides;
  for (const std::string& assignment : parameters) {
    const size_t equals = assignment.find('=');
    int32_t date;
    if (equals == std::string::npos || !ledger::ParseDate(assignment.substr(equals + 1), &date)) {
      return Status::InvalidArgument("'" + assignment + "' is not NAME=YYYY-MM-DD", "rules-parameter");
    }
    overrides[assignment.substr(0, equals)] = date;
    document["parameters"][assignment.substr(0, equals)] = assignment.substr(equals + 1);
  }
  projections::RuleSet rule_set;
  Status status = projections::ParseRuleSet(document, &rule_set, overrides);
  if (!status.ok()) return status;
  // The same document enacted for another project is another event: its id names the projects.
  std::string id = "rules:" + rule_set.id + ":" + rule_set.version;
  for (const std::string& project_id : project_ids) id += ":" + project_id;
  nlohmann::json event = {
      {"id", id},
      {"type", "rules_enacted"},
      {"effective_date", "2015-07-01"},
      {"actor", "system:init"},
      {"data",
       {{"rule_set_id", rule_set.id}, {"title", rule_set.id + " " + rule_set.version}, {"document", document}}}};
  if (!project_ids.empty()) event["data"]["project_ids"] = project_ids;
  // The rules are in force from their earliest rule; the document's own dates decide what applies when.
  int32_t earliest = ledger::kNoDate;
  for (const auto& rule : rule_set.rules) {
    if (earliest == ledger::kNoDate || rule.effective_from < earliest) earliest = rule.effective_from;
  }
  event["effective_date"] = ledger::FormatDate(earliest);
  // A store a migration goes into next: the rules are recorded when the migrated history knew them.
  if (!recorded_at.empty()) event["recorded_at"] = recorded_at;
  ledger::NewEvent new_event;
  ledger::EventJsonOptions parse_options;
  parse_options.keep_recorded_at = !recorded_at.empty();
  status = ledger::EventFromJson(event, &new_event, parse_options);
  if (!status.ok()) return status.code() == ledger::StatusCode::kInvalidArgument && status.field() == "recorded_at"
                              ? Status::InvalidArgument(status.message(), "rules-recorded-at")
                              : status;
  std::vector<ledger::NewEvent> batch;
  batch.push_back(std::move(new_event));
  ledger::AppendResult result;
  status = store.Append(batch, &result);
  if (!status.ok()) return status;
  *position = result.positions.front();
  return Status::Ok();
}

std::unique_ptr<projections::JournalStore> OpenProjectedJournal(const std::string& data_dir, ledger::EventStore& store,
                                                                uint64_t position) {
  const std::string path = projections::JournalStore::PathFor(data_dir);
  if (!std::filesystem::exists(path)) return nullptr;
  std::unique_ptr<projections::JournalStore> journal;
  if (!projections::JournalStore::Open(path, {}, &journal).ok()) return nullptr;
  bool cleared = false;
  if (!journal->Confirm(store, &cleared).ok() || position > journal->position()) return nullptr;
  return journal;
}

namespace {

// Opens the store and resolves a query's as-of (projections::ResolveAsOf). Returns the exit code (0: resolved).
int ResolveQuery(const std::string& data_dir, const std::string& known_at_text, const std::string& valid_at,
                 const std::vector<projections::QuerySubject>& subjects, std::unique_ptr<ledger::EventStore>* store,
                 uint64_t* known_at, int32_t* valid_date, std::string* note) {
  Status status = OpenExisting(data_dir, store);
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return 2;
  }
  projections::ResolvedAsOf resolved;
  status = projections::ResolveAsOf(**store, valid_at, known_at_text, (*store)->Head().position, subjects, &resolved);
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return status.field() == "valid_at" ? 2 : 1;
  }
  *known_at = resolved.known_at_position;
  *valid_date = resolved.valid_date;
  *note = std::move(resolved.note);
  return 0;
}

// Folds the model as known at `known_at` (nothing when the answer is empty and says why: `note`).
int FoldModel(const std::string& data_dir, ledger::EventStore& store, uint64_t known_at, const std::string& note,
              projections::LedgerModel* model) {
  Status status = Status::Ok();
  // Resume from the nearest projection checkpoint (<data>/projections) rather than replaying everything.
  // The checkpoints are a cache: if they cannot be opened, the answer comes from a full replay instead.
  std::unique_ptr<projections::CheckpointStore> checkpoints;
  status = projections::CheckpointStore::Open(projections::CheckpointStore::PathFor(data_dir), {}, &checkpoints);
  if (!status.ok()) {
    std::cerr << "warning: projection checkpoints unavailable, replaying the log: " << status.ToString() << "\n";
    checkpoints.reset();
  }
  // Nothing to fold for an answer that is empty (and says why).
  status = projections::LoadModel(store, checkpoints.get(), note.empty() ? known_at : 0, model);
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return 2;
  }
  return 0;
}

// The funding report from the journal store when it has projected the known-at position: an image and the records
// after it (with --explain, every delivery's line facts and the claims' streams), no model folded. False: the caller
// folds a model as before.
bool FundingFromJournalStore(const std::string& data_dir, ledger::EventStore& store, uint64_t known_at,
                             int32_t valid_date, const projections::FundingQuery& query,
                             projections::FundingReport* report, Status* status) {
  std::unique_ptr<projections::JournalStore> journal = OpenProjectedJournal(data_dir, store, known_at);
  if (!journal) return false;
  *status = projections::ComputeFundingFromStore(store, *journal, known_at, valid_date, query, report);
  return true;
}

// Entitlements from the journal store when it has projected the known-at position and knows the person's family:
// the family's facts folded, the caps' usage (and with explain, the decisions) read (projections/journal_entitlements.h).
// False: the caller folds.
bool EntitlementsFromJournalStore(const std::string& data_dir, ledger::EventStore& store, uint64_t known_at,
                                  int32_t valid_date, const std::string& person_id, bool explain,
                                  projections::Entitlements* entitlements, Status* status) {
  std::unique_ptr<projections::JournalStore> journal = OpenProjectedJournal(data_dir, store, known_at);
  if (!journal) return false;
  projections::PersonScope scope;
  bool found = false;
  if (!journal->ReadScope(person_id, &scope, &found).ok() || !found) return false;
  *status = projections::ComputeEntitlementsFromStore(store, *journal, scope, known_at, valid_date, entitlements,
                                                      nullptr, explain);
  return true;
}

// Reconciliation from the journal store when it has projected the known-at position: the claims folded, each line's
// facts read (projections/journal_reconciliation.h). False: the caller folds a model.
bool ReconciliationFromJournalStore(const std::string& data_dir, ledger::EventStore& store, uint64_t known_at,
                                    int32_t valid_date, const projections::ReconciliationQuery& query,
                                    std::vector<projections::ClaimReconciliation>* claims, Status* status) {
  std::unique_ptr<projections::JournalStore> journal = OpenProjectedJournal(data_dir, store, known_at);
  if (!journal) return false;
  *status = projections::ComputeReconciliationFromStore(store, *journal, known_at, valid_date, query, claims);
  return true;
}

// Indicators from the journal store when it has projected the known-at position: each person's facts read, the
// projects and municipalities folded (projections/journal_indicators.h). False: the caller folds a model.
bool IndicatorsFromJournalStore(const std::string& data_dir, ledger::EventStore& store, uint64_t known_at,
                                int32_t valid_date, const ReportOptions& options, projections::IndicatorsReport* report,
                                Status* status) {
  std::unique_ptr<projections::JournalStore> journal = OpenProjectedJournal(data_dir, store, known_at);
  if (!journal) return false;
  *status = projections::ComputeIndicatorsFromStore(store, *journal, known_at, valid_date, options.project_id,
                                                    options.municipality_id, report);
  return true;
}

std::string Quantity(schema::Service service, int64_t quantity) { return projections::FormatQuantity(service, quantity); }

}  // namespace

void PrintNote(const std::string& note) {
  if (!note.empty()) std::printf("note: %s\n\n", note.c_str());
}

std::string Euros(int64_t cents) {
  char buffer[32];
  const int64_t magnitude = cents < 0 ? -cents : cents;
  std::snprintf(buffer, sizeof(buffer), "%s%lld.%02lld", cents < 0 ? "-" : "", static_cast<long long>(magnitude / 100),
                static_cast<long long>(magnitude % 100));
  return buffer;
}

bool PrintMachineReadable(const std::string& format, const std::function<nlohmann::ordered_json()>& json,
                          const std::function<std::string()>& csv) {
  if (format == "json") {
    std::cout << json().dump(2) << "\n";
    return true;
  }
  if (format == "csv") {
    std::cout << csv();
    return true;
  }
  return false;
}

int ReportFailure(const Status& status) {
  std::cerr << "error: " << status.ToString() << "\n";
  return 1;
}

int RunEntitlements(const EntitlementsOptions& options) {
  std::unique_ptr<ledger::EventStore> store;
  uint64_t known_at = 0;
  int32_t valid_date = 0;
  std::string note;
  if (int code = ResolveQuery(options.data_dir, options.known_at, options.valid_at, {{"person", options.person_id}},
                              &store, &known_at, &valid_date, &note)) {
    return code;
  }
  projections::Entitlements entitlements;
  if (!note.empty()) {
    // Not known yet as known then: an empty answer that says why (the person's group and age are unknown).
    projections::EmptyWithNote({valid_date, known_at, note}, &entitlements);
    entitlements.person_id = options.person_id;
    if (!PrintMachineReadable(
            options.format, [&] { return projections::EntitlementsToJson(entitlements); },
            [&] { return projections::EntitlementsToCsv(entitlements); })) {
      std::printf("person %s on %s, as known at position %llu: no entitlements\nnote: %s\n",
                  options.person_id.c_str(), ledger::FormatDate(valid_date).c_str(),
                  static_cast<unsigned long long>(known_at), note.c_str());
    }
    return 0;
  }
  Status status = Status::Ok();
  if (options.naive || !EntitlementsFromJournalStore(options.data_dir, *store, known_at, valid_date, options.person_id,
                                                     options.explain, &entitlements, &status)) {
    projections::LedgerModel model;
    if (int code = FoldModel(options.data_dir, *store, known_at, note, &model)) return code;
    status = projections::ComputeEntitlements(model, options.person_id, valid_date, &entitlements, options.explain);
  }
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << " (as known at position " << known_at << ")\n";
    return 1;
  }
  if (PrintMachineReadable(
          options.format, [&] { return projections::EntitlementsToJson(entitlements); },
          [&] { return projections::EntitlementsToCsv(entitlements); })) {
    return 0;
  }
  // The deliveries behind the figures: every decision about this person's deliveries.
  const std::vector<projections::DeliveryDecision>& behind = entitlements.deliveries;
  std::printf("person %s (%s, age %d) on %s, as known at position %llu, rules %s\n", entitlements.person_id.c_str(),
              ledger::EnumValueName(entitlements.target_group).c_str(), entitlements.age,
              ledger::FormatDate(valid_date).c_str(), static_cast<unsigned long long>(known_at),
              entitlements.rules_version.empty() ? "(none)" : entitlements.rules_version.c_str());
  if (entitlements.lines.empty()) std::printf("no grant in force on that date\n");
  for (const auto& line : entitlements.lines) {
    std::printf("\n%s  grant %s: %s per %s, %s..%s, rule %s\n", std::string(ledger::ServiceName(line.service)).c_str(),
                line.grant_id.c_str(), Quantity(line.service, line.granted_quantity).c_str(),
                ledger::EnumValueName(line.granted_period).c_str(), ledger::FormatDate(line.grant_valid_from).c_str(),
                ledger::FormatDate(line.grant_last_day).c_str(), line.rule_id.empty() ? "-" : line.rule_id.c_str());
    if (!line.problem.empty()) std::printf("  not eligible on this date: %s\n", line.problem.c_str());
    std::printf("  %-34s %-24s %14s %14s %14s\n", "limit", "period", "limit", "used", "remaining");
    for (const auto& cap : line.caps) {
      auto amount = [&](int64_t value) { return cap.money ? Euros(value) : Quantity(line.service, value); };
      std::printf("  %-34s %-24s %14s %14s %14s\n", cap.cap_id.c_str(), cap.period_label.c_str(),
                  amount(cap.limit).c_str(), amount(cap.used).c_str(), amount(cap.remaining).c_str());
    }
    std::printf("  remaining: %s", Quantity(line.service, line.remaining).c_str());
    if (line.remaining_cents >= 0) std::printf(", %s of eligible cost", Euros(line.remaining_cents).c_str());
    std::printf("\n");
  }
  if (options.explain) {
    std::printf("\n%-20s %-12s %-10s %10s %10s %12s %12s %-16s  %s\n", "delivery", "grant", "date", "quantity",
                "eligible", "cost", "eligible", "verdict", "positions / reason");
    for (const auto& decision : behind) {
      std::string positions;
      for (uint64_t position : decision.positions) positions += (positions.empty() ? "" : ",") + std::to_string(position);
      std::printf("%-20s %-12s %-10s %10lld %10lld %12lld %12lld %-16s  %s %s\n", decision.delivery_id.c_str(),
                  decision.grant_id.c_str(), ledger::FormatDate(decision.date).c_str(),
                  static_cast<long long>(decision.quantity), static_cast<long long>(decision.eligible_quantity),
                  static_cast<long long>(decision.cost_cents), static_cast<long long>(decision.eligible_cost_cents),
                  std::string(projections::VerdictName(decision.verdict)).c_str(), positions.c_str(),
                  decision.reason.c_str());
    }
  }
  if (!entitlements.rules_problem.empty()) std::printf("\nwarning: %s\n", entitlements.rules_problem.c_str());
  return 0;
}

void PrintClaimDetail(const projections::ClaimReconciliation& claim) {
  std::printf("\n%-16s %-30s %-10s %11s %11s %11s %11s %11s  %s\n", "delivery", "service", "date", "claimed",
              "eligible", "approved", "approved ESF", "paid", "findings");
  for (const auto& line : claim.lines) {
    std::string findings;
    for (const auto& finding : line.findings) findings += (findings.empty() ? "" : "; ") + finding;
    std::printf("%-16s %-30s %-10s %11s %11s %11s %11s %11s  %s\n", line.delivery_id.c_str(), line.service.c_str(),
                line.delivery_date ? ledger::FormatDate(line.delivery_date).c_str() : "",
                Euros(line.claimed_cents).c_str(), Euros(line.eligible_cents).c_str(),
                Euros(line.approved_cents).c_str(), Euros(line.approved_esf_cents).c_str(),
                Euros(line.paid_cents).c_str(), findings.c_str());
  }
  for (const auto& item : claim.payments) {
    const projections::PaymentFacts& payment = item.payment;
    std::printf("payment %s on %s: %s (ESF %s, state %s)\n", payment.id.c_str(), ledger::FormatDate(payment.date).c_str(),
                Euros(payment.amount_cents).c_str(), Euros(payment.esf_cents).c_str(), Euros(payment.state_cents).c_str());
    for (const auto& finding : item.findings) std::printf("  finding: %s\n", finding.c_str());
  }
  for (const auto& finding : claim.findings) std::printf("finding: %s\n", finding.c_str());
}

// The reconciliation report: from the journal store when it has projected the known-at position (unless --naive),
// else from a model folded as known then.
int ReportReconciliation(const ReportOptions& options, ledger::EventStore& store, int32_t valid_date,
                         uint64_t known_at, const std::string& note) {
  projections::ReconciliationQuery query{options.project_id, options.municipality_id, options.claim_id};
  std::vector<projections::ClaimReconciliation> claims;
  if (note.empty()) {
    Status status = Status::Ok();
    if (options.naive ||
        !ReconciliationFromJournalStore(options.data_dir, store, known_at, valid_date, query, &claims, &status)) {
      projections::LedgerModel model;
      if (int code = FoldModel(options.data_dir, store, known_at, note, &model)) return code;
      status = projections::ComputeReconciliation(model, valid_date, query, &claims);
    }
    if (!status.ok()) return ReportFailure(status);
  }
  if (PrintMachineReadable(
          options.format, [&] { return projections::ReconciliationToJson(claims, valid_date, known_at, note); },
          [&] { return projections::ReconciliationToCsv(claims, options.table); })) {
    return 0;
  }
  std::printf("reconciliation on %s, as known at position %llu (EUR; ESF/state split of approved and paid)\n\n",
              ledger::FormatDate(valid_date).c_str(), static_cast<unsigned long long>(known_at));
  PrintNote(note);
  std::printf("%-28s %-18s %-10s %6s %13s %13s %13s %13s %13s %13s %13s %13s %13s %8s\n", "claim", "municipality",
              "date", "lines", "claimed", "eligible", "approved", "approved ESF", "approved state", "paid", "paid ESF",
              "paid state", "outstanding", "findings");
  for (const auto& claim : claims) {
    const int64_t findings = claim.lines_with_findings + claim.payments_with_findings +
                             static_cast<int64_t>(claim.findings.size());
    std::printf("%-28s %-18s %-10s %6zu %13s %13s %13s %13s %13s %13s %13s %13s %13s %8lld\n", claim.claim_id.c_str(),
                claim.municipality_id.c_str(), ledger::FormatDate(claim.claim_date).c_str(), claim.lines.size(),
                Euros(claim.claimed.total).c_str(), Euros(claim.eligible.total).c_str(),
                Euros(claim.approved.total).c_str(), Euros(claim.approved.esf).c_str(),
                Euros(claim.approved.state).c_str(), Euros(claim.paid.total).c_str(), Euros(claim.paid.esf).c_str(),
                Euros(claim.paid.state).c_str(), Euros(claim.outstanding.total).c_str(),
                static_cast<long long>(findings));
  }
  if (!options.claim_id.empty()) {
    for (const auto& claim : claims) PrintClaimDetail(claim);
  }
  return 0;
}

// The indicators report: from the journal store when it has projected the known-at position (unless --naive), else
// from a model folded as known then.
int ReportIndicators(const ReportOptions& options, ledger::EventStore& store, int32_t valid_date, uint64_t known_at,
                     const std::string& note) {
  projections::IndicatorsReport report;
  if (note.empty()) {
    Status status = Status::Ok();
    if (options.naive ||
        !IndicatorsFromJournalStore(options.data_dir, store, known_at, valid_date, options, &report, &status)) {
      projections::LedgerModel model;
      if (int code = FoldModel(options.data_dir, store, known_at, note, &model)) return code;
      status = projections::ComputeIndicators(model, valid_date, options.project_id, options.municipality_id, &report);
    }
    if (!status.ok()) return ReportFailure(status);
  } else {
    projections::EmptyWithNote({valid_date, known_at, note}, &report);
  }
  if (PrintMachineReadable(
          options.format, [&] { return projections::IndicatorsToJson(report); },
          [&] { return projections::IndicatorsToCsv(report); })) {
    return 0;
  }
  std::printf("indicators on %s, as known at position %llu (distinct persons)\n\n", ledger::FormatDate(valid_date).c_str(),
              static_cast<unsigned long long>(known_at));
  PrintNote(note);
  std::printf("%-18s %-30s %-18s %9s %9s %9s %10s %9s %12s\n", "project", "target group", "territory", "enrolled",
              "assessed", "with plan", "receiving", "prepared", "independent");
  for (const auto& rows : {report.rows, report.totals}) {
    for (const auto& row : rows) {
      std::printf("%-18s %-30s %-18s %9lld %9lld %9lld %10lld %9lld %12lld\n", row.project_id.c_str(),
                  row.target_group.c_str(), row.municipality_id.empty() ? "(all)" : row.municipality_id.c_str(),
                  static_cast<long long>(row.persons_enrolled), static_cast<long long>(row.persons_assessed),
                  static_cast<long long>(row.persons_with_plan), static_cast<long long>(row.persons_receiving_services),
                  static_cast<long long>(row.persons_prepared_for_transition),
                  static_cast<long long>(row.persons_started_independent_life));
    }
  }
  if (!report.targets.empty()) {
    std::printf("\n%-18s %-33s %-30s %9s %9s\n", "project", "indicator", "target group", "target", "achieved");
    for (const auto& target : report.targets) {
      std::printf("%-18s %-33s %-30s %9lld %9lld\n", target.project_id.c_str(), target.indicator.c_str(),
                  target.target_group.c_str(), static_cast<long long>(target.target),
                  static_cast<long long>(target.achieved));
    }
  }
  return 0;
}

namespace {

// The partners and activities reports as JSON, CSV and tables, by their type (PrintProjectOutputs).
nlohmann::ordered_json ToJson(const projections::PartnersReport& report) { return projections::PartnersToJson(report); }
nlohmann::ordered_json ToJson(const projections::ActivitiesReport& report) {
  return projections::ActivitiesToJson(report);
}
std::string ToCsv(const projections::PartnersReport& report) { return projections::PartnersToCsv(report); }
std::string ToCsv(const projections::ActivitiesReport& report) { return projections::ActivitiesToCsv(report); }

void PrintTable(const projections::PartnersReport& report) {
  for (const auto& counts : report.projects) {
    std::printf("%-18s %lld partners (%lld branches):", counts.project_id.c_str(),
                static_cast<long long>(counts.partners), static_cast<long long>(counts.branches));
    for (const auto& [kind, count] : counts.by_kind) {
      std::printf(" %s %lld", kind.c_str(), static_cast<long long>(count));
    }
    std::printf("\n");
  }
  std::printf("\n%-18s %-18s %-30s %-28s %-10s %-10s %-10s\n", "project", "partner", "name", "kind", "basis", "from",
              "until");
  for (const auto* rows : {&report.partners, &report.former}) {
    for (const auto& row : *rows) {
      std::printf("%-18s %-18s %-30s %-28s %-10s %-10s %-10s\n", row.project_id.c_str(), row.partner_id.c_str(),
                  row.name.c_str(), row.kind.c_str(), row.basis.c_str(), ledger::FormatDate(row.from).c_str(),
                  row.until == ledger::kNoDate ? "" : ledger::FormatDate(row.until).c_str());
    }
  }
}

void PrintTable(const projections::ActivitiesReport& report) {
  std::printf("%-18s %6s %-20s %10s %12s %8s\n", "project", "year", "kind", "activities", "participants", "cal.days");
  for (const auto& row : report.rows) {
    std::printf("%-18s %6d %-20s %10lld %12lld %8lld\n", row.project_id.c_str(), row.year, row.kind.c_str(),
                static_cast<long long>(row.activities), static_cast<long long>(row.participants),
                static_cast<long long>(row.calendar_days));
  }
}

// A project's partners on the valid date (and those that ended by then), or its activities held by then: both folded
// from the project streams and the municipalities as known at the position (project_outputs.h).
template <typename Report>
int PrintProjectOutputs(const ReportOptions& options, const Report& report, int32_t valid_date, uint64_t known_at,
                        const std::string& note) {
  if (PrintMachineReadable(
          options.format, [&] { return ToJson(report); }, [&] { return ToCsv(report); })) {
    return 0;
  }
  std::printf("%s on %s, as known at position %llu\n\n", options.kind.c_str(), ledger::FormatDate(valid_date).c_str(),
              static_cast<unsigned long long>(known_at));
  PrintNote(note);
  PrintTable(report);
  return 0;
}

int ReportProjectOutputs(const ReportOptions& options, ledger::EventStore& store, int32_t valid_date, uint64_t known_at,
                         const std::string& note) {
  projections::LedgerModel model;
  if (note.empty()) {
    if (Status status = projections::LoadProjectOutputs(store, known_at, &model); !status.ok()) {
      return ReportFailure(status);
    }
  }
  auto answer = [&](auto* report, auto compute) {
    if (!note.empty()) {
      projections::EmptyWithNote({valid_date, known_at, note}, report);
    } else if (Status status = compute(); !status.ok()) {
      return ReportFailure(status);
    }
    report->known_at_position = known_at;
    return PrintProjectOutputs(options, *report, valid_date, known_at, note);
  };
  if (options.kind == "partners") {
    projections::PartnersReport partners;
    return answer(&partners,
                  [&] { return projections::ComputePartners(model, valid_date, options.project_id, &partners); });
  }
  projections::ActivitiesReport activities;
  return answer(&activities, [&] {
    return projections::ComputeActivities(model, valid_date, options.project_id, options.year, &activities);
  });
}

void PrintFundingTable(const projections::FundingReport& report, bool explain, int32_t valid_date, uint64_t known_at,
                       const std::string& note) {
  std::printf("funding on %s, as known at position %llu (EUR; ESF/state split of approved and paid)\n\n",
              ledger::FormatDate(valid_date).c_str(), static_cast<unsigned long long>(known_at));
  PrintNote(note);
  // The provider and mode columns only when the report has them.
  auto extra = [&](const std::string& provider, const std::string& mode) {
    if (report.by_provider) std::printf("%-14s ", provider.c_str());
    if (report.by_mode) std::printf("%-9s ", mode.c_str());
  };
  std::printf("%-18s %-18s %-18s %-30s ", "project", "territory", "municipality", "service");
  extra("provider", "mode");
  std::printf("%-7s %8s %13s %13s %13s %13s %13s %14s %13s %13s %13s\n", "month", "count", "delivered", "eligible",
              "claimed", "approved", "approved ESF", "approved state", "paid", "paid ESF", "paid state");
  auto print = [&](const std::string& project, const std::string& territory, const std::string& municipality,
                   const std::string& service, const std::string& provider, const std::string& mode,
                   const std::string& month, const projections::FundingFigures& f) {
    std::printf("%-18s %-18s %-18s %-30s ", project.c_str(), territory.c_str(), municipality.c_str(), service.c_str());
    extra(provider, mode);
    std::printf("%-7s %8lld %13s %13s %13s %13s %13s %14s %13s %13s %13s\n", month.c_str(),
                static_cast<long long>(f.deliveries), Euros(f.delivered_cents).c_str(), Euros(f.eligible_cents).c_str(),
                Euros(f.claimed_cents).c_str(), Euros(f.approved_cents).c_str(), Euros(f.approved_esf_cents).c_str(),
                Euros(f.approved_state_cents).c_str(), Euros(f.paid_cents).c_str(), Euros(f.paid_esf_cents).c_str(),
                Euros(f.paid_state_cents).c_str());
  };
  for (const auto& row : report.rows) {
    print(row.project_id, row.territory_id, row.municipality_id, row.service, row.provider_id, row.mode, row.month,
          row.figures);
    if (explain) {
      std::string positions;
      for (uint64_t position : row.positions) positions += (positions.empty() ? "" : " ") + std::to_string(position);
      std::printf("  events: %s\n", positions.c_str());
    }
  }
  print("total", "", "", "", "", "", "", report.totals);
  std::printf("\n%-18s %-12s %15s %15s %15s %15s %15s\n", "budget of", "in force", "total", "ESF", "state",
              "approved", "remaining");
  for (const auto& budget : report.budgets) {
    std::printf("%-18s %-12s %15s %15s %15s %15s %15s\n", budget.project_id.c_str(),
                ledger::FormatDate(budget.in_force_from).c_str(), Euros(budget.total_cents).c_str(),
                Euros(budget.esf_cents).c_str(), Euros(budget.state_cents).c_str(), Euros(budget.approved_cents).c_str(),
                Euros(budget.remaining_cents).c_str());
  }
}

// The funding report: from the journal store when it has projected the known-at position (unless --naive asks
// otherwise), else from a model folded as known then.
int ReportFunding(const ReportOptions& options, ledger::EventStore& store, uint64_t known_at, int32_t valid_date,
                  const std::string& note) {
  projections::FundingQuery query;
  query.project_id = options.project_id;
  query.municipality_id = options.municipality_id;
  query.explain = options.explain;
  std::stringstream dimensions(options.group_by);
  for (std::string dimension; std::getline(dimensions, dimension, ',');) {
    if (!dimension.empty()) query.group_by.push_back(dimension);
  }
  projections::FundingReport report;
  Status status = Status::Ok();
  if (!note.empty()) {
    projections::EmptyWithNote({valid_date, known_at, note}, &report);
  } else if (options.naive ||
             !FundingFromJournalStore(options.data_dir, store, known_at, valid_date, query, &report, &status)) {
    projections::LedgerModel model;
    if (int code = FoldModel(options.data_dir, store, known_at, note, &model)) return code;
    status = projections::ComputeFunding(model, valid_date, query, &report);
  }
  if (!status.ok()) return ReportFailure(status);
  if (PrintMachineReadable(
          options.format, [&] { return projections::FundingToJson(report); },
          [&] { return projections::FundingToCsv(report); })) {
    return 0;
  }
  PrintFundingTable(report, options.explain, valid_date, known_at, note);
  return 0;
}

}  // namespace

int RunReport(const ReportOptions& options) {
  if (options.kind == "changes") return RunChangesReport(options);
  const bool project_outputs = options.kind == "partners" || options.kind == "activities";
  if (options.kind != "funding" && options.kind != "reconciliation" && options.kind != "indicators" &&
      !project_outputs) {
    std::cerr << "error: unknown report '" << options.kind
              << "' (available: funding, reconciliation, indicators, changes, partners, activities)\n";
    return 2;
  }
  if (options.year != 0 && options.kind != "activities") {
    std::cerr << "error: --year is for the activities report\n";
    return 2;
  }
  if (!options.to.empty()) {
    std::cerr << "error: --to is for the changes report (report changes --known-at A --to B)\n";
    return 2;
  }
  if (!options.table.empty() && (options.kind != "reconciliation" || options.format != "csv")) {
    std::cerr << "error: --table is for the reconciliation report with --format csv (JSON holds every table)\n";
    return 2;
  }
  if (Status status = projections::CheckReconciliationTable(options.table); !status.ok()) {
    std::cerr << "error: --table: " << status.message() << "\n";
    return 2;
  }
  // What each report validates: an id the store never recorded is an error; one recorded after the known-at
  // gives an empty report that says so.
  std::vector<projections::QuerySubject> subjects;
  if (options.kind == "reconciliation") {
    subjects = {{"claim", options.claim_id}};
  } else if (options.kind == "indicators" || project_outputs) {
    subjects = {{"project", options.project_id}};
  } else {
    subjects = {{"project", options.project_id}, {"municipality", options.municipality_id}};
  }
  std::unique_ptr<ledger::EventStore> store;
  uint64_t known_at = 0;
  int32_t valid_date = 0;
  std::string note;
  if (int code = ResolveQuery(options.data_dir, options.known_at, options.valid_at, subjects, &store, &known_at,
                              &valid_date, &note)) {
    return code;
  }
  if (options.kind == "funding") return ReportFunding(options, *store, known_at, valid_date, note);
  if (options.kind == "reconciliation") return ReportReconciliation(options, *store, valid_date, known_at, note);
  if (project_outputs) return ReportProjectOutputs(options, *store, valid_date, known_at, note);
  return ReportIndicators(options, *store, valid_date, known_at, note);
}

namespace {
// Recomputes the journal store (<data>/journal) from the log: cleared, then projected up to the head.
int RebuildJournalStore(const std::string& data_dir, ledger::EventStore& store,
                        projections::CheckpointStore* checkpoints) {
  std::unique_ptr<projections::JournalStore> journal;
  Status status = projections::JournalStore::Open(projections::JournalStore::PathFor(data_dir), {}, &journal);
  if (status.ok()) status = journal->Clear();
  const auto started = std::chrono::steady_clock::now();
  if (status.ok()) status = projections::JournalProjector(journal.get()).CatchUp(store, checkpoints, projections::kKnownNow);
  if (!status.ok()) {
    std::cerr << "error: journal store: " << status.ToString() << "\n";
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const uint64_t events = journal->position();
  std::printf("rebuilt the journal store from %llu events in %.2f s (%.0f events/s), %.0f bytes per event\n",
              static_cast<unsigned long long>(events), seconds, seconds > 0 ? static_cast<double>(events) / seconds : 0.0,
              events > 0 ? static_cast<double>(journal->DiskBytes()) / static_cast<double>(events) : 0.0);
  return 0;
}
}  // namespace

int RunRebuild(const std::string& data_dir, uint64_t interval_events) {
  std::unique_ptr<ledger::EventStore> store;
  Status status = OpenExisting(data_dir, &store);
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return 2;
  }
  projections::CheckpointOptions options;
  options.interval_events = interval_events;
  std::unique_ptr<projections::CheckpointStore> checkpoints;
  status = projections::CheckpointStore::Open(projections::CheckpointStore::PathFor(data_dir), options, &checkpoints);
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return 2;
  }
  const auto started = std::chrono::steady_clock::now();
  projections::CheckpointInfo head;
  projections::LoadReport report;
  status = projections::Rebuild(*store, *checkpoints, &head, &report);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!status.ok()) {
    std::cerr << "error: " << status.ToString() << "\n";
    return 1;
  }
  std::printf("rebuilt the projections from %llu events in %.2f s (%.0f events/s), %llu snapshots written\n",
              static_cast<unsigned long long>(report.events_folded), seconds,
              seconds > 0 ? static_cast<double>(report.events_folded) / seconds : 0.0,
              static_cast<unsigned long long>(report.snapshots_written));
  std::vector<projections::CheckpointInfo> all;
  status = checkpoints->List(&all);
  if (!status.ok()) return ReportFailure(status);
  std::printf("%12s  %12s  %-64s\n", "position", "bytes", "state digest (SHA-256 of the snapshot)");
  for (const auto& info : all) {
    std::printf("%12llu  %12llu  %s\n", static_cast<unsigned long long>(info.position),
                static_cast<unsigned long long>(info.snapshot_bytes), ledger::HashToHex(info.snapshot_digest).c_str());
  }
  if (head.position != 0) {
    std::printf("head %llu state digest %s\n", static_cast<unsigned long long>(head.position),
                ledger::HashToHex(head.snapshot_digest).c_str());
  }
  return RebuildJournalStore(data_dir, *store, checkpoints.get());
}

}  // namespace di::cli
