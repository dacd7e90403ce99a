#include "scenarios/name_lookup.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include <fmt/format.h>

namespace memsim::scenarios {

namespace {

bool separator(char c) {
  return c == '-' || c == '_' || c == '.' || c == ' ';
}

std::string compact(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (!separator(c)) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<std::string> words(const std::string& name) {
  std::vector<std::string> out(1);
  for (char c : name) {
    if (separator(c)) {
      if (!out.back().empty()) out.emplace_back();
    } else {
      out.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

/// The entries with a name for which `matches` holds.
std::vector<size_t> entries_where(const std::vector<Names>& entries,
                                  const std::function<bool(const std::string&)>& matches) {
  std::vector<size_t> found;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (std::any_of(entries[i].begin(), entries[i].end(), matches)) found.push_back(i);
  }
  return found;
}

}  // namespace

NameLookup lookup_name(const std::string& query, const std::vector<Names>& entries) {
  const std::string wanted = compact(query);
  const std::vector<std::string> wanted_words = words(query);
  if (wanted.empty()) return {};
  const std::vector<std::function<bool(const std::string&)>> rules = {
      [&](const std::string& name) { return name == query; },
      [&](const std::string& name) { return compact(name) == wanted; },
      [&](const std::string& name) {
        const std::vector<std::string> have = words(name);
        return std::all_of(wanted_words.begin(), wanted_words.end(), [&](const std::string& w) {
          return std::find(have.begin(), have.end(), w) != have.end();
        });
      },
      [&](const std::string& name) { return compact(name).find(wanted) != std::string::npos; },
  };
  for (const auto& rule : rules) {
    const std::vector<size_t> found = entries_where(entries, rule);
    if (found.size() == 1) return {found.front(), {}};
    if (found.size() > 1) {
      NameLookup ambiguous;
      for (size_t i : found)
        ambiguous.candidates.push_back(entries[i].front());
      return ambiguous;
    }
  }
  return {};
}

std::optional<size_t> resolve_name(const std::string& query, const std::vector<Names>& entries,
                                   const std::string& what, const std::string& listed_by,
                                   const Location& where, Diagnostics& diagnostics) {
  const NameLookup lookup = lookup_name(query, entries);
  if (lookup.found) return lookup.found;
  if (!lookup.candidates.empty()) {
    diagnostics.error(where, fmt::format("{} '{}' is ambiguous: {}", what, query,
                                         join_alternatives(lookup.candidates)));
    return std::nullopt;
  }
  std::vector<std::string> all;
  for (const Names& names : entries)
    all.insert(all.end(), names.begin(), names.end());
  const std::string hint = nearest_spelling(query, all);
  diagnostics.error(
      where, fmt::format("unknown {} '{}'{} ({} lists them)", what, query,
                         hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint), listed_by));
  return std::nullopt;
}

std::string join_alternatives(const std::vector<std::string>& words) {
  std::string text;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) text += i + 1 == words.size() ? " or " : ", ";
    text += words[i];
  }
  return text;
}

}  // namespace memsim::scenarios
