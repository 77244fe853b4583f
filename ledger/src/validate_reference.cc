// Validation of the project's reference data: the project, its budget and expenses, the municipalities and their
// mergers, the providers and their contracts, the rules. One function per event type (validator_context.h).
#include <set>
#include <string>

#include "di/ledger/capnp_text.h"
#include "di/ledger/civil_date.h"
#include "validator_context.h"

namespace di::ledger::validation {

Status ProjectRegistered(Context& ctx, schema::ProjectRegistered::Reader data) {
  const std::string id = Str(data.getProjectId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PROJECT, id, "project_id"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getPeriodStart(), data.getPeriodEnd(), "period_end", "period_start"));
  if (data.getServicesPaidUntil() < data.getPeriodStart() || data.getServicesPaidUntil() > data.getPeriodEnd()) {
    return Invalid("services_paid_until", "must lie within the project period " + FormatDate(data.getPeriodStart()) +
                                              ".." + FormatDate(data.getPeriodEnd()));
  }
  // A budget not known yet (a pilot) is left out whole; a part of one is a mistake, refused by CheckBudget.
  const bool budget_known =
      data.getBudgetTotalCents() != 0 || data.getBudgetEsfCents() != 0 || data.getBudgetStateCents() != 0;
  if (budget_known) {
    DI_RETURN_IF_ERROR(CheckBudget(data.getBudgetTotalCents(), data.getBudgetEsfCents(), data.getBudgetStateCents(),
                                   "budget_total_cents", "budget_esf_cents", "budget_state_cents"));
  }
  DI_RETURN_IF_ERROR(CheckTargets(data.getTargets(), "targets"));
  EntityState project = ctx.Create(EntityKind::PROJECT);
  project.period_start = data.getPeriodStart();
  project.valid_until = data.getPeriodEnd();
  // The first budget governs every date before it too (the projections split by it), so it is known "always".
  project.budget_known_from = budget_known ? kBudgetKnownAlways : kNoDate;
  ctx.Put(EntityKind::PROJECT, id, std::move(project));
  ctx.SetStream("project", id);
  return Status::Ok();
}

Status BudgetAmended(Context& ctx, schema::BudgetAmended::Reader data) {
  const std::string id = Str(data.getProjectId());
  EntityState project;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, id, "project_id", &project));
  if (ctx.date() < project.period_start) {
    return Status::InvalidArgument("budget amendment in force " + FormatDate(ctx.date()) +
                                       " is before the project start " + FormatDate(project.period_start),
                                   "effective_date");
  }
  DI_RETURN_IF_ERROR(CheckBudget(data.getTotalCents(), data.getEsfCents(), data.getStateCents(), "total_cents",
                                 "esf_cents", "state_cents"));
  DI_RETURN_IF_ERROR(CheckTargets(data.getTargets(), "targets"));
  if (project.budget_known_from == kNoDate || ctx.date() < project.budget_known_from) {
    project.budget_known_from = ctx.date();
    ctx.Put(EntityKind::PROJECT, id, std::move(project));
  }
  ctx.SetStream("project", id);
  return Status::Ok();
}

Status ProjectExpenseRecorded(Context& ctx, schema::ProjectExpenseRecorded::Reader data) {
  const std::string project_id = Str(data.getProjectId());
  const std::string expense_id = Str(data.getExpenseId());
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, project_id, "project_id"));
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::EXPENSE, expense_id, "expense_id"));
  DI_RETURN_IF_ERROR(NeedAmount(data.getAmountCents(), "amount_cents", false));
  EntityState expense = ctx.Create(EntityKind::EXPENSE);
  ctx.Put(EntityKind::EXPENSE, expense_id, std::move(expense));
  ctx.SetStream("project", project_id);
  return Status::Ok();
}

Status MunicipalityRegistered(Context& ctx, schema::MunicipalityRegistered::Reader data) {
  const std::string id = Str(data.getMunicipalityId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::MUNICIPALITY, id, "municipality_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  EntityState municipality = ctx.Create(EntityKind::MUNICIPALITY);
  municipality.project_id = Str(data.getProjectId());
  ctx.Put(EntityKind::MUNICIPALITY, id, std::move(municipality));
  ctx.SetStream("municipality", id);
  return Status::Ok();
}

Status MunicipalitiesMerged(Context& ctx, schema::MunicipalitiesMerged::Reader data) {
  const std::string successor_id = Str(data.getSuccessorId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::MUNICIPALITY, successor_id, "successor_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  const auto predecessors = data.getPredecessorIds();
  if (predecessors.size() == 0) return Invalid("predecessor_ids", "must list at least one municipality");
  std::set<std::string> seen;
  for (unsigned i = 0; i < predecessors.size(); ++i) {
    const std::string field = "predecessor_ids[" + std::to_string(i) + "]";
    const std::string id = Str(predecessors[i]);
    if (!seen.insert(id).second) return Invalid(field, "municipality '" + id + "' is listed twice");
    EntityState predecessor;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::MUNICIPALITY, id, field, &predecessor));
    if (!predecessor.merged_into.empty()) {
      return Invalid(field, "municipality '" + id + "' was already merged into '" + predecessor.merged_into + "'");
    }
    predecessor.merged_into = successor_id;
    predecessor.ended_on = ctx.date();
    ctx.Put(EntityKind::MUNICIPALITY, id, std::move(predecessor));
  }
  EntityState successor = ctx.Create(EntityKind::MUNICIPALITY);
  successor.project_id = Str(data.getProjectId());
  ctx.Put(EntityKind::MUNICIPALITY, successor_id, std::move(successor));
  ctx.SetStream("municipality", successor_id);
  return Status::Ok();
}

Status ProviderRegistered(Context& ctx, schema::ProviderRegistered::Reader data) {
  const std::string id = Str(data.getProviderId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PROVIDER, id, "provider_id"));
  std::set<uint16_t> registers;
  for (unsigned i = 0; i < data.getRegisters().size(); ++i) {
    if (!registers.insert(static_cast<uint16_t>(data.getRegisters()[i].getRegister())).second) {
      return Invalid("registers[" + std::to_string(i) + "].register", "register is listed twice");
    }
  }
  ctx.Put(EntityKind::PROVIDER, id, ctx.Create(EntityKind::PROVIDER));
  ctx.SetStream("provider", id);
  return Status::Ok();
}

Status ProviderContracted(Context& ctx, schema::ProviderContracted::Reader data) {
  const std::string contract_id = Str(data.getContractId());
  const std::string provider_id = Str(data.getProviderId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::CONTRACT, contract_id, "contract_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, provider_id, "provider_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  DI_RETURN_IF_ERROR(NeedServices(data.getServices(), "services"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getPeriodStart(), data.getPeriodEnd(), "period_end", "period_start"));
  EntityState contract = ctx.Create(EntityKind::CONTRACT);
  contract.municipality_id = Str(data.getMunicipalityId());
  contract.valid_from = data.getPeriodStart();
  contract.valid_until = data.getPeriodEnd();
  ctx.Put(EntityKind::CONTRACT, contract_id, std::move(contract));
  ctx.SetStream("provider", provider_id);
  return Status::Ok();
}

// A closure (a day centre closed for COVID-19 in spring 2020): every delivery the provider records on a closed day,
// of a service closed, is ineligible, instead of one suspension per grant. One closure at a time; the provider
// record keeps its first day (suspended_on) and the services closed (services; empty: all).
std::string PartnerKey(const std::string& project_id, const std::string& partner_id) {
  return project_id + "/" + partner_id;
}

Status PartnerJoined(Context& ctx, schema::PartnerJoined::Reader data) {
  const std::string project_id = Str(data.getProjectId());
  const std::string partner_id = Str(data.getPartnerId());
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, project_id, "project_id"));
  const bool municipality = data.getKind() == schema::PartnerKind::MUNICIPALITY;
  if (municipality) {
    DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(partner_id, "partner_id"));
    if (data.hasBranches()) return Invalid("branches", "only a centre has branches, not a municipality");
  } else {
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, partner_id, "partner_id"));
  }
  if (data.getBranches().size() > kMaxBranches) {
    return Invalid("branches", "at most " + std::to_string(kMaxBranches) + " branches");
  }
  std::set<std::string> branches;
  for (unsigned i = 0; i < data.getBranches().size(); ++i) {
    const std::string branch = Str(data.getBranches()[i]);  // an id: the codec checks its form
    const std::string field = "branches[" + std::to_string(i) + "]";
    if (!branches.insert(branch).second) return Invalid(field, "branch '" + branch + "' is listed twice");
  }
  EntityState partner;
  const bool recorded = ctx.Find(EntityKind::PARTNER, PartnerKey(project_id, partner_id), &partner);
  if (recorded && partner.ended_on == kNoDate) {
    return Invalid("partner_id", "'" + partner_id + "' is a partner of project '" + project_id + "' since " +
                                     FormatDate(partner.created_on));
  }
  EntityState own;  // a municipality registered with the project has no record until it leaves
  if (municipality && !recorded && ctx.Find(EntityKind::MUNICIPALITY, partner_id, &own) &&
      own.project_id == project_id) {
    return Invalid("partner_id", "municipality '" + partner_id + "' is registered with project '" + project_id +
                                     "': a partner since its registration");
  }
  partner = ctx.Create(EntityKind::PARTNER);
  partner.project_id = project_id;
  if (municipality) partner.municipality_id = partner_id;
  ctx.Put(EntityKind::PARTNER, PartnerKey(project_id, partner_id), std::move(partner));
  ctx.SetStream("project", project_id);
  return Status::Ok();
}

Status PartnerLeft(Context& ctx, schema::PartnerLeft::Reader data) {
  const std::string project_id = Str(data.getProjectId());
  const std::string partner_id = Str(data.getPartnerId());
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, project_id, "project_id"));
  EntityState partner;
  EntityState own;
  if (!ctx.Find(EntityKind::PARTNER, PartnerKey(project_id, partner_id), &partner)) {
    // A municipality registered with the project is its partner from its registration, without a partner record.
    if (!ctx.Find(EntityKind::MUNICIPALITY, partner_id, &own) || own.project_id != project_id) {
      return Invalid("partner_id", "'" + partner_id + "' is not a partner of project '" + project_id + "'");
    }
    partner = own;
    partner.kind = EntityKind::PARTNER;
    partner.project_id = project_id;
    partner.municipality_id = partner_id;
    partner.ended_on = kNoDate;
  }
  if (partner.ended_on != kNoDate) {
    return Invalid("partner_id", "'" + partner_id + "' left project '" + project_id + "' on " +
                                     FormatDate(partner.ended_on));
  }
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), partner.created_on, "the partner joined"));
  partner.ended_on = ctx.date();
  ctx.Put(EntityKind::PARTNER, PartnerKey(project_id, partner_id), std::move(partner));
  ctx.SetStream("project", project_id);
  return Status::Ok();
}

Status ProjectActivityHeld(Context& ctx, schema::ProjectActivityHeld::Reader data) {
  const std::string project_id = Str(data.getProjectId());
  const std::string activity_id = Str(data.getActivityId());
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, project_id, "project_id"));
  EntityState activity;
  const bool correction = ctx.Find(EntityKind::ACTIVITY, activity_id, &activity);
  if (correction && activity.project_id != project_id) {
    return Invalid("activity_id", "activity '" + activity_id + "' is of project '" + activity.project_id +
                                      "'; a correction keeps the project");
  }
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getFirstDate(), data.getLastDate(), "last_date", "first_date"));
  if (data.getLastDate() > ctx.date()) {
    return Invalid("last_date", "the activity ends " + FormatDate(data.getLastDate()) + ", after the effective date " +
                                    FormatDate(ctx.date()) + ": record an activity once it is held");
  }
  if (data.getParticipants() > kMaxActivityParticipants) {
    return Invalid("participants", "exceeds the maximum of " + std::to_string(kMaxActivityParticipants));
  }
  if (!correction) {
    activity = ctx.Create(EntityKind::ACTIVITY);
    activity.project_id = project_id;
    ctx.Put(EntityKind::ACTIVITY, activity_id, std::move(activity));
  }
  ctx.SetStream("project", project_id);
  return Status::Ok();
}

Status ProviderClosed(Context& ctx, schema::ProviderClosed::Reader data) {
  const std::string id = Str(data.getProviderId());
  EntityState provider;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, id, "provider_id", &provider));
  if (provider.suspended_on != kNoDate) {
    return Invalid("provider_id", "provider '" + id + "' is already closed since " + FormatDate(provider.suspended_on) +
                                      " (reopen it first)");
  }
  provider.services.clear();
  if (data.hasServices()) {
    DI_RETURN_IF_ERROR(NeedServices(data.getServices(), "services"));
    for (const auto service : data.getServices()) provider.services.push_back(service);
  }
  provider.suspended_on = ctx.date();
  ctx.Put(EntityKind::PROVIDER, id, std::move(provider));
  ctx.SetStream("provider", id);
  return Status::Ok();
}

Status ProviderReopened(Context& ctx, schema::ProviderReopened::Reader data) {
  const std::string id = Str(data.getProviderId());
  EntityState provider;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, id, "provider_id", &provider));
  if (provider.suspended_on == kNoDate) return Invalid("provider_id", "provider '" + id + "' is not closed");
  if (ctx.date() < provider.suspended_on) {
    return Status::InvalidArgument("reopened " + FormatDate(ctx.date()) + ", before it closed on " +
                                       FormatDate(provider.suspended_on),
                                   "effective_date");
  }
  provider.suspended_on = kNoDate;
  provider.services.clear();
  ctx.Put(EntityKind::PROVIDER, id, std::move(provider));
  ctx.SetStream("provider", id);
  return Status::Ok();
}

Status RulesEnacted(Context& ctx, schema::RulesEnacted::Reader data) {
  // The document's structure is checked by the rules engine (projections); here: a JSON object (codec).
  if (data.hasProjectIds()) {
    // The projects it governs: registered ones, each once. Absent, not empty, means every project.
    const auto projects = data.getProjectIds();
    if (projects.size() == 0) {
      return Invalid("project_ids", "must name at least one project; leave it out to enact the rules for every project");
    }
    if (projects.size() > kMaxRulesProjects) {
      return Invalid("project_ids", "names more than " + std::to_string(kMaxRulesProjects) + " projects");
    }
    std::set<std::string> seen;
    for (unsigned i = 0; i < projects.size(); ++i) {
      const std::string field = "project_ids[" + std::to_string(i) + "]";
      const std::string id = Str(projects[i]);
      if (!seen.insert(id).second) return Invalid(field, "project '" + id + "' is listed twice");
      DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, id, field));
    }
  }
  ctx.SetStream("rules", Str(data.getRuleSetId()));
  return Status::Ok();
}

}  // namespace di::ledger::validation
