#include "tools/terminal.h"

#include <cstdlib>
#include <sys/ioctl.h>
#include <unistd.h>

#include "scenarios/section_reader.h"

namespace memsim::tools {

size_t output_width(bool to_stdout) {
  if (const char* columns = std::getenv("COLUMNS")) {
    if (const auto value = scenarios::parse_integer(columns); value && *value > 0) {
      return static_cast<size_t>(*value);
    }
  }
  winsize size = {};
  if (to_stdout && ::isatty(STDOUT_FILENO) != 0 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 &&
      size.ws_col > 0) {
    return size.ws_col;
  }
  return kDefaultWidth;
}

}  // namespace memsim::tools
