#pragma once
/// Every key a scenario may contain, with what it means: the one list that unknown-key
/// checks, suggestions and documentation are drawn from.

#include <string>
#include <string_view>
#include <vector>

namespace memsim::scenarios {

struct ScenarioKey {
  const char* section;  ///< "" for the top level, else e.g. "parallel"
  const char* key;
  const char* meaning;
};

const std::vector<ScenarioKey>& scenario_keys();
/// The keys of one section.
std::vector<std::string> keys_of(std::string_view section);

}  // namespace memsim::scenarios
