// Validation of the money side: a municipality's reimbursement claims, their reviews and payments; and the
// audit events the store's own writer appends. One function per event type (validator_context.h).
#include <algorithm>
#include <set>
#include <string>

#include "di/ledger/audit.h"
#include "di/ledger/capnp_text.h"
#include "di/ledger/civil_date.h"
#include "validator_context.h"

namespace di::ledger::validation {
namespace {

// True if `municipality_id` is `claimant_id` or was merged (transitively) into it.
bool BelongsToClaimant(Context& ctx, const std::string& municipality_id, const std::string& claimant_id) {
  for (const TerritoryStep& step : ctx.TerritoryOf(municipality_id)) {
    if (step.municipality_id == claimant_id) return true;
  }
  return false;
}

// Audit events (docs/audit.md). The store accepts them only from its own writer; these checks are the
// facts any such event must satisfy: it covers exactly the events before it, and it is well-formed and
// validly signed by the keys it names. Key continuity and the root itself are checked by the writer.
Status CheckSignedTreeHead(Context& ctx, schema::Event::Reader event, uint64_t tree_size) {
  SignedTreeHead head;
  const std::string problem = CheckAuditEvent(event, &head);
  if (!problem.empty()) return Invalid("signature", problem);
  if (tree_size != ctx.position() - 1) {
    return Invalid("tree_size", "must be " + std::to_string(ctx.position() - 1) +
                                    ": a signed tree head covers exactly the events before it");
  }
  return Status::Ok();
}

// An approval is split into ESF and state parts by the budget in force on the claim's date: there must be one. (A
// claim recorded before claims knew their project has none here; its project had a budget: every project had.)
Status NeedBudgetOnClaimDate(Context& ctx, const EntityState& claim) {
  if (claim.project_id.empty()) return Status::Ok();
  EntityState project;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, claim.project_id, "claim_id", &project));
  if (project.budget_known_from != kNoDate && project.budget_known_from <= claim.created_on) return Status::Ok();
  return Invalid("claim_id", "project '" + claim.project_id + "' has no budget in force on the claim's date " +
                                 FormatDate(claim.created_on) +
                                 ": record the budget first (budget_amended), the ESF and state parts of an "
                                 "approval are split by it");
}

}  // namespace

Status ReimbursementClaimed(Context& ctx, schema::ReimbursementClaimed::Reader data) {
  const std::string claim_id = Str(data.getClaimId());
  const std::string municipality_id = Str(data.getMunicipalityId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::CLAIM, claim_id, "claim_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(municipality_id, "municipality_id"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getPeriodStart(), data.getPeriodEnd(), "period_end", "period_start"));
  const auto lines = data.getLines();
  if (lines.size() == 0) return Invalid("lines", "a claim must have at least one line");
  if (data.getPeriodEnd() > ctx.date()) {
    return Invalid("period_end", "the claim period ends " + FormatDate(data.getPeriodEnd()) +
                                     ", after the claim date " + FormatDate(ctx.date()));
  }
  EntityState claim = ctx.Create(EntityKind::CLAIM);
  claim.municipality_id = municipality_id;
  claim.project_id = Str(data.getProjectId());
  std::set<std::string> seen;
  int64_t total = 0;
  for (unsigned i = 0; i < lines.size(); ++i) {
    const std::string prefix = "lines[" + std::to_string(i) + "].";
    const std::string delivery_id = Str(lines[i].getDeliveryId());
    if (!seen.insert(delivery_id).second) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is claimed twice in this claim");
    }
    EntityState delivery;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::DELIVERY, delivery_id, prefix + "delivery_id", &delivery));
    if (delivery.voided) return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' was voided");
    if (delivery.created_on < data.getPeriodStart() || delivery.created_on > data.getPeriodEnd()) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' of " + FormatDate(delivery.created_on) +
                                                 " is outside the claim period " +
                                                 FormatDate(data.getPeriodStart()) + ".." +
                                                 FormatDate(data.getPeriodEnd()));
    }
    EntityState grant;
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::GRANT, delivery.grant_id, prefix + "delivery_id", &grant));
    if (!BelongsToClaimant(ctx, grant.municipality_id, municipality_id)) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' was granted by municipality '" +
                                                 grant.municipality_id + "', not by '" + municipality_id +
                                                 "' or a predecessor");
    }
    if (!grant.project_id.empty() && grant.project_id != claim.project_id) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is paid by project '" + grant.project_id +
                                                 "' (grant '" + delivery.grant_id + "'), not by '" + claim.project_id +
                                                 "'");
    }
    if (!delivery.claim_id.empty()) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is already claimed in claim '" +
                                                 delivery.claim_id + "'");
    }
    DI_RETURN_IF_ERROR(NeedAmount(lines[i].getAmountCents(), prefix + "amount_cents", false));
    if (lines[i].getAmountCents() > delivery.cost_cents) {
      return Invalid(prefix + "amount_cents", "claims " + std::to_string(lines[i].getAmountCents()) +
                                                  " cents for delivery '" + delivery_id + "' that cost " +
                                                  std::to_string(delivery.cost_cents));
    }
    delivery.claim_id = claim_id;
    ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
    total += lines[i].getAmountCents();
    claim.claim_lines.emplace_back(delivery_id, lines[i].getAmountCents());
  }
  if (total != data.getTotalCents()) {
    return Invalid("total_cents", "is " + std::to_string(data.getTotalCents()) + " but the lines sum to " +
                                      std::to_string(total));
  }
  ctx.Put(EntityKind::CLAIM, claim_id, std::move(claim));
  ctx.SetStream("claim", claim_id);
  return Status::Ok();
}

Status ClaimReviewed(Context& ctx, schema::ClaimReviewed::Reader data) {
  const std::string claim_id = Str(data.getClaimId());
  EntityState claim;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::CLAIM, claim_id, "claim_id", &claim));
  if (claim.reviewed) return Invalid("claim_id", "claim '" + claim_id + "' is already reviewed");
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), claim.created_on, "the claim"));
  DI_RETURN_IF_ERROR(NeedBudgetOnClaimDate(ctx, claim));
  const auto lines = data.getLines();
  if (lines.size() != claim.claim_lines.size()) {
    return Invalid("lines", "the review has " + std::to_string(lines.size()) + " line(s); the claim has " +
                                std::to_string(claim.claim_lines.size()));
  }
  std::set<std::string> seen;
  int64_t approved_total = 0;
  for (unsigned i = 0; i < lines.size(); ++i) {
    const std::string prefix = "lines[" + std::to_string(i) + "].";
    const std::string delivery_id = Str(lines[i].getDeliveryId());
    auto claimed = std::find_if(claim.claim_lines.begin(), claim.claim_lines.end(),
                                [&](const auto& line) { return line.first == delivery_id; });
    if (claimed == claim.claim_lines.end()) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is not a line of claim '" + claim_id + "'");
    }
    if (!seen.insert(delivery_id).second) {
      return Invalid(prefix + "delivery_id", "delivery '" + delivery_id + "' is reviewed twice");
    }
    const int64_t approved = lines[i].getApprovedCents();
    DI_RETURN_IF_ERROR(NeedAmount(approved, prefix + "approved_cents", true));
    if (approved > claimed->second) {
      return Invalid(prefix + "approved_cents", std::to_string(approved) + " exceeds the claimed " +
                                                    std::to_string(claimed->second));
    }
    if (!lines[i].getAccepted() && approved != 0) {
      return Invalid(prefix + "approved_cents", "must be 0 for a rejected line");
    }
    if (lines[i].getAccepted() && approved == 0) {
      return Invalid(prefix + "approved_cents", "an accepted line approves more than 0 (reject it instead)");
    }
    if (!lines[i].getAccepted()) {
      // A rejected line frees its delivery: the municipality may claim it again (e.g. with evidence).
      EntityState delivery;
      if (ctx.Find(EntityKind::DELIVERY, delivery_id, &delivery) && delivery.claim_id == claim_id) {
        delivery.claim_id.clear();
        ctx.Put(EntityKind::DELIVERY, delivery_id, std::move(delivery));
      }
    }
    if ((!lines[i].getAccepted() || approved < claimed->second) && !lines[i].hasReason()) {
      return Invalid(prefix + "reason", "is required for a rejected or partly approved line");
    }
    approved_total += approved;
  }
  if (approved_total != data.getApprovedTotalCents()) {
    return Invalid("approved_total_cents", "is " + std::to_string(data.getApprovedTotalCents()) +
                                               " but the approved lines sum to " + std::to_string(approved_total));
  }
  claim.reviewed = true;
  claim.reviewed_on = ctx.date();
  claim.approved_total_cents = approved_total;
  ctx.Put(EntityKind::CLAIM, claim_id, std::move(claim));
  ctx.SetStream("claim", claim_id);
  return Status::Ok();
}

Status ReimbursementPaid(Context& ctx, schema::ReimbursementPaid::Reader data) {
  const std::string claim_id = Str(data.getClaimId());
  const std::string payment_id = Str(data.getPaymentId());
  EntityState claim;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::CLAIM, claim_id, "claim_id", &claim));
  if (!claim.reviewed) return Invalid("claim_id", "claim '" + claim_id + "' is not reviewed yet");
  DI_RETURN_IF_ERROR(NeedNotBefore(ctx.date(), claim.reviewed_on, "the claim's review"));
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PAYMENT, payment_id, "payment_id"));
  DI_RETURN_IF_ERROR(CheckBudget(data.getAmountCents(), data.getEsfCents(), data.getStateCents(), "amount_cents",
                                 "esf_cents", "state_cents"));
  if (claim.paid_total_cents + data.getAmountCents() > claim.approved_total_cents) {
    return Invalid("amount_cents", "paying " + std::to_string(data.getAmountCents()) + " would bring claim '" +
                                       claim_id + "' to " + std::to_string(claim.paid_total_cents + data.getAmountCents()) +
                                       " cents paid, above the approved " + std::to_string(claim.approved_total_cents));
  }
  claim.paid_total_cents += data.getAmountCents();
  ctx.Put(EntityKind::CLAIM, claim_id, std::move(claim));
  ctx.Put(EntityKind::PAYMENT, payment_id, ctx.Create(EntityKind::PAYMENT));
  ctx.SetStream("claim", claim_id);
  return Status::Ok();
}

Status CheckpointSigned(Context& ctx, schema::Event::Reader event) {
  DI_RETURN_IF_ERROR(CheckSignedTreeHead(ctx, event, event.getPayload().getCheckpointSigned().getTreeSize()));
  ctx.SetStream("audit", "checkpoints");
  return Status::Ok();
}

Status SigningKeyRotated(Context& ctx, schema::Event::Reader event) {
  DI_RETURN_IF_ERROR(CheckSignedTreeHead(ctx, event, event.getPayload().getSigningKeyRotated().getTreeSize()));
  ctx.SetStream("audit", "signing_keys");
  return Status::Ok();
}

}  // namespace di::ledger::validation
