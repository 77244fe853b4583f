// Recorded rules documents, parsed once per process (not part of the public API).
#ifndef DI_PROJECTIONS_SRC_PARSED_RULES_H_
#define DI_PROJECTIONS_SRC_PARSED_RULES_H_

#include <memory>
#include <string_view>

#include "di/ledger/status.h"
#include "di/projections/rules.h"

namespace di::projections::internal {

// A rules document as `rules_enacted` records it, parsed and checked (ParseJson, then ParseRuleSet without overrides);
// the error names the field "document". The same text always gives the same rule set, so a parsed one is shared: a
// ledger records a handful of documents, and a fold of one family's facts folds every `rules_enacted` (parsing was
// about half of a past-known-at entitlement answer from the journal store). At most kParsedRuleSetsKept are kept;
// a document that does not parse is parsed again each time (it is a reported problem, not a hot path).
constexpr size_t kParsedRuleSetsKept = 16;
ledger::Status ParsedRuleSet(std::string_view document_text, std::shared_ptr<const RuleSet>* out);

}  // namespace di::projections::internal

#endif  // DI_PROJECTIONS_SRC_PARSED_RULES_H_
