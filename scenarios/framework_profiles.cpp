#include "scenarios/framework_profiles.h"

#include <algorithm>

#include <fmt/format.h>

#include "scenarios/name_lookup.h"
#include "scenarios/scenario.h"

namespace memsim::scenarios {

namespace {

/// Where a profile's keys come from, in messages: its source file, marked as built in.
std::string origin_of(std::string_view name) {
  return fmt::format("scenarios/frameworks/{}.yaml (built in)", name);
}

/// Each profile parsed once, its shorthands expanded as a scenario's are.
const std::vector<ConfigNode>& parsed_profiles() {
  static const std::vector<ConfigNode> profiles = [] {
    std::vector<ConfigNode> all;
    for (const FrameworkText& text : builtin_framework_texts()) {
      ConfigNode profile = parse_yaml(std::string(text.yaml), origin_of(text.name));
      if (profile.is_null()) profile.kind = ConfigNode::Kind::kMap;
      expand_shorthands(profile);
      all.push_back(std::move(profile));
    }
    return all;
  }();
  return profiles;
}

}  // namespace

std::vector<std::string> framework_names() {
  std::vector<std::string> names;
  for (const FrameworkText& text : builtin_framework_texts())
    names.emplace_back(text.name);
  return names;
}

void apply_framework(ConfigNode& config, Diagnostics& diagnostics) {
  const ConfigNode* chosen = config.get("framework");
  if (chosen == nullptr) return;
  const std::vector<std::string> names = framework_names();
  const std::string what = chosen->is_scalar() ? chosen->scalar : chosen->describe();
  const auto found = std::find(names.begin(), names.end(), what);
  if (!chosen->is_scalar() || found == names.end()) {
    const std::string hint = chosen->is_scalar() ? nearest_spelling(what, names) : "";
    diagnostics.error(chosen->where,
                      fmt::format("framework = {}: expected {}{}", what, join_alternatives(names),
                                  hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    return;
  }
  ConfigNode merged = parsed_profiles()[static_cast<size_t>(found - names.begin())];
  merged.where = config.where;
  merge_into(merged, config);
  config = std::move(merged);
}

bool set_by_framework(const ConfigNode& value) {
  const auto names = framework_names();
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& name) { return value.where.file == origin_of(name); });
}

}  // namespace memsim::scenarios
