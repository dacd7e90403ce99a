#include "scenarios/section_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace memsim::scenarios {

namespace {

std::string lower(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string join_choices(const std::vector<std::string>& choices) {
  std::string text;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) text += i + 1 == choices.size() ? " or " : ", ";
    text += choices[i];
  }
  return text;
}

}  // namespace

std::optional<int64_t> parse_integer(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parse_size(const std::string& text) {
  if (auto whole = parse_integer(text)) return static_cast<double>(*whole);
  double value = 0.0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string unit(ptr, end);
  unit.erase(0, unit.find_first_not_of(' '));
  static const std::vector<std::pair<std::string, double>> kUnits = {
      {"b", 1.0},         {"kb", 1e3},           {"mb", 1e6},
      {"gb", 1e9},        {"tb", 1e12},          {"kib", 1024.0},
      {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
  for (const auto& [name, factor] : kUnits) {
    if (lower(unit) == name) return std::round(value * factor);
  }
  return std::nullopt;
}

SectionReader::SectionReader(const ConfigNode& node, std::string path,
                             std::vector<std::string> known, Diagnostics& diagnostics,
                             const std::vector<std::string>& elsewhere)
    : node_(&node), path_(std::move(path)), diagnostics_(diagnostics) {
  if (!node.is_map()) {
    diagnostics_.error(node.where,
                       fmt::format("{} must be a mapping, not {}",
                                   path_.empty() ? "the scenario" : path_, node.describe()));
    node_ = nullptr;
    return;
  }
  for (const ConfigNode::Entry& e : node.entries) {
    if (std::find(known.begin(), known.end(), e.key) != known.end()) continue;
    if (diagnostics_.full()) {  // only counted from here: no hint to look for
      diagnostics_.error(e.key_where, "unknown key");
      continue;
    }
    std::string hint = nearest_spelling(e.key, known);
    if (hint.empty()) {
      // A key that belongs to another section: say where it goes.
      for (const std::string& full : elsewhere) {
        const size_t dot = full.rfind('.');
        if (dot != std::string::npos && full.substr(dot + 1) == e.key) hint = full;
      }
    } else {
      hint = dotted(hint);
    }
    diagnostics_.error(e.key_where,
                       fmt::format("unknown key '{}'{}", dotted(e.key),
                                   hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
  }
}

bool SectionReader::has(const std::string& key) const {
  return node_ != nullptr && node_->get(key) != nullptr;
}

const ConfigNode* SectionReader::node(const std::string& key) const {
  return node_ == nullptr ? nullptr : node_->get(key);
}

std::string SectionReader::dotted(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void SectionReader::error(const ConfigNode& value, const std::string& key,
                          const std::string& expected) {
  diagnostics_.error(value.where,
                     fmt::format("{} = {}: expected {}", dotted(key), value.describe(), expected));
}

const ConfigNode* SectionReader::scalar(const std::string& key) {
  const ConfigNode* value = node(key);
  if (value == nullptr) return nullptr;
  if (!value->is_scalar()) {
    error(*value, key, "a single value");
    return nullptr;
  }
  return value;
}

std::optional<int64_t> SectionReader::integer(const std::string& key, int64_t min, int64_t max) {
  return integer(key, min, max, {});
}

std::optional<int64_t> SectionReader::integer(const std::string& key, int64_t min, int64_t max,
                                              const std::vector<Word>& words) {
  const ConfigNode* value = scalar(key);
  if (value == nullptr) return std::nullopt;
  for (const Word& w : words) {
    if (value->scalar == w.word) return w.value;
  }
  std::string or_words;
  for (const Word& w : words)
    or_words += fmt::format(" or {}", w.word);
  const auto parsed = parse_integer(value->scalar);
  if (!parsed) {
    std::vector<std::string> names;
    for (const Word& w : words)
      names.emplace_back(w.word);
    const std::string hint = nearest_spelling(value->scalar, names);
    error(*value, key,
          "a whole number" + or_words +
              (hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    return std::nullopt;
  }
  if (*parsed < min || *parsed > max) {
    error(*value, key,
          (min == 1 && *parsed <= 0 ? std::string("a positive whole number")
                                    : fmt::format("a whole number from {} to {}", min, max)) +
              or_words);
    return std::nullopt;
  }
  return parsed;
}

std::optional<double> SectionReader::number(const std::string& key, double min, double max) {
  const ConfigNode* value = scalar(key);
  if (value == nullptr) return std::nullopt;
  double parsed = 0.0;
  const std::string& s = value->scalar;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty() || !std::isfinite(parsed)) {
    error(*value, key, "a number");
    return std::nullopt;
  }
  if (parsed < min || parsed > max) {
    error(*value, key, fmt::format("a number from {} to {}", min, max));
    return std::nullopt;
  }
  return parsed;
}

std::optional<bool> SectionReader::boolean(const std::string& key) {
  const ConfigNode* value = scalar(key);
  if (value == nullptr) return std::nullopt;
  const std::string s = lower(value->scalar);
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  error(*value, key, "true or false");
  return std::nullopt;
}

std::optional<std::string> SectionReader::text(const std::string& key) {
  const ConfigNode* value = scalar(key);
  if (value == nullptr) return std::nullopt;
  return value->scalar;
}

std::optional<std::string> SectionReader::choice(const std::string& key,
                                                 const std::vector<std::string>& choices) {
  const ConfigNode* value = scalar(key);
  if (value == nullptr) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), value->scalar) != choices.end()) {
    return value->scalar;
  }
  const std::string hint = nearest_spelling(value->scalar, choices);
  diagnostics_.error(
      value->where,
      fmt::format("{} = {}: expected {}{}", dotted(key), value->scalar, join_choices(choices),
                  hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
  return std::nullopt;
}

std::optional<sim::Bytes> SectionReader::size(const std::string& key) {
  const ConfigNode* value = scalar(key);
  if (value == nullptr) return std::nullopt;
  const auto parsed = parse_size(value->scalar);
  if (!parsed || *parsed < 0) {
    error(*value, key, "a size in bytes, or a number with a unit such as '512 MiB' or '80GB'");
    return std::nullopt;
  }
  if (*parsed > static_cast<double>(kMostBytes)) {
    error(*value, key, "a size up to 1 PiB (memsim's limit)");
    return std::nullopt;
  }
  return sim::Bytes(static_cast<int64_t>(*parsed));
}

}  // namespace memsim::scenarios
