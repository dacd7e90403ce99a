#pragma once
/// What a person means by a GPU or model name. Names compare without case and without the
/// separators '-', '_', '.' and spaces ("H100-80GB", "Llama-3-70B"); failing that, a name
/// whose words include all of the query's ("h100 pcie") or that contains it ("4090") is
/// meant when it is the only one. Several such names make the query ambiguous: the caller
/// lists them.

#include <optional>
#include <string>
#include <vector>

#include "scenarios/diagnostics.h"

namespace memsim::scenarios {

/// One thing that can be named: its name first, then its aliases.
using Names = std::vector<std::string>;

struct NameLookup {
  std::optional<size_t> found;          ///< the index of the entry meant
  std::vector<std::string> candidates;  ///< when ambiguous: the entries' names
};

NameLookup lookup_name(const std::string& query, const std::vector<Names>& entries);

/// The entry `query` means, or nullopt after reporting at `where` that the name is
/// ambiguous (listing the candidates) or unknown (with the nearest spelling): `what` names
/// the kind ("GPU"), `listed_by` the command that lists them all.
std::optional<size_t> resolve_name(const std::string& query, const std::vector<Names>& entries,
                                   const std::string& what, const std::string& listed_by,
                                   const Location& where, Diagnostics& diagnostics);

/// "a or b", "a, b or c".
std::string join_alternatives(const std::vector<std::string>& words);

}  // namespace memsim::scenarios
