#include "tools/hardware_search.h"

#include "evaluation/evaluate.h"
#include "strategies/layout.h"

namespace memsim::tools {

namespace {

using strategies::Mode;
using strategies::Plan;

/// GPUs per node the search assumes: eight, as in DGX/HGX servers, or fewer when that is all.
constexpr int64_t kGpusPerNode = 8;

/// `scenario` on `gpu` × `gpus` split tp × pp × dp, or nullopt when that is not a valid layout.
std::optional<Plan> laid_out(const Plan& scenario, const hardware::GpuProfile& gpu,
                                     int64_t gpus, int64_t tp, int64_t pp) {
  Plan plan = scenario;
  plan.cluster.gpu = gpu;
  plan.cluster.gpus_per_node = std::min(gpus, kGpusPerNode);
  plan.cluster.nodes = gpus / plan.cluster.gpus_per_node;
  plan.cluster.cpu_memory_override.reset();
  plan.parallel.tp.degree = tp;
  plan.parallel.pp.stages = pp;
  plan.parallel.pp.layers_per_stage.clear();
  plan.parallel.dp.degree = gpus / (tp * pp);
  if (strategies::layout_errors(strategies::resolve_layout(plan)).any()) return std::nullopt;
  return plan;
}

/// Whether `a` is the better of two layouts that fit: faster, then smaller.
bool better(const evaluation::FastResult& a, const evaluation::FastResult& b) {
  if (a.step_time_s != b.step_time_s) return a.step_time_s < b.step_time_s;
  return a.peak < b.peak;
}

}  // namespace

double HardwareOption::seconds_for(double tokens) const {
  return result.tokens_per_s > 0.0 ? tokens / result.tokens_per_s : 0.0;
}

std::vector<HardwareOption> hardware_options(const Plan& scenario,
                                             const std::vector<hardware::GpuProfile>& gpus,
                                             evaluation::FastEvaluator& evaluator,
                                             Progress* progress) {
  const bool serving = scenario.mode == Mode::kInference;
  std::vector<HardwareOption> options;
  for (const hardware::GpuProfile& gpu : gpus) {
    if (progress != nullptr) progress->update(options.size());
    HardwareOption& option = options.emplace_back();
    option.gpu = gpu;
    for (int64_t n = 1; n <= kMostGpusTried && !option.plan; n *= 2) {
      for (int64_t tp = 1; tp <= std::min(n, kGpusPerNode); tp *= 2) {
        for (int64_t pp = 1; tp * pp <= n; pp *= 2) {
          // One serving replica: its GPUs split the model, none serves apart.
          if (serving && tp * pp != n) continue;
          const auto plan = laid_out(scenario, gpu, n, tp, pp);
          if (!plan) continue;
          const evaluation::FastResult result =
              evaluator.evaluate(*plan, evaluation::StagePeaks::kLargestOnly);
          if (!result.fits || (option.plan && !better(result, option.result))) continue;
          option.plan = plan;
          option.result = result;
          option.limit = evaluation::usable_memory(*plan);
        }
      }
    }
  }
  return options;
}

}  // namespace memsim::tools
