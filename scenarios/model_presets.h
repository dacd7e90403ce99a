#pragma once
/// Built-in model architectures by name. Parameter counts are never stored: they are
/// computed from the layer graph (and tested against the published model cards).

#include <string>
#include <string_view>
#include <vector>

#include "sim/model_spec.h"

namespace memsim::scenarios {

struct ModelPreset {
  std::string name;
  std::vector<std::string> aliases;
  std::string description;
  sim::ModelSpec spec;
};

const std::vector<ModelPreset>& model_presets();
/// By name or alias; nullptr when unknown.
const ModelPreset* find_preset(std::string_view name);
/// Each preset's name, then its aliases (in model_presets() order).
std::vector<std::vector<std::string>> preset_names();

}  // namespace memsim::scenarios
