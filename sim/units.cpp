#include "sim/units.h"

#include <string>

namespace memsim::sim {

int64_t checked_add(int64_t a, int64_t b) {
  int64_t result = 0;
  if (__builtin_add_overflow(a, b, &result)) {
    throw OverflowError("64-bit overflow adding " + std::to_string(a) + " and " +
                        std::to_string(b));
  }
  return result;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t result = 0;
  if (__builtin_mul_overflow(a, b, &result)) {
    throw OverflowError("64-bit overflow multiplying " + std::to_string(a) + " by " +
                        std::to_string(b));
  }
  return result;
}

}  // namespace memsim::sim
