#pragma once
/// A scenario's YAML as a tree that remembers where every key and value came from, so
/// that errors found after merging variants and command-line overrides still point at the
/// right file, line and column. yaml-cpp stays behind this interface.

#include <string>
#include <string_view>
#include <vector>

#include "scenarios/diagnostics.h"

namespace memsim::scenarios {

class ConfigNode {
 public:
  enum class Kind { kNull, kScalar, kMap, kSequence };
  struct Entry;

  Kind kind = Kind::kNull;
  Location where;
  std::string scalar;             ///< kScalar: the text as written
  std::vector<Entry> entries;     ///< kMap, in file order
  std::vector<ConfigNode> items;  ///< kSequence

  bool is_map() const { return kind == Kind::kMap; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_sequence() const { return kind == Kind::kSequence; }
  bool is_null() const { return kind == Kind::kNull; }

  const ConfigNode* get(std::string_view key) const;
  ConfigNode* get(std::string_view key);
  const Entry* entry(std::string_view key) const;
  /// Replaces or appends `key`.
  void set(const std::string& key, const Location& key_where, ConfigNode value);
  void erase(std::string_view key);
  /// For messages: the scalar's text, or "a mapping" / "a list" / "nothing".
  std::string describe() const;
};

struct ConfigNode::Entry {
  std::string key;
  Location key_where;
  ConfigNode value;
};

/// Reads a YAML file; a missing file, a syntax error or a duplicated key is an InputError.
ConfigNode load_yaml_file(const std::string& path);
/// Parses YAML text; `origin` names it in locations.
ConfigNode parse_yaml(const std::string& text, const std::string& origin);

/// A value as a user would write it in flow style: `4`, `full`, `{full: {every: 2}}`.
std::string flow_text(const ConfigNode& node);

/// The node at dotted key `a.b.c`, or nullptr.
const ConfigNode* find_dotted(const ConfigNode& root, const std::string& dotted);

/// Merges `overlay` into `base`: mappings merge key by key, anything else replaces.
void merge_into(ConfigNode& base, const ConfigNode& overlay);

/// Sets the dotted key `a.b.c` to `value`, creating mappings on the way.
void set_dotted(ConfigNode& root, const std::string& dotted, const ConfigNode& value);

}  // namespace memsim::scenarios
