#pragma once
/// Every key a scenario may contain, in one table of rows (strategies/setting_key.h): the
/// core's, written here, and those each strategy pass declares. Unknown-key checks,
/// suggestions, the documentation test, the section readers, sweeps, `where:` constraints and
/// `fit` all draw on the same row, so a new setting is one row.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/units.h"
#include "strategies/setting_key.h"

namespace memsim::scenarios {

class SectionReader;
class ConfigNode;
class Diagnostics;

using ScenarioKey = strategies::SettingKey;

/// The core's keys, then each strategy pass's (strategies/strategy_pass.h).
const std::vector<ScenarioKey>& scenario_keys();
/// The short names of one section's keys.
std::vector<std::string> keys_of(std::string_view section);
/// Every key, dotted.
const std::vector<std::string>& all_scenario_keys();
/// The key that sets a plan field, by its dotted name, or nullptr.
const ScenarioKey* find_sweep_key(const std::string& key);

/// Reads every key of `section` that the table reads (all but kBySection) from `reader`
/// into `plan`, and the keys of each mapping among them.
void read_table_keys(SectionReader& reader, std::string_view section, strategies::Plan& plan);

/// Reads the top-level keys the table reads (a strategy pass's mappings, such as
/// `checkpointing`) from the scenario's `root`.
void read_top_level_keys(const ConfigNode& root, strategies::Plan& plan, Diagnostics& diagnostics);

}  // namespace memsim::scenarios
