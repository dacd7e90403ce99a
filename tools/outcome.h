#pragma once
/// What `memsim run` computed for a scenario: every variant's plan and report. The
/// writers (table, JSON, CSV, Markdown) all render this one value.

#include <optional>
#include <string>
#include <vector>

#include "evaluation/evaluate.h"
#include "scenarios/scenario.h"
#include "tools/fit_search.h"
#include "tools/suggest.h"

namespace memsim::tools {

struct VariantOutcome {
  const scenarios::Variant* variant;
  evaluation::Report report;
  std::optional<InferenceCapacity> capacity;  ///< inference only
  std::vector<Suggestion> suggestions;        ///< when it does not fit: how to make it fit
};

struct ScenarioOutcome {
  const scenarios::Scenario* scenario;
  std::vector<VariantOutcome> variants;
};

/// Simulates every variant of `scenario` (or only `only`, when not empty).
ScenarioOutcome simulate_scenario(const scenarios::Scenario& scenario, const std::string& only);

}  // namespace memsim::tools
