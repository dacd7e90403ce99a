#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "scenarios/framework_profiles.h"
#include "scenarios/input_text.h"
#include "scenarios/name_lookup.h"
#include "scenarios/plan_reader.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario_keys.h"
#include "scenarios/section_reader.h"

namespace memsim::scenarios {

namespace {

/// The most compare: variants: a run reports each side by side.
constexpr size_t kMostVariants = 100;

/// Turns a shorthand scalar (`model: llama2-7b`) into its mapping form (`{preset: ...}`)
/// so that variants and --set overrides can change one key of it.
void expand_shorthand(ConfigNode& parent, const std::string& key, const std::string& as) {
  ConfigNode* node = parent.is_map() ? parent.get(key) : nullptr;
  if (node == nullptr || !node->is_scalar()) return;
  ConfigNode map;
  map.kind = ConfigNode::Kind::kMap;
  map.where = node->where;
  map.entries.push_back({as, node->where, *node});
  *node = std::move(map);
}

/// Every part of a --set value is where the --set is: a column inside the value says less
/// than the flag itself.
void relocate(ConfigNode& node, const Location& where) {
  node.where = where;
  for (ConfigNode::Entry& e : node.entries) {
    e.key_where = where;
    relocate(e.value, where);
  }
  for (ConfigNode& item : node.items)
    relocate(item, where);
}

void apply_override(ConfigNode& root, const std::string& text, Diagnostics& diagnostics) {
  const Location where{"--set " + text, 0, 0};
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    diagnostics.error(where, "expected KEY=VALUE, e.g. --set parallel.tp=4");
    return;
  }
  const std::string key = text.substr(0, eq);
  const auto& known = all_scenario_keys();
  const bool valid_prefix = std::any_of(known.begin(), known.end(), [&](const std::string& k) {
    return key == k || key.starts_with(k + ".");
  });
  if (!valid_prefix) {
    const std::string hint = nearest_spelling(key, known);
    diagnostics.error(where,
                      fmt::format("unknown key '{}'{}", key,
                                  hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    return;
  }
  try {
    ConfigNode value = parse_yaml(text.substr(eq + 1), where.file);
    relocate(value, where);
    set_dotted(root, key, value);
  } catch (const InputError& e) {
    for (const Diagnostic& d : e.diagnostics())
      diagnostics.error(where, d.message);
  }
}

/// A --set of a swept key would be overwritten at every point: an error, not ignored.
void check_swept_overrides(const ConfigNode& root, const std::vector<std::string>& overrides) {
  const ConfigNode* sweep = root.get("sweep");
  if (sweep == nullptr || !sweep->is_map()) return;
  Diagnostics conflicts;
  for (const ConfigNode::Entry& axis : sweep->entries) {
    for (const std::string& text : overrides) {
      const std::string set = text.substr(0, text.find('='));
      if (set != axis.key && !set.starts_with(axis.key + ".") && !axis.key.starts_with(set + ".")) {
        continue;
      }
      conflicts.error(
          {"--set " + text, 0, 0},
          fmt::format("{} is swept ({}:{}:{}); the sweep sets it at every point, so "
                      "drop --set or change sweep:",
                      axis.key, axis.key_where.file, axis.key_where.line, axis.key_where.column));
    }
  }
  conflicts.throw_if_any();
}

std::vector<std::string> variant_keys() {
  std::vector<std::string> keys = {"name"};
  for (const std::string& key : keys_of("")) {
    if (key != "name" && key != "compare" && key != "sweep" && key != "where") keys.push_back(key);
  }
  return keys;
}

/// Reads `compare:` entry `index` into `configs` (the base with the entry merged in), unless
/// only another variant is wanted; every name goes to `names`.
void read_variant(const ConfigNode& entry, size_t index, const ConfigNode& base,
                  const std::string& only, std::vector<std::string>& names,
                  std::vector<std::pair<std::string, ConfigNode>>& configs,
                  Diagnostics& diagnostics) {
  const ConfigNode* name_node = entry.is_map() ? entry.get("name") : nullptr;
  if (!only.empty() && name_node != nullptr && name_node->is_scalar()) {
    names.push_back(name_node->scalar);
    if (name_node->scalar != only) return;
  }
  ConfigNode item = entry;
  SectionReader reader(item, fmt::format("compare[{}]", index), variant_keys(), diagnostics);
  if (!reader.valid()) return;
  const auto name = reader.text("name");
  if (!name) {
    diagnostics.error(item.where, "a compare variant needs a name");
    return;
  }
  if (only.empty()) names.push_back(*name);
  for (const auto& [existing, unused] : configs) {
    if (existing == *name) {
      diagnostics.error(reader.node("name")->where,
                        fmt::format("variant name '{}' is used twice", *name));
    }
  }
  item.erase("name");
  expand_shorthands(item);
  ConfigNode merged = base;
  merge_into(merged, item);
  configs.emplace_back(*name, std::move(merged));
}

/// The variants of `compare:`, each the base with its changes, after the base in `configs`.
void read_compare(const ConfigNode& root, const ConfigNode& base, const std::string& only,
                  std::vector<std::string>& names,
                  std::vector<std::pair<std::string, ConfigNode>>& configs,
                  Diagnostics& diagnostics) {
  const ConfigNode* compare = root.get("compare");
  if (compare == nullptr) return;
  if (!compare->is_sequence()) {
    diagnostics.error(compare->where, "compare must be a list of variants");
  } else if (compare->items.size() > kMostVariants) {
    diagnostics.error(compare->where,
                      fmt::format("compare: {} variants, more than memsim compares ({}); a "
                                  "sweep: prices many more",
                                  compare->items.size(), kMostVariants));
  } else {
    for (size_t i = 0; i < compare->items.size(); ++i)
      read_variant(compare->items[i], i, base, only, names, configs, diagnostics);
  }
}

/// A --set wins over what a variant sets: it applies again on top of each variant.
void reapply_overrides(std::vector<std::pair<std::string, ConfigNode>>& configs,
                       const std::vector<std::string>& overrides, Diagnostics& diagnostics) {
  for (size_t i = 1; i < configs.size(); ++i) {
    for (const std::string& text : overrides) {
      const std::string key = text.substr(0, text.find('='));
      const std::string section = key.substr(0, key.find('.'));
      if (section == "compare" || section == "sweep" || section == "where" || section == "name") {
        continue;
      }
      apply_override(configs[i].second, text, diagnostics);
    }
    expand_shorthands(configs[i].second);
  }
}

/// Variants share most of their configuration: each warning once.
std::vector<Diagnostic> distinct(std::vector<Diagnostic> all) {
  std::vector<Diagnostic> warnings;
  for (Diagnostic& w : all) {
    const bool seen = std::any_of(warnings.begin(), warnings.end(), [&](const Diagnostic& d) {
      return format_diagnostic(d) == format_diagnostic(w);
    });
    if (!seen) warnings.push_back(std::move(w));
  }
  return warnings;
}

}  // namespace

void expand_shorthands(ConfigNode& config) {
  expand_shorthand(config, "model", "preset");
  expand_shorthand(config, "precision", "recipe");
  if (ConfigNode* training = config.get("training")) {
    expand_shorthand(*training, "optimizer", "name");
  }
}

Scenario read_scenario(ConfigNode root, const std::string& path,
                       const std::vector<std::string>& overrides, const std::string& only,
                       bool sweeping) {
  Diagnostics diagnostics;
  if (root.is_null()) {
    throw InputError(root.where.line == 0 ? Location{path, 1, 1} : root.where,
                     "the scenario is empty; it needs model, hardware and training sections");
  }
  if (!root.is_map()) {
    throw InputError(root.where.line == 0 ? Location{path, 1, 1} : root.where,
                     "a scenario must be a mapping of sections (model, hardware, training, ...)");
  }
  expand_shorthands(root);
  for (const std::string& text : overrides)
    apply_override(root, text, diagnostics);
  expand_shorthands(root);
  diagnostics.throw_if_any();
  if (sweeping) check_swept_overrides(root, overrides);

  Scenario scenario;
  scenario.path = path;
  SectionReader top(root, "", keys_of(""), diagnostics);
  scenario.name = top.text("name").value_or(as_utf8(std::filesystem::path(path).stem().string()));
  const std::string dir = std::filesystem::path(path).parent_path().string();

  if (const ConfigNode* sweep = root.get("sweep")) scenario.sweep = *sweep;
  if (const ConfigNode* where = root.get("where")) scenario.where = *where;
  ConfigNode base = root;
  for (const char* key : {"compare", "name", "sweep", "where"})
    base.erase(key);
  std::vector<std::pair<std::string, ConfigNode>> configs = {{"base", base}};
  std::vector<std::string> names = {"base"};
  read_compare(root, base, only, names, configs, diagnostics);
  reapply_overrides(configs, overrides, diagnostics);
  if (!only.empty() && std::find(names.begin(), names.end(), only) == names.end()) {
    const std::string hint = nearest_spelling(only, names);
    diagnostics.error({"--variant " + only, 0, 0},
                      fmt::format("no variant named '{}' in {}; {}", only, path,
                                  hint.empty() ? "its variants are " + join_alternatives(names)
                                               : fmt::format("did you mean '{}'?", hint)));
  }
  for (auto& [name, config] : configs) {
    // --variant NAME: the other variants are not read, so their problems do not block it.
    if (!only.empty() && name != only) continue;
    // Last, so that a variant or a --set choosing another framework gets that one's profile.
    apply_framework(config, diagnostics);
    if (auto plan = read_plan(config, dir, diagnostics, scenario.warnings)) {
      scenario.variants.push_back({name, std::move(*plan)});
      scenario.configs.push_back(config);
    }
  }
  diagnostics.throw_if_any();
  scenario.warnings = distinct(std::move(scenario.warnings));
  return scenario;
}

Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                       const std::string& only, bool sweeping) {
  return read_scenario(load_yaml_file(path), path, overrides, only, sweeping);
}

}  // namespace memsim::scenarios
