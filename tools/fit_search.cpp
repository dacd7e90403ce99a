#include "tools/fit_search.h"

#include <map>
#include <string_view>

#include "scenarios/layout_problems.h"
#include "sim/limits.h"
#include "strategies/layout.h"

namespace memsim::tools {

using evaluation::FastResult;
using strategies::Plan;

namespace {

/// The largest value a key takes: memsim's limit for the keys scenarios bound (sim/limits.h,
/// as the scenario reader applies them), else a value that never runs out of memory.
int64_t most_value(std::string_view key) {
  if (key == "training.seq_len" || key == "inference.prompt_len" ||
      key == "inference.generate_len") {
    return sim::kMostTokens;
  }
  if (key == "training.micro_batch" || key == "training.global_batch" || key == "inference.batch") {
    return sim::kMostBatch;
  }
  return int64_t{1} << 40;
}

/// The first valid value that the search tries past 1, when 1 is not valid (a step such as
/// tp under sequence parallelism is far below it).
constexpr int64_t kMostSkipped = 4096;

/// The values worth trying, in increasing order: a list, or the multiples of a step.
struct Candidates {
  std::vector<int64_t> list;
  int64_t step = 1;
  int64_t count = 0;
  int64_t size() const { return list.empty() ? count : static_cast<int64_t>(list.size()); }
  int64_t at(int64_t i) const { return list.empty() ? step * (i + 1) : list[i]; }
};

bool valid(const Plan& base, const scenarios::ScenarioKey& key, int64_t value, GlobalBatch mode) {
  return plan_with(base, key, value, mode).has_value();
}

/// micro_batch under a global batch that stays: the divisors of the batch per data-parallel
/// rank that make a valid layout.
Candidates divisors(const Plan& base, const scenarios::ScenarioKey& key) {
  Candidates out;
  const int64_t dp = base.parallel.dp.degree;
  if (dp <= 0 || base.training.global_batch % dp != 0) return out;
  const int64_t per_rank = base.training.global_batch / dp;
  std::vector<int64_t> large;
  for (int64_t d = 1; d * d <= per_rank; ++d) {
    if (per_rank % d != 0) continue;
    out.list.push_back(d);
    if (d * d != per_rank) large.push_back(per_rank / d);
  }
  out.list.insert(out.list.end(), large.rbegin(), large.rend());
  std::erase_if(out.list, [&](int64_t v) { return !valid(base, key, v, GlobalBatch::kKeep); });
  return out;
}

/// Any other key: the multiples of its smallest valid value, up to the last valid one
/// (valid values end at a limit, and past it none is valid again).
Candidates multiples(const Plan& base, const scenarios::ScenarioKey& key, GlobalBatch mode) {
  Candidates out;
  for (int64_t v = 1; v <= kMostSkipped && out.count == 0; ++v) {
    if (valid(base, key, v, mode)) {
      out.step = v;
      out.count = 1;
    }
  }
  if (out.count == 0) return out;
  int64_t high = most_value(key.key) / out.step + 1;  // the first multiple assumed invalid
  while (high - out.count > 1) {
    const int64_t middle = out.count + (high - out.count) / 2;
    (valid(base, key, out.step * middle, mode) ? out.count : high) = middle;
  }
  return out;
}

Candidates candidates(const Plan& base, const scenarios::ScenarioKey& key, GlobalBatch mode) {
  const bool keeps_global_batch = std::string_view(key.key) == "training.micro_batch" &&
                                  mode == GlobalBatch::kKeep && !base.training.global_batch_auto;
  return keeps_global_batch ? divisors(base, key) : multiples(base, key, mode);
}

}  // namespace

std::optional<Plan> plan_with(const Plan& base, const scenarios::ScenarioKey& key, int64_t value,
                              GlobalBatch global_batch, std::string* why) {
  const auto invalid = [&](std::string reason) -> std::optional<Plan> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  if (value < 1) return invalid(std::string(key.key) + " must be positive");
  if (value > most_value(key.key)) {
    return invalid(std::string(key.key) + " = " + std::to_string(value) +
                   " is more than memsim simulates");
  }
  Plan plan = base;
  key.set_integer(plan, value);
  if (std::string_view(key.key) == "training.micro_batch") {
    if (base.training.global_batch_auto) {
      plan.training.global_batch = 0;  // resolved: micro_batch × dp
    } else if (global_batch == GlobalBatch::kScale) {
      const int64_t scaled =
          sim::checked_mul(sim::checked_mul(base.microbatches(), value), base.parallel.dp.degree);
      if (scaled > sim::kMostBatch) return invalid("the global batch would pass memsim's limit");
      plan.training.global_batch = scaled;
    }
  }
  if (const auto problems = sim::find_problems(plan.model); !problems.empty()) {
    return invalid("model." + problems.front().message);
  }
  if (plan.cluster.world_size() > sim::kMostGpus) return invalid("more GPUs than memsim simulates");
  const strategies::LayoutProblems problems =
      strategies::layout_errors(strategies::resolve_layout(plan));
  for (size_t r = 0; r < strategies::layout_reason_count(); ++r) {
    if (problems.test(r)) {
      return invalid(scenarios::layout_message(static_cast<strategies::LayoutReason>(r), plan));
    }
  }
  return plan;
}

FitAnswer maximize(const Plan& base, const scenarios::ScenarioKey& key,
                   evaluation::FastEvaluator& evaluator, GlobalBatch global_batch) {
  FitAnswer answer;
  const Candidates values = candidates(base, key, global_batch);
  const int64_t n = values.size();
  if (n == 0) {
    plan_with(base, key, 1, global_batch, &answer.invalid);
    if (answer.invalid.empty()) answer.invalid = "no value makes a valid scenario";
    return answer;
  }
  // Each candidate's evaluation, once; nullopt when its sizes overflow.
  std::map<int64_t, std::optional<FastResult>> results;
  const auto result_at = [&](int64_t i) -> const std::optional<FastResult>& {
    auto found = results.find(i);
    if (found != results.end()) return found->second;
    std::optional<FastResult> result;
    try {
      if (const auto plan = plan_with(base, key, values.at(i), global_batch)) {
        result = evaluator.evaluate(*plan);
      }
    } catch (const sim::OverflowError&) {
    }
    return results.emplace(i, result).first->second;
  };
  const auto fits = [&](int64_t i) { return result_at(i) && result_at(i)->fits; };
  const auto peak = [&](int64_t i) { return result_at(i) ? result_at(i)->peak : sim::Bytes{}; };
  const auto passes_peak = [&](int64_t i) {
    return result_at(i) ? result_at(i)->passes_peak : sim::Bytes{};
  };

  answer.smallest = values.at(0);
  int64_t low = 0;
  int64_t high = 0;
  if (fits(0)) {
    // Doubling the value (in index, 2i + 1 doubles a multiple), then bisection with `low`
    // fitting and `high` not. A value whose passes reach the same peak as half of it means
    // the key has stopped adding memory (as the global batch does once a pipeline's
    // microbatches fill it); the optimizer step's memory, which no such key grows, may hide
    // that they still grow. Serving's paged cache stays flat over a block, so not there.
    const bool plateau_ends = base.mode == strategies::Mode::kTraining;
    high = 1;
    while (high < n && fits(high)) {
      if (plateau_ends && passes_peak(high) == passes_peak(low)) {
        answer.unbounded = true;
        low = high;
        break;
      }
      low = high;
      high = std::min(n, 2 * high + 1);
    }
    while (!answer.unbounded && high - low > 1) {
      const int64_t middle = low + (high - low) / 2;
      (fits(middle) ? low : high) = middle;
    }
    answer.value = values.at(low);
    answer.peak = peak(low);
    if (const auto plan = plan_with(base, key, answer.value, global_batch)) {
      answer.microbatches = plan->mode == strategies::Mode::kTraining ? plan->microbatches() : 0;
    }
  }
  if (!answer.unbounded && high < n) {
    answer.next = values.at(high);
    answer.next_peak = peak(high);
  }
  return answer;
}

InferenceCapacity inference_capacity(const Plan& plan, evaluation::FastEvaluator& evaluator) {
  const auto largest = [&](const char* key) {
    return maximize(plan, *scenarios::find_sweep_key(key), evaluator).value;
  };
  return {largest("inference.batch"), largest("inference.prompt_len")};
}

}  // namespace memsim::tools
