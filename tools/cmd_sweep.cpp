#include <iostream>
#include <unistd.h>

#include <fmt/format.h>

#include "scenarios/sweep.h"
#include "tools/commands.h"
#include "tools/output_file.h"
#include "tools/signals.h"
#include "tools/sweep_runner.h"
#include "tools/terminal.h"

namespace memsim::tools {

namespace {

/// Rows shown by the table formats when --top is not given.
constexpr int64_t kDefaultTableRows = 20;

SweepFormat sweep_format(const std::string& name) {
  if (name == "jsonl") return SweepFormat::kJsonLines;
  if (name == "table") return SweepFormat::kTable;
  if (name == "markdown") return SweepFormat::kMarkdown;
  return SweepFormat::kCsv;
}

}  // namespace

int run_sweep(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  const std::string only = options.variant.empty() ? "" : chosen_variant(scenario, options).name;
  const std::vector<scenarios::VariantSweep> sweeps = scenarios::read_sweeps(scenario, only);

  uint64_t points = 0;
  for (const scenarios::VariantSweep& v : sweeps)
    points = points + v.sweep.points() < points ? UINT64_MAX : points + v.sweep.points();
  if (points > options.max_points) {
    throw scenarios::InputError(
        scenario.sweep.where,
        fmt::format("the sweep has {} points, more than the {} it runs without --max-points; "
                    "narrow the grid, or raise the limit with --max-points {}",
                    points, options.max_points, points));
  }
  std::cerr << fmt::format("sweeping {} points{}\n", points,
                           sweeps.size() > 1 ? fmt::format(" ({} variants)", sweeps.size()) : "");

  SweepOptions sweep_options;
  sweep_options.format = sweep_format(options.format);
  sweep_options.top = options.top;
  const bool table =
      sweep_options.format == SweepFormat::kTable || sweep_options.format == SweepFormat::kMarkdown;
  if (table && sweep_options.top == 0) sweep_options.top = kDefaultTableRows;
  sweep_options.threads = options.threads;
  sweep_options.progress = ::isatty(STDERR_FILENO) != 0;
  sweep_options.width = output_width(options.output.empty());
  sweep_options.units = options.unit_system();

  SweepSummary summary;
  {
    // A stop signal ends the sweep after its last whole chunk. Ctrl-C keeps what was made:
    // the rows so far (the best so far, with --top), in the -o file too; SIGTERM and SIGHUP
    // abandon a -o file (stdout has the rows streamed so far).
    const SignalDeferral deferral(SignalDeferral::OnInterrupt::kKeepOutput);
    write_output(options.output, [&](std::ostream& out) {
      summary = tools::run_sweep(sweeps, sweep_options, out, stop_requested());
    });
  }
  std::cerr << describe(summary) << '\n';
  if (summary.interrupted) return 128 + stop_signal();
  return options.fail_if_oom && summary.fitting == 0 ? 3 : 0;
}

}  // namespace memsim::tools
