#pragma once
/// The config.json keys that memsim does not read, and why: each is either knowingly
/// ignored (it does not change what memsim simulates) or refused (it changes the architecture
/// in a way memsim does not model). The keys the family readers read are theirs
/// (scenarios/hf_config.cpp); a key in neither place is unknown, and a warning.

#include <string_view>

namespace memsim::scenarios {

enum class HfKeyUse { kIgnored, kRefused };

struct HfKeyRule {
  std::string_view key;
  std::string_view model_type;  ///< "" for every family
  HfKeyUse use;
  std::string_view why;  ///< ignored: why it does not matter; refused: what it is
};

/// The rule for `key` in a config of `model_type`, or nullptr when there is none.
const HfKeyRule* find_hf_key_rule(std::string_view model_type, std::string_view key);

}  // namespace memsim::scenarios
