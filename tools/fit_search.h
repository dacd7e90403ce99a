#pragma once
/// `memsim fit`: the largest value of an integer key that fits. Only values that make a
/// valid scenario are tried (multiples of tp for seq_len under sequence parallelism, the
/// divisors of the global batch for micro_batch, none past memsim's limits), in increasing
/// order, by doubling then bisection: memory grows with the keys people maximize, so "fits"
/// turns false once and stays false. The answer fits and the next valid value does not. A
/// key whose doubling leaves the peak unchanged does not limit memory: that is reported,
/// not searched.

#include <cstdint>
#include <optional>
#include <string>

#include "scenarios/scenario_keys.h"
#include "sim/units.h"
#include "evaluation/fast_evaluator.h"
#include "strategies/plan.h"

namespace memsim::tools {

/// How micro_batch changes the global batch when the scenario gives one.
enum class GlobalBatch {
  kKeep,   ///< the global batch stays: micro_batch divides it, the accumulation steps shrink
  kScale,  ///< the microbatches per step stay: the global batch grows with micro_batch
};

struct FitAnswer {
  int64_t value = 0;                ///< 0 when no valid value fits
  sim::Bytes peak;                  ///< at `value`
  int64_t microbatches = 0;         ///< per step at `value` (training)
  std::optional<int64_t> next;      ///< the next valid value, which does not fit
  sim::Bytes next_peak;             ///< at `next`
  std::optional<int64_t> smallest;  ///< the smallest valid value (none: see `invalid`)
  std::string invalid;              ///< why no value is valid
  /// Doubling `value` left the peak unchanged: the key does not limit memory.
  bool unbounded = false;
};

/// `base` with `key` set to `value`, resolved; nullopt (with why, when asked) when that is
/// not a valid scenario: the layout, memsim's limits.
std::optional<strategies::Plan> plan_with(const strategies::Plan& base,
                                                  const scenarios::ScenarioKey& key, int64_t value,
                                                  GlobalBatch global_batch = GlobalBatch::kKeep,
                                                  std::string* why = nullptr);

FitAnswer maximize(const strategies::Plan& base, const scenarios::ScenarioKey& key,
                   evaluation::FastEvaluator& evaluator,
                   GlobalBatch global_batch = GlobalBatch::kKeep);

/// Serving's capacity answers, by the same search as `memsim fit`: the largest
/// inference.batch at the plan's lengths and the longest inference.prompt_len at its batch
/// that fit (0 when none does).
struct InferenceCapacity {
  int64_t max_batch = 0;
  int64_t max_prompt_len = 0;
};
InferenceCapacity inference_capacity(const strategies::Plan& plan,
                                     evaluation::FastEvaluator& evaluator);

}  // namespace memsim::tools
