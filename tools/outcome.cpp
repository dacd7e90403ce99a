#include "tools/outcome.h"

namespace memsim::tools {

ScenarioOutcome simulate_scenario(const scenarios::Scenario& scenario, const std::string& only) {
  ScenarioOutcome outcome{&scenario, {}};
  strategies::FastEvaluator evaluator;
  for (const scenarios::Variant& variant : scenario.variants) {
    if (!only.empty() && variant.name != only) continue;
    VariantOutcome& v = outcome.variants.emplace_back(
        VariantOutcome{&variant, strategies::evaluate(variant.plan), std::nullopt});
    if (variant.plan.mode == strategies::Mode::kInference) {
      v.capacity = inference_capacity(variant.plan, evaluator);
    }
  }
  return outcome;
}

}  // namespace memsim::tools
