#include "sim/check.h"

#include <cstdio>
#include <cstdlib>

namespace memsim::sim {

void check_failed(const char* expression, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: internal error: check failed: %s\n", file, line, expression);
  std::abort();
}

}  // namespace memsim::sim
