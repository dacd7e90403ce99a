#pragma once
/// What memsim knows of the terminal it writes to: how wide a line may be.

#include <cstddef>

namespace memsim::tools {

/// The width of output lines meant for people when not a terminal's.
inline constexpr size_t kDefaultWidth = 100;

/// $COLUMNS when it holds a positive number; else, when the output goes to stdout and
/// stdout is a terminal, the terminal's width; else kDefaultWidth.
size_t output_width(bool to_stdout);

}  // namespace memsim::tools
