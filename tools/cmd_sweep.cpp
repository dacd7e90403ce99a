#include <atomic>
#include <csignal>
#include <iostream>
#include <unistd.h>

#include "scenarios/sweep.h"
#include "tools/commands.h"
#include "tools/output_file.h"
#include "tools/sweep_runner.h"

namespace memsim::tools {

namespace {

/// Rows shown by the table formats when --top is not given.
constexpr int64_t kDefaultTableRows = 20;

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler sets it");

extern "C" void on_interrupt(int) {
  interrupted = true;
}

/// Ctrl-C sets `interrupted` while it lives; the default handling returns after.
class InterruptGuard {
 public:
  InterruptGuard() {
    interrupted = false;
    previous_ = std::signal(SIGINT, on_interrupt);
  }
  ~InterruptGuard() { std::signal(SIGINT, previous_); }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  void (*previous_)(int) = SIG_DFL;
};

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

  SweepOptions sweep_options;
  sweep_options.format = sweep_format(options.format);
  sweep_options.top = options.top;
  const bool table =
      sweep_options.format == SweepFormat::kTable || sweep_options.format == SweepFormat::kMarkdown;
  if (table && sweep_options.top == 0) sweep_options.top = kDefaultTableRows;
  sweep_options.threads = options.threads;
  sweep_options.progress = ::isatty(STDERR_FILENO) != 0;

  SweepSummary summary;
  {
    const InterruptGuard guard;
    write_output(options.output, [&](std::ostream& out) {
      summary = tools::run_sweep(sweeps, sweep_options, out, interrupted);
    });
  }
  std::cerr << describe(summary) << '\n';
  return summary.interrupted ? 128 + SIGINT : 0;
}

}  // namespace memsim::tools
