#include "tools/outcome.h"

namespace memsim::tools {

ScenarioOutcome simulate_scenario(const scenarios::Scenario& scenario, const std::string& only) {
  ScenarioOutcome outcome{&scenario, {}};
  for (const scenarios::Variant& variant : scenario.variants) {
    if (!only.empty() && variant.name != only) continue;
    outcome.variants.push_back({&variant, strategies::evaluate(variant.plan)});
  }
  return outcome;
}

}  // namespace memsim::tools
