// memsim: the command-line program. Installs the stop-signal handlers, then runs the command
// line (tools/cli.h), whose exit status it returns.

#include "tools/cli.h"
#include "tools/signals.h"

int main(int argc, char** argv) {
  memsim::tools::install_signal_handlers();
  return memsim::tools::run_command_line(argc, argv);
}
