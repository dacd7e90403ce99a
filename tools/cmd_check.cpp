#include <iostream>

#include "scenarios/sweep.h"
#include "tools/commands.h"

namespace memsim::tools {

int run_check(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  std::vector<scenarios::VariantSweep> sweeps;
  if (!scenario.sweep.is_null()) sweeps = scenarios::read_sweeps(scenario);
  for (size_t i = 0; i < scenario.variants.size(); ++i) {
    std::cout << "ok " << options.scenario << ' ' << scenario.variants[i].name;
    if (!sweeps.empty()) std::cout << " (sweep of " << sweeps[i].sweep.points() << " points)";
    std::cout << '\n';
  }
  return 0;
}

}  // namespace memsim::tools
