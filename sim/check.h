#pragma once
/// Invariant checks: a failed MEMSIM_CHECK is a bug in memsim, never bad input, so it
/// reports where and aborts. User input errors are exceptions caught by the program.

namespace memsim::sim {
[[noreturn]] void check_failed(const char* expression, const char* file, int line);
}  // namespace memsim::sim

#define MEMSIM_CHECK(condition)                                                    \
  do {                                                                             \
    if (!(condition)) ::memsim::sim::check_failed(#condition, __FILE__, __LINE__); \
  } while (false)
