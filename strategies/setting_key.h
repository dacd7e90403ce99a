#pragma once
/// One key of the scenario's schema: its dotted name, what it means, how it is read (a
/// bounded integer, a bounded number, a flag, a size, a mapping of keys of its own, one of
/// some words, or by its section's own code) and which field of a Plan it sets. The scenarios'
/// table (scenarios/scenario_keys.h) holds the core's keys and every strategy pass's
/// (strategies/strategy_pass.h); unknown-key checks, suggestions, the section readers,
/// sweeps, `where:` constraints, `fit` and the documentation test all draw on the same row.

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sim/units.h"
#include "strategies/plan.h"

/// A plan's field, for the row builders and the passes: MEMSIM_PLAN_FIELD(parallel.dp.zero)
/// reads and sets `plan.parallel.dp.zero`.
#define MEMSIM_PLAN_FIELD(field) \
  [](auto& p) -> auto& {         \
    return p.field;              \
  }

namespace memsim::strategies {

struct SettingKey {
  enum class Read : uint8_t {
    kBySection,  ///< read by its section's own code (names, mappings, `auto`, checks)
    kInteger,    ///< an integer in [least, most] or one of `words`, set by set_integer
    kNumber,     ///< a number in [least, most], set by set_number
    kFlag,       ///< true or false, set by set_number (1 or 0)
    kSize,       ///< a size such as '80 GiB', set by set_size
    kMapping,    ///< a mapping of the keys whose section is this key, or one of `shorthands`
    kChoice,     ///< one of `words`, whose value set_integer sets
    kWordSet,    ///< a list of some of `words`, whose values (bits) set_integer sets, or'd
  };
  /// A word written in place of a value: for an integer, a value past its bounds (`all`).
  struct Word {
    const char* word = "";
    int64_t value = 0;
  };
  /// A word written in place of a mapping, and what it sets (`none`, `all`).
  struct Shorthand {
    const char* word = "";
    void (*set)(Plan& plan) = nullptr;
  };

  std::string key{};      ///< dotted, e.g. "parallel.tp"; a section's own name at the top level
  std::string section{};  ///< all but the last part; "" for the top level
  std::string name{};     ///< the last part, e.g. "tp"
  const char* meaning = "";
  Read read = Read::kBySection;
  double least = 0.0;
  double most = 0.0;
  std::vector<Word> words{};
  std::vector<Shorthand> shorthands{};
  /// For a mapping that stands for one alternative of a setting (`full:` of checkpointing):
  /// what giving it sets, before its own keys are read; also what it means left empty.
  void (*select)(Plan& plan) = nullptr;
  /// Copies the key's field(s) from `from` into `to`; nullptr for keys that set no plan field
  /// (a scenario's name, its variants, its sweep).
  void (*copy)(Plan& to, const Plan& from) = nullptr;
  /// The key's value as a number, or nullptr for keys that are not numbers.
  double (*number)(const Plan& plan) = nullptr;
  /// Sets the key to an integer, or nullptr for keys that are not integers.
  void (*set_integer)(Plan& plan, int64_t value) = nullptr;
  void (*set_number)(Plan& plan, double value) = nullptr;
  void (*set_size)(Plan& plan, sim::Bytes value) = nullptr;
};

/// A row named `dotted`, split at its last dot into section and name.
inline SettingKey setting_row(const char* dotted, const char* meaning, SettingKey rest = {}) {
  rest.key = dotted;
  const size_t dot = rest.key.rfind('.');
  rest.section = dot == std::string::npos ? "" : rest.key.substr(0, dot);
  rest.name = dot == std::string::npos ? rest.key : rest.key.substr(dot + 1);
  rest.meaning = meaning;
  return rest;
}

// Rows for one field, given as a captureless lambda `[](auto& plan) -> auto& {...}` that
// names it in a plan, const or not.

/// A row its section's own code reads, whose field the table copies.
template <class Field>
SettingKey field_row(const char* dotted, const char* meaning, Field) {
  return setting_row(dotted, meaning,
                     {.copy = [](Plan& to, const Plan& from) { Field{}(to) = Field{}(from); }});
}

/// A row whose value is a number; `read` says how the table reads it, if it does.
template <class Field>
SettingKey numeric_row(const char* dotted, const char* meaning, Field field,
                       SettingKey::Read read = SettingKey::Read::kBySection, double least = 0.0,
                       double most = 0.0) {
  SettingKey k = field_row(dotted, meaning, field);
  k.read = read;
  k.least = least;
  k.most = most;
  k.number = [](const Plan& p) { return static_cast<double>(Field{}(p)); };
  return k;
}

/// An integer its section's own code reads (it also takes `auto`), which sweeps may set.
template <class Field>
SettingKey integer_by_section_row(const char* dotted, const char* meaning, Field field) {
  SettingKey k = numeric_row(dotted, meaning, field);
  k.set_integer = [](Plan& p, int64_t v) {
    Field{}(p) = static_cast<std::remove_cvref_t<decltype(Field{}(p))>>(v);
  };
  return k;
}

/// An integer in [least, most], or one of `words`.
template <class Field>
SettingKey integer_row(const char* dotted, const char* meaning, Field field, int64_t least,
                       int64_t most, std::vector<SettingKey::Word> words = {}) {
  SettingKey k = integer_by_section_row(dotted, meaning, field);
  k.read = SettingKey::Read::kInteger;
  k.least = static_cast<double>(least);
  k.most = static_cast<double>(most);
  k.words = std::move(words);
  return k;
}

/// A number in [least, most], or with kFlag, true or false.
template <class Field>
SettingKey number_row(const char* dotted, const char* meaning, Field field, double least,
                      double most, SettingKey::Read read = SettingKey::Read::kNumber) {
  SettingKey k = numeric_row(dotted, meaning, field, read, least, most);
  k.set_number = [](Plan& p, double v) {
    Field{}(p) = static_cast<std::remove_cvref_t<decltype(Field{}(p))>>(v);
  };
  return k;
}

template <class Field>
SettingKey flag_row(const char* dotted, const char* meaning, Field field) {
  return number_row(dotted, meaning, field, 0.0, 1.0, SettingKey::Read::kFlag);
}

/// A size such as '80 GiB'.
template <class Field>
SettingKey size_row(const char* dotted, const char* meaning, Field field) {
  SettingKey k = field_row(dotted, meaning, field);
  k.read = SettingKey::Read::kSize;
  k.number = [](const Plan& p) { return static_cast<double>(Field{}(p).value()); };
  k.set_size = [](Plan& p, sim::Bytes v) { Field{}(p) = v; };
  return k;
}

/// One of `words`, each setting the field to its value as a `Value` (an enumerator).
template <class Value, class Field>
SettingKey choice_row(const char* dotted, const char* meaning, Field field,
                      std::vector<SettingKey::Word> words) {
  SettingKey k = field_row(dotted, meaning, field);
  k.read = SettingKey::Read::kChoice;
  k.words = std::move(words);
  k.set_integer = [](Plan& p, int64_t v) { Field{}(p) = static_cast<Value>(v); };
  return k;
}

/// A mapping of the keys whose section is `dotted`, or one of `shorthands`; `select`: see
/// SettingKey::select.
template <class Field>
SettingKey mapping_row(const char* dotted, const char* meaning, Field field,
                       std::vector<SettingKey::Shorthand> shorthands,
                       void (*select)(Plan& plan) = nullptr) {
  SettingKey k = field_row(dotted, meaning, field);
  k.read = SettingKey::Read::kMapping;
  k.shorthands = std::move(shorthands);
  k.select = select;
  return k;
}

}  // namespace memsim::strategies
