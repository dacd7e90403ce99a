#include <iostream>

#include "tools/commands.h"

namespace memsim::tools {

int run_check(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  for (const scenarios::Variant& variant : scenario.variants) {
    std::cout << "ok " << options.scenario << ' ' << variant.name << '\n';
  }
  return 0;
}

}  // namespace memsim::tools
