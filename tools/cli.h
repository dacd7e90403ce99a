#pragma once
/// memsim's command line: parses the arguments, runs one command of the registry, and turns
/// what went wrong into an exit status: 2 bad input (a message naming the file, line and
/// column, or the flag), 1 anything else, 141 a closed pipe (quietly), 128 + N a stop signal N
/// that arrived while output was being written.

namespace memsim::tools {

/// The whole program but its start-up (signal handlers and the GPU catalog's files are
/// installed by main): what `memsim ARGS...` does. Output goes to stdout or `-o`, messages to
/// std::cerr.
int run_command_line(int argc, const char* const* argv);

}  // namespace memsim::tools
