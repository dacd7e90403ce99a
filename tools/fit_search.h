#pragma once
/// `memsim fit`: the largest integer value of a key that fits, by doubling then bisection.
/// Memory grows with the keys people maximize (micro_batch, seq_len), so "fits" turns false
/// once and stays false; the answer `value` fits and `value + 1` does not. A key whose
/// doubling leaves the peak unchanged does not limit memory: that is reported, not searched.

#include <cstdint>
#include <optional>

#include "scenarios/sweep_keys.h"
#include "sim/units.h"
#include "strategies/fast_evaluator.h"
#include "strategies/training_plan.h"

namespace memsim::tools {

/// The largest value tried before giving up: a key that never runs out of memory.
inline constexpr int64_t kLargestFitValue = int64_t{1} << 40;

struct FitAnswer {
  int64_t value = 0;     ///< 0 when even 1 does not fit
  sim::Bytes peak;       ///< at `value` (0 when value is 0)
  sim::Bytes next_peak;  ///< at `value + 1` (0 when that is not a valid layout)
  /// Doubling `value` left the peak unchanged, or kLargestFitValue fits: the key does not
  /// limit memory.
  bool unbounded = false;
};

/// `base` with `key` set to `value`, resolved; nullopt when that is not a valid layout.
/// Setting training.micro_batch keeps the microbatches per step (the global batch scales).
std::optional<strategies::TrainingPlan> plan_with(const strategies::TrainingPlan& base,
                                                  const scenarios::SweepKey& key, int64_t value);

FitAnswer maximize(const strategies::TrainingPlan& base, const scenarios::SweepKey& key,
                   strategies::FastEvaluator& evaluator);

/// Serving's capacity answers, by the same search as `memsim fit`: the largest
/// inference.batch at the plan's lengths and the longest inference.prompt_len at its batch
/// that fit (0 when none does).
struct InferenceCapacity {
  int64_t max_batch = 0;
  int64_t max_prompt_len = 0;
};
InferenceCapacity inference_capacity(const strategies::TrainingPlan& plan,
                                     strategies::FastEvaluator& evaluator);

}  // namespace memsim::tools
