#include <fmt/format.h>

#include "scenarios/sweep.h"
#include "tools/commands.h"
#include "tools/output_file.h"

namespace memsim::tools {

int run_check(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  std::vector<scenarios::VariantSweep> sweeps;
  if (!scenario.sweep.is_null()) sweeps = scenarios::read_sweeps(scenario);
  write_output(options.output, [&](std::ostream& out) {
    for (size_t i = 0; i < scenario.variants.size(); ++i) {
      out << "ok " << options.scenario << ' ' << scenario.variants[i].name;
      if (!sweeps.empty()) out << fmt::format(" (sweep of {} points)", sweeps[i].sweep.points());
      out << '\n';
    }
  });
  return 0;
}

}  // namespace memsim::tools
