#pragma once
/// Framework profiles: `framework: megatron` in a scenario stands for the keys that
/// Megatron-LM's defaults set (scenarios/frameworks/megatron.yaml, compiled in). A profile is
/// a partial scenario laid under the user's configuration: every key the user writes wins.
/// Each profile line cites the framework code it follows; nothing else in memsim asks which
/// framework runs.

#include <string>
#include <string_view>
#include <vector>

#include "scenarios/config_tree.h"
#include "scenarios/diagnostics.h"

namespace memsim::scenarios {

/// A profile's name and its YAML text (generated from scenarios/frameworks/*.yaml).
struct FrameworkText {
  const char* name;
  std::string_view yaml;
};
const std::vector<FrameworkText>& builtin_framework_texts();

/// The profiles' names, in the order the scenario key lists them.
std::vector<std::string> framework_names();

/// `config` with its `framework:` profile laid under it (unchanged without one). An unknown
/// name is an error at its value.
void apply_framework(ConfigNode& config, Diagnostics& diagnostics);

/// Whether `value` was set by a framework profile rather than written by the user. A
/// profile states how its framework runs each kind of op; where the model has no such op,
/// a profile's choice does not apply, while the same choice written by the user is an error.
bool set_by_framework(const ConfigNode& value);

}  // namespace memsim::scenarios
