#pragma once
/// Typed reading of one mapping of a scenario: every key must be known (an unknown one is
/// an error naming the nearest known spelling), and every value is checked for type and
/// range. Problems are collected, not thrown, so that a file's errors come out together.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/config_tree.h"
#include "sim/units.h"
#include "strategies/setting_key.h"

namespace memsim::scenarios {

/// Every dotted key a scenario may contain (for suggestions across sections).
const std::vector<std::string>& all_scenario_keys();

class SectionReader {
 public:
  /// Reads `node` (which must be a mapping) as section `path` ("" for the top level, else
  /// e.g. "parallel"), whose keys are `known`. An unknown key that is no misspelling of a
  /// known one is looked for among the dotted keys `elsewhere`, to say where it belongs.
  SectionReader(const ConfigNode& node, std::string path, std::vector<std::string> known,
                Diagnostics& diagnostics,
                const std::vector<std::string>& elsewhere = all_scenario_keys());

  bool valid() const { return node_ != nullptr; }
  bool has(const std::string& key) const;
  const ConfigNode* node(const std::string& key) const;
  /// The dotted name of `key` in this section, for messages.
  std::string dotted(const std::string& key) const;

  std::optional<int64_t> integer(const std::string& key, int64_t min, int64_t max);
  /// An integer in [min, max], or one of `words`, each standing for its value.
  using Word = strategies::SettingKey::Word;
  std::optional<int64_t> integer(const std::string& key, int64_t min, int64_t max,
                                 const std::vector<Word>& words);
  std::optional<double> number(const std::string& key, double min, double max);
  std::optional<bool> boolean(const std::string& key);
  std::optional<std::string> text(const std::string& key);
  /// One of `choices`.
  std::optional<std::string> choice(const std::string& key,
                                    const std::vector<std::string>& choices);
  /// The largest size read: a petabyte-class GPU or host is far beyond any built.
  static constexpr int64_t kMostBytes = int64_t{1} << 50;
  /// Bytes up to kMostBytes: an integer, or a number with a unit (B, KB, MB, GB, TB, KiB,
  /// MiB, GiB, TiB).
  std::optional<sim::Bytes> size(const std::string& key);

  Diagnostics& diagnostics() { return diagnostics_; }

 private:
  const ConfigNode* scalar(const std::string& key);
  void error(const ConfigNode& value, const std::string& key, const std::string& expected);

  const ConfigNode* node_;
  std::string path_;
  Diagnostics& diagnostics_;
};

/// Parses a whole number (no fraction, no trailing text).
std::optional<int64_t> parse_integer(const std::string& text);
/// Parses a size such as "80 GiB", "1.5GB", "512MiB" or "4096" into bytes (possibly more than
/// 64 bits hold; the reader checks the range).
std::optional<double> parse_size(const std::string& text);

}  // namespace memsim::scenarios
