#include <utility>

#include "tools/commands.h"
#include "tools/outcome.h"
#include "tools/output_file.h"
#include "tools/report_writers.h"

namespace memsim::tools {

namespace {

using ReportWriter = void (*)(const ScenarioOutcome&, UnitSystem, std::ostream&);

const std::pair<const char*, ReportWriter> kWriters[] = {
    {"table", write_report_table},
    {"markdown", write_report_markdown},
    {"json",
     [](const ScenarioOutcome& o, UnitSystem, std::ostream& out) { write_report_json(o, out); }},
    {"csv",
     [](const ScenarioOutcome& o, UnitSystem, std::ostream& out) { write_report_csv(o, out); }},
};

}  // namespace

int run_run(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  const std::string only = options.variant.empty() ? "" : chosen_variant(scenario, options).name;
  const ScenarioOutcome outcome = simulate_scenario(scenario, only);
  for (const auto& [format, writer] : kWriters) {
    if (options.format != format) continue;
    write_output(options.output,
                 [&](std::ostream& out) { writer(outcome, options.unit_system(), out); });
  }
  if (options.fail_if_oom) {
    for (const VariantOutcome& v : outcome.variants) {
      if (!v.report.fits) return 3;
    }
  }
  return 0;
}

}  // namespace memsim::tools
