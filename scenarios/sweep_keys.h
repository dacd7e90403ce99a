#pragma once
/// The scenario keys a sweep (or `memsim fit`) can vary, and how each maps onto a
/// TrainingPlan: copy the field from a plan read with the value, read it as a number (for
/// `where:` constraints), or set it to an integer (for `fit`).

#include <cstdint>
#include <string>
#include <vector>

#include "strategies/training_plan.h"

namespace memsim::scenarios {

struct SweepKey {
  const char* key;
  /// Copies the key's field(s) from `from` into `to`.
  void (*copy)(strategies::TrainingPlan& to, const strategies::TrainingPlan& from);
  /// The key's value as a number, or nullptr for keys that are not numbers.
  double (*number)(const strategies::TrainingPlan& plan);
  /// Sets the key to an integer, or nullptr for keys that are not integers.
  void (*set_integer)(strategies::TrainingPlan& plan, int64_t value);
};

const std::vector<SweepKey>& sweep_keys();
const SweepKey* find_sweep_key(const std::string& key);

}  // namespace memsim::scenarios
