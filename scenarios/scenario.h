#pragma once
/// A scenario file: a base configuration and named `compare:` variants, each read into a
/// validated Plan. `--set key=value` overrides apply before anything is read.

#include <string>
#include <vector>

#include "scenarios/config_tree.h"
#include "scenarios/diagnostics.h"
#include "strategies/plan.h"

namespace memsim::scenarios {

struct Variant {
  std::string name;  ///< "base" for the scenario's own configuration
  strategies::Plan plan;
};

struct Scenario {
  std::string name;
  std::string path;
  std::vector<Variant> variants;       ///< base first, then compare: entries in file order
  std::vector<Diagnostic> warnings;    ///< valid but probably unintended settings
  std::vector<ConfigNode> configs;     ///< each variant's configuration, as merged
  ConfigNode sweep;                    ///< the `sweep:` mapping (null when absent)
  ConfigNode where;                    ///< the `where:` list (null when absent)
  std::vector<std::string> overrides;  ///< the --set texts applied ("dotted.key=value")
};

/// The --set text of `scenario` that sets `key`, a key inside it or a section holding it
/// (`--set training={...}` sets training.seq_len), or nullptr.
const std::string* override_touching(const Scenario& scenario, const std::string& key);

/// Turns the shorthand scalars of `config` (`model: NAME`, `precision: NAME`,
/// `training.optimizer: NAME`) into their mapping forms, so that one key inside them can be
/// changed alone (by a variant, a --set or a sweep).
void expand_shorthands(ConfigNode& config);

/// Reads and validates `path` with `overrides` ("dotted.key=value", YAML values) applied.
/// With `only`, reads that variant alone (problems of the others do not count), and a name
/// that is no variant is an error. `sweeping`: the scenario is read for its sweep, so an
/// override of a swept key (or a key in it, or a section holding it) is an error. Throws
/// InputError listing every problem found.
Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides = {},
                       const std::string& only = "", bool sweeping = false);

/// Reads a scenario already parsed into a tree; `path` names it and anchors relative paths.
Scenario read_scenario(ConfigNode root, const std::string& path,
                       const std::vector<std::string>& overrides = {}, const std::string& only = "",
                       bool sweeping = false);

}  // namespace memsim::scenarios
