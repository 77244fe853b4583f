// Validation of grants and what is delivered under them: a grant, its amendments and end, suspensions and
// resumptions, deliveries, their corrections and voids. One function per event type (validator_context.h).
#include <string>

#include "di/ledger/capnp_text.h"
#include "di/ledger/catalog.h"
#include "di/ledger/civil_date.h"
#include "validator_context.h"

namespace di::ledger::validation {
namespace {

// Sanity bound on sessions per day of a delivery.
constexpr int64_t kMaxSessionsPerDay = 50;
// A day has this many minutes: the most a delivery in minutes can hold per day of its span.
constexpr int64_t kMinutesPerDay = 24 * 60;

// Last day a grant can be delivered on: the day it ended, else its (amended) validity.
int32_t GrantLastDay(const EntityState& grant) {
  return grant.ended_on != kNoDate ? grant.ended_on : grant.valid_until;
}

Status NeedOpenGrant(Context& ctx, const std::string& grant_id, EntityState* grant) {
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::GRANT, grant_id, "grant_id", grant));
  if (grant->ended_on != kNoDate) {
    return Invalid("grant_id", "grant '" + grant_id + "' ended on " + FormatDate(grant->ended_on));
  }
  return Status::Ok();
}

// Checks a delivered quantity against the span of days it covers, in the service's unit.
Status CheckQuantityForSpan(Service service, int64_t quantity, int64_t days, const std::string& field) {
  DI_RETURN_IF_ERROR(NeedPositive(quantity, field));
  switch (ServiceUnit(service)) {
    case schema::Unit::DAYS:
      if (quantity > days) {
        return Invalid(field, std::to_string(quantity) + " days delivered in a span of " + std::to_string(days) +
                                  " day(s)");
      }
      break;
    case schema::Unit::MINUTES:
      if (quantity > kMinutesPerDay * days) {
        return Invalid(field, std::to_string(quantity) + " minutes delivered in a span of " +
                                  std::to_string(days) + " day(s) (at most " + std::to_string(kMinutesPerDay) +
                                  " per day)");
      }
      break;
    case schema::Unit::SESSIONS:
      if (quantity > kMaxSessionsPerDay * days) {
        return Invalid(field, std::to_string(quantity) + " sessions in " + std::to_string(days) +
                                  " day(s) (at most " + std::to_string(kMaxSessionsPerDay) + " per day)");
      }
      break;
  }
  return Status::Ok();
}

Status NeedLiveDelivery(Context& ctx, const std::string& delivery_id, EntityState* delivery) {
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::DELIVERY, delivery_id, "delivery_id", delivery));
  if (delivery->voided) return Invalid("delivery_id", "delivery '" + delivery_id + "' was voided");
  return Status::Ok();
}

}  // namespace

namespace {

// The project that pays a new grant: the one it names, which the municipality must be a partner of on the grant's
// first day, else the municipality's own, which it must not have left by then. Empty for a municipality recorded
// before municipalities knew their project (an older store): nothing to check then.
Status ProjectOfNewGrant(Context& ctx, schema::ServiceGranted::Reader data, std::string* project_id) {
  const std::string municipality_id = Str(data.getMunicipalityId());
  EntityState municipality;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::MUNICIPALITY, municipality_id, "municipality_id", &municipality));
  const bool named = data.hasProjectId();
  *project_id = named ? Str(data.getProjectId()) : municipality.project_id;
  if (named) DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, *project_id, "project_id"));
  if (project_id->empty()) return Status::Ok();
  const std::string field = named ? "project_id" : "municipality_id";
  const int32_t first_day = data.getValidFrom();
  EntityState partner;
  if (ctx.Find(EntityKind::PARTNER, PartnerKey(*project_id, municipality_id), &partner)) {
    if (first_day < partner.created_on) {
      return Invalid(field, "municipality '" + municipality_id + "' is a partner of project '" + *project_id +
                                "' from " + FormatDate(partner.created_on) + ", after the grant's first day " +
                                FormatDate(first_day));
    }
    if (partner.ended_on != kNoDate && first_day >= partner.ended_on) {
      return Invalid(field, "municipality '" + municipality_id + "' left project '" + *project_id + "' on " +
                                FormatDate(partner.ended_on) +
                                (named ? "" : ": name the project that pays the grant (project_id)"));
    }
    return Status::Ok();
  }
  if (municipality.project_id != *project_id) {
    return Invalid(field, "municipality '" + municipality_id + "' is not a partner of project '" + *project_id +
                              "' (record partner_joined first)");
  }
  return Status::Ok();
}

}  // namespace

Status ServiceGranted(Context& ctx, schema::ServiceGranted::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::GRANT, grant_id, "grant_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  DI_RETURN_IF_ERROR(NeedPositive(data.getQuantity(), "quantity"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  if (data.getCostBasis() == schema::CostBasis::UNIT_COST) {
    if (data.getUnitCostCents() == 0) return Invalid("unit_cost_cents", "is required when cost_basis is unit_cost");
    DI_RETURN_IF_ERROR(NeedAmount(data.getUnitCostCents(), "unit_cost_cents", false));
  } else if (data.getUnitCostCents() != 0) {
    return Invalid("unit_cost_cents", "is only allowed when cost_basis is unit_cost");
  }
  if (data.hasApplicationId()) {
    const std::string application_id = Str(data.getApplicationId());
    EntityState application;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::APPLICATION, application_id, "application_id", &application));
    if (application.person_id != person_id) {
      return Invalid("application_id", "application '" + application_id + "' is of person '" +
                                           application.person_id + "', not '" + person_id + "'");
    }
    if (!application.decided || application.decision != schema::Decision::GRANTED) {
      return Invalid("application_id", "application '" + application_id +
                                           (application.decided ? "' was refused" : "' is not decided yet"));
    }
    if (std::find(application.services.begin(), application.services.end(), data.getService()) ==
        application.services.end()) {
      return Invalid("service", "service '" + std::string(ServiceName(data.getService())) +
                                    "' was not applied for in application '" + application_id + "'");
    }
  }
  if (data.hasPlanId()) {
    EntityState plan;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PLAN, Str(data.getPlanId()), "plan_id", &plan));
    if (plan.person_id != person_id) {
      return Invalid("plan_id", "support plan '" + Str(data.getPlanId()) + "' is of person '" + plan.person_id +
                                    "', not '" + person_id + "'");
    }
  }
  if (data.hasProviderId()) DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, Str(data.getProviderId()), "provider_id"));
  std::string project_id;
  DI_RETURN_IF_ERROR(ProjectOfNewGrant(ctx, data, &project_id));
  EntityState grant = ctx.Create(EntityKind::GRANT);
  grant.project_id = std::move(project_id);
  grant.person_id = person_id;
  grant.municipality_id = Str(data.getMunicipalityId());
  grant.service = data.getService();
  grant.cost_basis = data.getCostBasis();
  grant.valid_from = data.getValidFrom();
  grant.valid_until = data.getValidUntil();
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status GrantAmended(Context& ctx, schema::GrantAmended::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), grant.created_on, "the grant was recorded"));
  const bool has_until = data.getValidUntil() != kNoDate;
  if (data.getQuantity() == 0 && !has_until && data.getUnitCostCents() == 0 && !data.hasProviderId()) {
    return Invalid("quantity", "an amendment must change at least one of quantity, valid_until, "
                               "unit_cost_cents, provider_id");
  }
  if (data.getQuantity() != 0) DI_RETURN_IF_ERROR(NeedPositive(data.getQuantity(), "quantity"));
  if (has_until) {
    DI_RETURN_IF_ERROR(NeedDateOrder(grant.valid_from, data.getValidUntil(), "valid_until", "the grant's valid_from"));
    grant.valid_until = data.getValidUntil();
  }
  if (data.getUnitCostCents() != 0) {
    if (grant.cost_basis != schema::CostBasis::UNIT_COST) {
      return Invalid("unit_cost_cents", "grant '" + grant_id + "' is compensated at actual cost");
    }
    DI_RETURN_IF_ERROR(NeedAmount(data.getUnitCostCents(), "unit_cost_cents", false));
  }
  if (data.hasProviderId()) DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, Str(data.getProviderId()), "provider_id"));
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status GrantEnded(Context& ctx, schema::GrantEnded::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  if (ctx.date() < grant.valid_from || ctx.date() > grant.valid_until) {
    return Status::InvalidArgument("end date " + FormatDate(ctx.date()) + " is outside the grant's validity " +
                                       FormatDate(grant.valid_from) + ".." + FormatDate(grant.valid_until),
                                   "effective_date");
  }
  grant.ended_on = ctx.date();
  grant.suspended_on = kNoDate;  // an ended grant is no longer suspended: it is over
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status ServiceSuspended(Context& ctx, schema::ServiceSuspended::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  if (grant.suspended_on != kNoDate) {
    return Invalid("grant_id", "grant '" + grant_id + "' is already suspended since " + FormatDate(grant.suspended_on));
  }
  if (ctx.date() < grant.valid_from || ctx.date() > grant.valid_until) {
    return Status::InvalidArgument("suspension date " + FormatDate(ctx.date()) + " is outside the grant's validity " +
                                       FormatDate(grant.valid_from) + ".." + FormatDate(grant.valid_until),
                                   "effective_date");
  }
  grant.suspended_on = ctx.date();
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status ServiceResumed(Context& ctx, schema::ServiceResumed::Reader data) {
  const std::string grant_id = Str(data.getGrantId());
  EntityState grant;
  DI_RETURN_IF_ERROR(NeedOpenGrant(ctx, grant_id, &grant));
  if (grant.suspended_on == kNoDate) return Invalid("grant_id", "grant '" + grant_id + "' is not suspended");
  if (ctx.date() < grant.suspended_on) {
    return Status::InvalidArgument("resumed " + FormatDate(ctx.date()) + ", before the suspension on " +
                                       FormatDate(grant.suspended_on),
                                   "effective_date");
  }
  grant.suspended_on = kNoDate;
  ctx.Put(EntityKind::GRANT, grant_id, std::move(grant));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status ServiceDelivered(Context& ctx, schema::ServiceDelivered::Reader data) {
  const std::string delivery_id = Str(data.getDeliveryId());
  const std::string grant_id = Str(data.getGrantId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::DELIVERY, delivery_id, "delivery_id"));
  EntityState grant;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::GRANT, grant_id, "grant_id", &grant));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, Str(data.getProviderId()), "provider_id"));
  const bool day_based = ServiceUnit(grant.service) == schema::Unit::DAYS;
  int32_t last_date = ctx.date();
  if (data.getLastDate() != kNoDate) {
    if (!day_based) {
      return Invalid("last_date", "only day-based services span several days; '" +
                                      std::string(ServiceName(grant.service)) + "' is counted in " +
                                      std::string(UnitName(ServiceUnit(grant.service))));
    }
    DI_RETURN_IF_ERROR(NeedDateOrder(ctx.date(), data.getLastDate(), "last_date", "the delivery date"));
    last_date = data.getLastDate();
  }
  const int32_t grant_last_day = GrantLastDay(grant);
  if (ctx.date() < grant.valid_from || last_date > grant_last_day) {
    return Status::InvalidArgument("delivery " + FormatDate(ctx.date()) +
                                       (last_date != ctx.date() ? ".." + FormatDate(last_date) : std::string()) +
                                       " is outside grant '" + grant_id + "' (" + FormatDate(grant.valid_from) +
                                       ".." + FormatDate(grant_last_day) + ")",
                                   "effective_date");
  }
  DI_RETURN_IF_ERROR(CheckQuantityForSpan(grant.service, data.getQuantity(), last_date - ctx.date() + 1, "quantity"));
  DI_RETURN_IF_ERROR(NeedAmount(data.getCostCents(), "cost_cents", true));
  if (data.getPurpose() != schema::DeliveryPurpose::UNSPECIFIED && grant.service != Service::CHILD_CARE) {
    return Invalid("purpose", "a purpose (care/leisure) applies to child_care only");
  }
  EntityState delivery = ctx.Create(EntityKind::DELIVERY);
  delivery.grant_id = grant_id;
  delivery.service = grant.service;
  delivery.last_date = last_date;
  delivery.cost_cents = data.getCostCents();
  ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status DeliveryCorrected(Context& ctx, schema::DeliveryCorrected::Reader data) {
  const std::string delivery_id = Str(data.getDeliveryId());
  EntityState delivery;
  DI_RETURN_IF_ERROR(NeedLiveDelivery(ctx, delivery_id, &delivery));
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), delivery.created_on, "the delivery"));
  DI_RETURN_IF_ERROR(CheckQuantityForSpan(delivery.service, data.getQuantity(),
                                          delivery.last_date - delivery.created_on + 1, "quantity"));
  DI_RETURN_IF_ERROR(NeedAmount(data.getCostCents(), "cost_cents", true));
  if (data.getPurpose() != schema::DeliveryPurpose::UNSPECIFIED && delivery.service != Service::CHILD_CARE) {
    return Invalid("purpose", "a purpose (care/leisure) applies to child_care only");
  }
  delivery.cost_cents = data.getCostCents();
  const std::string grant_id = delivery.grant_id;
  ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

Status DeliveryVoided(Context& ctx, schema::DeliveryVoided::Reader data) {
  const std::string delivery_id = Str(data.getDeliveryId());
  EntityState delivery;
  DI_RETURN_IF_ERROR(NeedLiveDelivery(ctx, delivery_id, &delivery));
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), delivery.created_on, "the delivery"));
  delivery.voided = true;
  const std::string grant_id = delivery.grant_id;
  ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
  ctx.SetStream("grant", grant_id);
  return Status::Ok();
}

}  // namespace di::ledger::validation
