#pragma once
/// Every key a scenario may contain, in one table: what it means, how its section reads it
/// (a bounded integer, a bounded number, a flag, a size, or by the section's own code), and
/// which field of a TrainingPlan it sets. Unknown-key checks, suggestions, the documentation
/// test, the section readers, sweeps, `where:` constraints and `fit` all draw on the same
/// row, so a new setting is one row here.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/units.h"
#include "strategies/training_plan.h"

namespace memsim::scenarios {

class SectionReader;

struct ScenarioKey {
  enum class Read : uint8_t {
    kBySection,  ///< read by its section's own code (names, mappings, `auto`, checks)
    kInteger,    ///< an integer in [least, most], set by set_integer
    kNumber,     ///< a number in [least, most], set by set_number
    kFlag,       ///< true or false, set by set_number (1 or 0)
    kSize,       ///< a size such as '80 GiB', set by set_size
  };
  std::string key;      ///< dotted, e.g. "parallel.tp"; a section's own name at the top level
  std::string section;  ///< "" for the top level
  std::string name;     ///< the last part, e.g. "tp"
  const char* meaning = "";
  Read read = Read::kBySection;
  double least = 0.0;
  double most = 0.0;
  /// Copies the key's field(s) from `from` into `to`; nullptr for keys that set no plan field
  /// (a scenario's name, its variants, its sweep).
  void (*copy)(strategies::TrainingPlan& to, const strategies::TrainingPlan& from) = nullptr;
  /// The key's value as a number, or nullptr for keys that are not numbers.
  double (*number)(const strategies::TrainingPlan& plan) = nullptr;
  /// Sets the key to an integer, or nullptr for keys that are not integers.
  void (*set_integer)(strategies::TrainingPlan& plan, int64_t value) = nullptr;
  void (*set_number)(strategies::TrainingPlan& plan, double value) = nullptr;
  void (*set_size)(strategies::TrainingPlan& plan, sim::Bytes value) = nullptr;
};

const std::vector<ScenarioKey>& scenario_keys();
/// The short names of one section's keys.
std::vector<std::string> keys_of(std::string_view section);
/// Every key, dotted.
const std::vector<std::string>& all_scenario_keys();
/// The key that sets a plan field, by its dotted name, or nullptr.
const ScenarioKey* find_sweep_key(const std::string& key);

/// Reads every key of `section` that the table reads (all but kBySection) from `reader`
/// into `plan`.
void read_table_keys(SectionReader& reader, std::string_view section,
                     strategies::TrainingPlan& plan);

}  // namespace memsim::scenarios
