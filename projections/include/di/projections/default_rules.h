// The default rule set (projections/rules/mk313.json), compiled into the binary so that `di-ledger init`
// enacts it from any working directory.
#ifndef DI_PROJECTIONS_DEFAULT_RULES_H_
#define DI_PROJECTIONS_DEFAULT_RULES_H_

#include <string_view>

namespace di::projections {
std::string_view DefaultRulesDocument();
}  // namespace di::projections

#endif  // DI_PROJECTIONS_DEFAULT_RULES_H_
