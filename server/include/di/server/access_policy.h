// The access policy: which role may append which events, and what a clerk's municipal scope covers, stated once
// for both transports (HTTP and the binary endpoint reach it through LedgerService).
//
// Roles (docs/api.md "Roles" has the full matrix; keep the two in step):
//   clerk    scoped to one municipality: writes the events of its residents' cases (applications, decisions,
//            grants, deliveries, corrections, person attributes); reads its residents' records, its claims and
//            the reference data (projects, municipalities, providers, rules).
//   project  enrolment, assessments, plans, claim review, project / municipality / provider / rules set-up.
//   finance  reimbursement claims, payments, budgets, project expenses; every read and report.
//   auditor  reads everything, writes nothing.
//   reader   subscriptions only, with pseudonymised events (pseudonymiser.h).
//   migration  the importer of history kept in an older system: appends every event type a client may append,
//            unscoped, and is the only role that may keep the recorded times of the events it appends
//            (keep_recorded_at: NewEvent::asserted_recorded_at_micros); reads everything. A token the operator
//            makes for the migration and removes after it.
// A clerk's municipality covers the municipalities merged into it (transitively): after the 2021 territorial
// reform, a clerk of the new municipality sees the residents of its predecessors. Scope follows valid time for
// writes: from the day a clerk's municipality is merged into another, its successor's clerks record what happens.
//
// Writes are scoped by the ledger's writer (AdmissionFor: an admission check over each event's subject, decided on
// the state the event is appended to, ledger/subject.h); reads and reports by the live model the answer comes from.
#ifndef DI_SERVER_ACCESS_POLICY_H_
#define DI_SERVER_ACCESS_POLICY_H_

#include <string>

#include "di/ledger/catalog.h"
#include "di/ledger/event.h"
#include "di/ledger/subject.h"
#include "di/projections/ledger_model.h"
#include "di/server/principal.h"

namespace di::server {

// May `role` append events of `type` at all? A clerk is further limited to its scope (AdmissionFor).
bool RoleMayWrite(Role role, ledger::EventType type);

// The admission check of the principal's appends (EventStore::Append's AppendOptions::admit): for a clerk, every
// event must concern a known resident of its municipality's territory, act for no municipality outside it, and be
// dated before the day the clerk's municipality was merged away (if it was). Other roles: none (empty function).
// A refusal is kForbidden naming the field and saying why, never where a person lives.
ledger::AdmissionCheck AdmissionFor(const Principal& principal);

// Reads and reports, on a model (the caller holds whatever lock the model needs) ------------------------------
// True if `municipality_id` is the clerk's municipality or was merged (transitively) into it.
bool InClerkScope(const projections::LedgerModel& model, const std::string& clerk_municipality,
                  const std::string& municipality_id);
// True if the person is enrolled and their residence is in the clerk's scope.
bool PersonInClerkScope(const projections::LedgerModel& model, const std::string& clerk_municipality,
                        const std::string& person_id);
// May the principal see this event? Clerks: `person/<P>` with P in scope, `grant/<G>` with G's person in scope,
// `claim/<C>` with C's claimant in scope, and every other stream (reference data without personal data).
bool MayRead(const projections::LedgerModel& model, const Principal& principal, const ledger::StoredEvent& event);
// A report's municipality for the principal: a clerk's report covers its own municipality (the default, and the
// only one it may name); readers may not query reports; other roles name any or none.
ledger::Status ScopeReport(const projections::LedgerModel& model, const Principal& principal,
                           std::string* municipality_id);

}  // namespace di::server

#endif  // DI_SERVER_ACCESS_POLICY_H_
