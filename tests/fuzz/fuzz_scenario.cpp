// The scenario reader on arbitrary text: YAML parsing, every section's checks, variants and
// sweeps; valid scenarios small enough to walk quickly are simulated too.

#include "fuzz_support.h"
#include "scenarios/scenario.h"
#include "scenarios/sweep.h"
#include "evaluation/evaluate.h"
#include "evaluation/fast_evaluator.h"
#include "strategies/layout.h"

namespace {

// Small enough that a harness run stays in milliseconds under the sanitizers (larger ones
// are bounded by memsim's limits and measured in tools/bench, not here).
constexpr int64_t kMostWalkedLayers = 8;
constexpr int64_t kMostWalkedLayerPasses = 256;
constexpr int64_t kMostWalkedGpus = 64;
constexpr int64_t kMostWalkedTokens = 64;
constexpr uint64_t kMostSweepPoints = 16;

bool small(const memsim::strategies::Plan& plan) {
  const auto& inference = plan.inference;
  const bool serving = plan.mode == memsim::strategies::Mode::kInference;
  return plan.model.layers <= kMostWalkedLayers && plan.cluster.world_size() <= kMostWalkedGpus &&
         memsim::strategies::layer_passes(plan) <= kMostWalkedLayerPasses &&
         (!serving || inference.prompt_len + inference.generate_len <= kMostWalkedTokens);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memsim::fuzz::install_builtin_gpus();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = memsim::fuzz::text_of(data, size);
  memsim::fuzz::expect_input_errors_only([&] {
    const auto root = memsim::scenarios::parse_yaml(text, "fuzz.yaml");
    const memsim::scenarios::Scenario scenario = memsim::scenarios::read_scenario(root, "fuzz.yaml");
    for (const memsim::scenarios::Variant& v : scenario.variants) {
      if (small(v.plan)) memsim::evaluation::evaluate(v.plan);
    }
    if (scenario.sweep.is_null()) return;
    memsim::evaluation::FastEvaluator evaluator;
    for (const memsim::scenarios::VariantSweep& v : memsim::scenarios::read_sweeps(scenario)) {
      memsim::strategies::Plan plan = v.sweep.base();
      for (uint64_t point = 0; point < std::min(v.sweep.points(), kMostSweepPoints); ++point) {
        if (v.sweep.prepare(point, plan).empty() && small(plan)) evaluator.evaluate(plan);
      }
    }
  });
  return 0;
}
