#include "tools/fit_search.h"

#include <string_view>

#include "strategies/layout.h"

namespace memsim::tools {

using strategies::FastResult;
using strategies::TrainingPlan;

namespace {

bool resolves(TrainingPlan& plan) {
  return !strategies::layout_errors(strategies::resolve_layout(plan)).any();
}

}  // namespace

std::optional<TrainingPlan> plan_with(const TrainingPlan& base, const scenarios::SweepKey& key,
                                      int64_t value) {
  TrainingPlan plan = base;
  key.set_integer(plan, value);
  if (std::string_view(key.key) == "training.micro_batch" && base.training.global_batch != 0) {
    TrainingPlan resolved = base;
    if (!resolves(resolved)) return std::nullopt;
    const int64_t dp = resolved.parallel.dp.degree;
    const int64_t microbatches =
        resolved.training.global_batch / (resolved.training.micro_batch * dp);
    plan.training.global_batch = sim::checked_mul(sim::checked_mul(microbatches, value), dp);
  }
  if (!resolves(plan)) return std::nullopt;
  return plan;
}

FitAnswer maximize(const TrainingPlan& base, const scenarios::SweepKey& key,
                   strategies::FastEvaluator& evaluator) {
  // nullopt when `value` cannot run at all: no valid layout, or sizes that overflow.
  auto evaluate_at = [&](int64_t value) -> std::optional<FastResult> {
    try {
      const auto plan = plan_with(base, key, value);
      if (!plan) return std::nullopt;
      return evaluator.evaluate(*plan);
    } catch (const sim::OverflowError&) {
      return std::nullopt;
    }
  };
  auto fits = [&](int64_t value) {
    const auto result = evaluate_at(value);
    return result && result->fits;
  };
  auto peak_at = [&](int64_t value) {
    const auto result = evaluate_at(value);
    return result ? result->peak : sim::Bytes{};
  };

  FitAnswer answer;
  if (!fits(1)) {
    answer.next_peak = peak_at(1);
    return answer;
  }
  // Doubling, then bisection with the invariant: `low` fits, `high` does not. A value that
  // fits with the same peak as half of it means the key has stopped adding memory (as the
  // global batch does once a pipeline's microbatches fill it).
  int64_t low = 1;
  int64_t high = 2;
  sim::Bytes low_peak = peak_at(1);
  // Serving's paged KV cache keeps memory flat over short ranges (a block's worth of
  // tokens), and its keys all grow memory in the end: no plateau shortcut there.
  const bool plateau_ends = base.mode == strategies::Mode::kTraining;
  while (fits(high)) {
    const sim::Bytes high_peak = peak_at(high);
    low = high;
    if (high == kLargestFitValue || (plateau_ends && high_peak == low_peak)) {
      answer.unbounded = true;
      break;
    }
    low_peak = high_peak;
    high *= 2;
  }
  while (!answer.unbounded && high - low > 1) {
    const int64_t middle = low + (high - low) / 2;
    (fits(middle) ? low : high) = middle;
  }
  answer.value = low;
  answer.peak = peak_at(low);
  if (!answer.unbounded) answer.next_peak = peak_at(low + 1);
  return answer;
}

InferenceCapacity inference_capacity(const TrainingPlan& plan,
                                     strategies::FastEvaluator& evaluator) {
  const auto largest = [&](const char* key) {
    return maximize(plan, *scenarios::find_sweep_key(key), evaluator).value;
  };
  return {largest("inference.batch"), largest("inference.prompt_len")};
}

}  // namespace memsim::tools
