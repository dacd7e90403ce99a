#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "scenarios/sweep.h"
#include "tools/commands.h"
#include "tools/output_file.h"

namespace memsim::tools {

int run_check(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  std::vector<scenarios::VariantSweep> sweeps;
  if (!scenario.sweep.is_null()) sweeps = scenarios::read_sweeps(scenario);
  write_output(options.output, [&](std::ostream& out) {
    if (options.format == "json") {
      nlohmann::ordered_json variants = nlohmann::ordered_json::array();
      for (size_t i = 0; i < scenario.variants.size(); ++i) {
        variants.push_back(
            {{"name", scenario.variants[i].name},
             {"sweep_points", sweeps.empty() ? nlohmann::ordered_json(nullptr)
                                             : nlohmann::ordered_json(sweeps[i].sweep.points())}});
      }
      nlohmann::ordered_json warnings = nlohmann::ordered_json::array();
      for (const scenarios::Diagnostic& w : scenario.warnings)
        warnings.push_back(scenarios::format_diagnostic(w));
      out << nlohmann::ordered_json{{"scenario", scenario.name},
                                    {"valid", true},
                                    {"variants", variants},
                                    {"warnings", warnings}}
                 .dump(2)
          << '\n';
      return;
    }
    for (size_t i = 0; i < scenario.variants.size(); ++i) {
      out << "ok " << options.scenario << ' ' << scenario.variants[i].name;
      if (!sweeps.empty()) out << fmt::format(" (sweep of {} points)", sweeps[i].sweep.points());
      out << '\n';
    }
  });
  return 0;
}

}  // namespace memsim::tools
