// Validation of the events about a person: enrolment, residence, disability, special-care opinions, a parent's
// activity, needs assessments, support plans, applications and their decisions. One function per event type
// (validator_context.h).
#include <set>
#include <string>

#include "di/ledger/capnp_text.h"
#include "di/ledger/civil_date.h"
#include "validator_context.h"

namespace di::ledger::validation {
namespace {

// Of age (pilngadīgs): a person of a child group is younger on enrolment, an adult group's is this or older.
constexpr int kAdultAge = 18;

bool IsChildGroup(TargetGroup group) {
  return group == TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT || group == TargetGroup::CHILD_IN_CARE;
}

std::string_view TargetGroupName(TargetGroup group) {
  switch (group) {
    case TargetGroup::ADULT_MENTAL_DISABILITY: return "adult_mental_disability";
    case TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT: return "child_functional_impairment";
    case TargetGroup::PARENT_OF_CHILD: return "parent_of_child";
    case TargetGroup::CHILD_IN_CARE: return "child_in_care";
    case TargetGroup::FOSTER_OR_ADOPTIVE_CANDIDATE: return "foster_or_adoptive_candidate";
  }
  return "unknown";
}

}  // namespace

Status PersonEnrolled(Context& ctx, schema::PersonEnrolled::Reader data) {
  const std::string id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PERSON, id, "person_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROJECT, Str(data.getProjectId()), "project_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getResidenceMunicipalityId()), "residence_municipality_id"));
  const int32_t birth = data.getBirthDate();
  if (birth > ctx.date()) {
    return Invalid("birth_date", FormatDate(birth) + " is after the enrolment date " + FormatDate(ctx.date()));
  }
  const TargetGroup group = data.getTargetGroup();
  const int age = AgeInYears(birth, ctx.date());
  if (IsChildGroup(group) && age >= kAdultAge) {
    return Invalid("birth_date", "a person of group " + std::string(TargetGroupName(group)) +
                                     " must be 0-" + std::to_string(kAdultAge - 1) + " on the enrolment date; is " +
                                     std::to_string(age));
  }
  if (group == TargetGroup::ADULT_MENTAL_DISABILITY && age < kAdultAge) {
    return Invalid("birth_date", "a person of group adult_mental_disability must be " + std::to_string(kAdultAge) +
                                     " or older on the enrolment date; is " + std::to_string(age));
  }
  if (group == TargetGroup::PARENT_OF_CHILD) {
    if (!data.hasRepresentative()) return Invalid("representative", "is required for group parent_of_child");
    const auto children = data.getRepresentative().getChildIds();
    if (children.size() == 0) return Invalid("representative.child_ids", "must list at least one child");
    std::set<std::string> seen;
    for (unsigned i = 0; i < children.size(); ++i) {
      const std::string field = "representative.child_ids[" + std::to_string(i) + "]";
      const std::string child_id = Str(children[i]);
      if (!seen.insert(child_id).second) return Invalid(field, "child '" + child_id + "' is listed twice");
      EntityState child;
      DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, child_id, field, &child));
      if (!IsChildGroup(child.target_group)) {
        return Invalid(field, "person '" + child_id + "' is in group " +
                                  std::string(TargetGroupName(child.target_group)) + ", not a child group");
      }
    }
  } else if (data.hasRepresentative()) {
    return Invalid("representative", "only persons of group parent_of_child represent children");
  }
  EntityState person = ctx.Create(EntityKind::PERSON);
  person.target_group = group;
  person.birth_date = birth;
  person.municipality_id = Str(data.getResidenceMunicipalityId());
  ctx.Put(EntityKind::PERSON, id, std::move(person));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status ResidenceChanged(Context& ctx, schema::ResidenceChanged::Reader data) {
  const std::string id = Str(data.getPersonId());
  EntityState person;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id", &person));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  person.municipality_id = Str(data.getMunicipalityId());
  ctx.Put(EntityKind::PERSON, id, std::move(person));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status DisabilityRecorded(Context& ctx, schema::DisabilityRecorded::Reader data) {
  const std::string id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status SpecialCareOpinionRecorded(Context& ctx, schema::SpecialCareOpinionRecorded::Reader data) {
  const std::string id = Str(data.getPersonId());
  EntityState person;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id", &person));
  if (person.target_group != TargetGroup::CHILD_FUNCTIONAL_IMPAIRMENT) {
    return Invalid("person_id", "a special-care opinion is for a child_functional_impairment person; '" + id +
                                    "' is " + std::string(TargetGroupName(person.target_group)));
  }
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status ParentActivityRecorded(Context& ctx, schema::ParentActivityRecorded::Reader data) {
  const std::string id = Str(data.getPersonId());
  EntityState person;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id", &person));
  if (person.target_group != TargetGroup::PARENT_OF_CHILD) {
    return Invalid("person_id", "parent activity is recorded for parent_of_child persons; '" + id + "' is " +
                                    std::string(TargetGroupName(person.target_group)));
  }
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

namespace {
// The transition to community life concerns adults with a mental disability (GRT) in state social care centres.
Status NeedTransitionPerson(Context& ctx, const std::string& id, std::string_view what) {
  EntityState person;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, id, "person_id", &person));
  if (person.target_group != TargetGroup::ADULT_MENTAL_DISABILITY) {
    return Invalid("person_id", std::string(what) + " is recorded for adult_mental_disability persons; '" + id +
                                    "' is " + std::string(TargetGroupName(person.target_group)));
  }
  return Status::Ok();
}
}  // namespace

Status TransitionPrepared(Context& ctx, schema::TransitionPrepared::Reader data) {
  const std::string id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(NeedTransitionPerson(ctx, id, "preparation for community life"));
  if (data.hasCentreId()) DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PROVIDER, Str(data.getCentreId()), "centre_id"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status IndependentLifeStarted(Context& ctx, schema::IndependentLifeStarted::Reader data) {
  const std::string id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(NeedTransitionPerson(ctx, id, "the start of independent life"));
  ctx.SetStream("person", id);
  return Status::Ok();
}

Status NeedsAssessed(Context& ctx, schema::NeedsAssessed::Reader data) {
  const std::string assessment_id = Str(data.getAssessmentId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::ASSESSMENT, assessment_id, "assessment_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  EntityState assessment = ctx.Create(EntityKind::ASSESSMENT);
  assessment.person_id = person_id;
  ctx.Put(EntityKind::ASSESSMENT, assessment_id, std::move(assessment));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

Status SupportPlanApproved(Context& ctx, schema::SupportPlanApproved::Reader data) {
  const std::string plan_id = Str(data.getPlanId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::PLAN, plan_id, "plan_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  EntityState assessment;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::ASSESSMENT, Str(data.getAssessmentId()), "assessment_id", &assessment));
  if (assessment.person_id != person_id) {
    return Invalid("assessment_id", "assessment '" + Str(data.getAssessmentId()) + "' is of person '" +
                                        assessment.person_id + "', not '" + person_id + "'");
  }
  if (assessment.created_on > ctx.date()) {
    return Status::InvalidArgument("plan approved " + FormatDate(ctx.date()) + " before its assessment on " +
                                       FormatDate(assessment.created_on),
                                   "effective_date");
  }
  DI_RETURN_IF_ERROR(NeedServices(data.getRecommendedServices(), "recommended_services"));
  DI_RETURN_IF_ERROR(NeedDateOrder(data.getValidFrom(), data.getValidUntil(), "valid_until", "valid_from"));
  EntityState plan = ctx.Create(EntityKind::PLAN);
  plan.person_id = person_id;
  plan.valid_from = data.getValidFrom();
  plan.valid_until = data.getValidUntil();
  ctx.Put(EntityKind::PLAN, plan_id, std::move(plan));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

Status ApplicationSubmitted(Context& ctx, schema::ApplicationSubmitted::Reader data) {
  const std::string application_id = Str(data.getApplicationId());
  const std::string person_id = Str(data.getPersonId());
  DI_RETURN_IF_ERROR(ctx.NeedNew(EntityKind::APPLICATION, application_id, "application_id"));
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, person_id, "person_id"));
  DI_RETURN_IF_ERROR(ctx.NeedActiveMunicipality(Str(data.getMunicipalityId()), "municipality_id"));
  DI_RETURN_IF_ERROR(NeedServices(data.getServices(), "services"));
  if (data.hasSubmittedById()) {
    DI_RETURN_IF_ERROR(ctx.Need(EntityKind::PERSON, Str(data.getSubmittedById()), "submitted_by_id"));
  }
  EntityState application = ctx.Create(EntityKind::APPLICATION);
  application.person_id = person_id;
  application.municipality_id = Str(data.getMunicipalityId());
  for (Service service : data.getServices()) application.services.push_back(service);
  ctx.Put(EntityKind::APPLICATION, application_id, std::move(application));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

Status ApplicationDecided(Context& ctx, schema::ApplicationDecided::Reader data) {
  const std::string application_id = Str(data.getApplicationId());
  EntityState application;
  DI_RETURN_IF_ERROR(ctx.Need(EntityKind::APPLICATION, application_id, "application_id", &application));
  if (application.decided) return Invalid("application_id", "application '" + application_id + "' is already decided");
  if (ctx.date() < application.created_on) {
    return Status::InvalidArgument("decided " + FormatDate(ctx.date()) + ", before the application was submitted on " +
                                       FormatDate(application.created_on),
                                   "effective_date");
  }
  if (data.getDecision() == schema::Decision::REFUSED && !data.hasReason()) {
    return Invalid("reason", "is required when the application is refused");
  }
  application.decided = true;
  application.decision = data.getDecision();
  const std::string person_id = application.person_id;
  ctx.Put(EntityKind::APPLICATION, application_id, std::move(application));
  ctx.SetStream("person", person_id);
  return Status::Ok();
}

}  // namespace di::ledger::validation
