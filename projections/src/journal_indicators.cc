#include "di/projections/journal_indicators.h"

#include <vector>

#include "di/ledger/invariant.h"
#include "events.capnp.h"

namespace di::projections {

IndicatorMember MemberFactsFromJournal(const FundingJournal& journal, const LedgerModel& model,
                                       const PersonFacts& person) {
  IndicatorMember member = MemberFactsOf(model, person);
  member.first_receiving = journal.FirstReceivingOf(person.id);
  return member;
}

Status ComputeIndicatorsFromJournal(const FundingJournal& journal, const LedgerModel& model, int32_t valid_date,
                                    const std::string& project_id, const std::string& municipality_id,
                                    IndicatorsReport* out) {
  DI_ASSERT(journal.position() == model.last_position());
  std::vector<IndicatorMember> members;
  members.reserve(model.persons().size());
  for (const auto& [id, person] : model.persons()) members.push_back(MemberFactsFromJournal(journal, model, person));
  return ComputeIndicatorsOfMembers(model, valid_date, project_id, municipality_id, members, out);
}

Status ComputeIndicatorsFromStore(ledger::EventStore& events, JournalStore& journal, uint64_t known_at_position,
                                  int32_t valid_date, const std::string& project_id,
                                  const std::string& municipality_id, IndicatorsReport* out,
                                  ScopedLoadStats* stats) {
  *out = IndicatorsReport{};
  ScopedLoadStats local;
  using P = schema::Event::Payload;
  LedgerModel context;
  DI_RETURN_IF_ERROR(LoadTypesAndStreams(
      events, known_at_position,
      {P::PROJECT_REGISTERED, P::BUDGET_AMENDED, P::MUNICIPALITY_REGISTERED, P::MUNICIPALITIES_MERGED}, {}, &context,
      stats == nullptr ? &local : stats));
  std::vector<IndicatorMember> members;
  DI_RETURN_IF_ERROR(journal.MembersAsKnownAt(known_at_position, &members));
  DI_RETURN_IF_ERROR(
      ComputeIndicatorsOfMembers(context, valid_date, project_id, municipality_id, members, out));
  out->known_at_position = known_at_position;
  return Status::Ok();
}

}  // namespace di::projections
