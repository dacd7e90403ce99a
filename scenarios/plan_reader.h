#pragma once
/// Reading one variant's merged configuration into typed values (used by the scenario
/// loader; each reader reports its problems to `diagnostics` and returns what it could).

#include <optional>
#include <string>
#include <vector>

#include "scenarios/config_tree.h"
#include "scenarios/diagnostics.h"
#include "sim/model_spec.h"
#include "strategies/plan.h"

namespace memsim::scenarios {

/// The `model:` section: {preset | hf_config | explicit dimensions} plus overrides.
/// Unknown keys of a config.json are `warnings`.
std::optional<sim::ModelSpec> read_model(const ConfigNode& node, const std::string& scenario_dir,
                                         Diagnostics& diagnostics,
                                         std::vector<Diagnostic>& warnings);

/// A whole configuration (the top-level mapping without `compare:`). Without `resolve`,
/// `dp: auto` stays 0, an unset global batch stays 0 and the layout is not checked (sweeps
/// resolve and check each point).
std::optional<strategies::Plan> read_plan(const ConfigNode& config, const std::string& scenario_dir,
                                          Diagnostics& diagnostics,
                                          std::vector<Diagnostic>& warnings, bool resolve = true);

}  // namespace memsim::scenarios
