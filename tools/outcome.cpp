#include "tools/outcome.h"

#include <filesystem>

namespace memsim::tools {

ScenarioOutcome simulate_scenario(const scenarios::Scenario& scenario, const std::string& only) {
  ScenarioOutcome outcome{&scenario, {}};
  evaluation::FastEvaluator evaluator;
  const std::string dir = std::filesystem::path(scenario.path).parent_path().string();
  for (size_t i = 0; i < scenario.variants.size(); ++i) {
    const scenarios::Variant& variant = scenario.variants[i];
    if (!only.empty() && variant.name != only) continue;
    VariantOutcome& v = outcome.variants.emplace_back(
        VariantOutcome{&variant, evaluation::evaluate(variant.plan), std::nullopt, {}});
    if (variant.plan.mode == strategies::Mode::kInference) {
      v.capacity = inference_capacity(variant.plan, evaluator);
    }
    if (!v.report.fits) v.suggestions = suggest(scenario.configs[i], dir, variant.plan, {});
  }
  return outcome;
}

}  // namespace memsim::tools
