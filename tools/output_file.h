#pragma once
/// Where a command's output goes, written so that it never harms the machine it runs on:
/// - stdout ("" or "-");
/// - a regular file (a symbolic link is followed to it) is replaced atomically: written to a
///   temporary file beside it, then renamed into place; an existing file keeps its mode and
///   owner, and one without write permission in its mode bits is refused (for root too);
/// - anything else (a character device, a FIFO, a socket, /dev/stdout) is written in place
///   and never replaced; a block device or a directory is refused.
/// A failed write throws OutputError (a closed pipe OutputClosed), a stop signal Interrupted;
/// on every failure the temporary file is removed and the target is left as it was.

#include <functional>
#include <ostream>
#include <string>

namespace memsim::tools {

/// Runs `write` on the output named by `path` (given as `-o PATH`). A path that cannot be
/// written (no such folder, read-only, a directory) is an InputError naming the flag.
void write_output(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace memsim::tools
