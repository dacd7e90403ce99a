#include <utility>

#include <fmt/format.h>

#include "sim/limits.h"
#include "strategies/layout.h"
#include "tools/commands.h"
#include "tools/outcome.h"
#include "tools/output_file.h"
#include "tools/report_writers.h"

namespace memsim::tools {

namespace {

using ReportWriter = void (*)(const ScenarioOutcome&, const ReportLayout&, std::ostream&);

const std::pair<const char*, ReportWriter> kWriters[] = {
    {"table", write_report_table},
    {"markdown", write_report_markdown},
    {"html", write_report_html},
    {"json", [](const ScenarioOutcome& o, const ReportLayout&,
                std::ostream& out) { write_report_json(o, out); }},
    {"csv", [](const ScenarioOutcome& o, const ReportLayout&,
               std::ostream& out) { write_report_csv(o, out); }},
};

/// One run walks every variant: their layer passes together are bounded (sim/limits.h) as
/// each variant's are.
void check_run_work(const scenarios::Scenario& scenario) {
  int64_t passes = 0;
  for (const scenarios::Variant& v : scenario.variants)
    passes += strategies::layer_passes(v.plan);
  if (passes > sim::kMostRunLayerPasses) {
    throw scenarios::InputError(
        {scenario.path, 0, 0},
        fmt::format("its {} variants walk {} layer passes together (layers × microbatches), "
                    "more than memsim walks in one run ({}); run some of them with --variant NAME",
                    scenario.variants.size(), passes, sim::kMostRunLayerPasses));
  }
}

}  // namespace

int run_run(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  check_run_work(scenario);
  const std::string only = options.variant.empty() ? "" : chosen_variant(scenario, options).name;
  const ScenarioOutcome outcome = simulate_scenario(scenario, only);
  const ReportLayout layout{options.unit_system(), output_width(options.output.empty()),
                            options.wide};
  for (const auto& [format, writer] : kWriters) {
    if (options.format != format) continue;
    write_output(options.output, [&](std::ostream& out) { writer(outcome, layout, out); });
  }
  if (options.fail_if_oom) {
    for (const VariantOutcome& v : outcome.variants) {
      if (!v.report.fits) return 3;
    }
  }
  return 0;
}

}  // namespace memsim::tools
