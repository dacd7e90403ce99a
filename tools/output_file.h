#pragma once
/// Where a command's output goes: stdout, or a file written atomically (a temporary file
/// in the same folder, renamed into place), so no reader ever sees half a file.

#include <functional>
#include <ostream>
#include <string>

namespace memsim::tools {

/// Runs `write` on stdout when `path` is empty or "-", else on `path` atomically.
/// An unwritable path is an InputError.
void write_output(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace memsim::tools
