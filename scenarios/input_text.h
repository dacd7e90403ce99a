#pragma once
/// The text of a user's input file (a scenario, a GPU profile file, a config.json), read so
/// that bad input is a clear error and never an unbounded read: a directory, an unreadable
/// or oversized file, and text that is not UTF-8 are each reported with where they are.

#include <cstddef>
#include <string>

#include "scenarios/diagnostics.h"

namespace memsim::scenarios {

/// The largest input file read: far above any scenario, profile list or config.json.
inline constexpr size_t kMostInputBytes = size_t{16} << 20;

/// The whole of `path`; an InputError when it cannot be read, is a directory or is larger
/// than kMostInputBytes (a device such as /dev/zero included).
std::string read_input_file(const std::string& path);

/// Line and column (1-based, in bytes) of `offset` in `text`, named `origin`.
Location location_at(const std::string& text, size_t offset, const std::string& origin);

/// An InputError at the first byte of `text` that is not valid UTF-8 (or is a NUL).
void check_utf8(const std::string& text, const std::string& origin);

/// `text` with every byte that is not valid UTF-8 replaced by U+FFFD: for names that come
/// from a path (a file name may be any bytes), before they reach a JSON report.
std::string as_utf8(const std::string& text);

}  // namespace memsim::scenarios
