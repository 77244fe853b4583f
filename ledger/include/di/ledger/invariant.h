// DI_ASSERT: invariant checks that stay on in every build type (RelWithDebInfo/Release define NDEBUG,
// which would silence <cassert>). A failed invariant is a bug: crash loudly rather than record wrong data.
// Expected operating errors (bad input, full disk) are Status values, never assertions.
#ifndef DI_LEDGER_INVARIANT_H_
#define DI_LEDGER_INVARIANT_H_

#include <cstdio>
#include <cstdlib>

#define DI_ASSERT(condition)                                                                      \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "di-ledger: invariant violated at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (false)

#endif  // DI_LEDGER_INVARIANT_H_
