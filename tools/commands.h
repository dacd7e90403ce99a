#pragma once
/// The memsim subcommands as a registry table: each entry names itself, says what it
/// does, which output formats it offers (the first is its default) and how to run.

#include <cstdint>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "tools/units_format.h"

namespace memsim::tools {

struct CommandOptions {
  std::string scenario;
  std::string format;
  std::string output;
  std::string units = "binary";
  std::string variant;
  std::string ranks;
  std::vector<std::string> sets;
  bool fail_if_oom = false;
  int64_t top = 0;       ///< sweep: rows to keep, best first (0: every row, in grid order)
  int threads = 0;       ///< sweep: worker threads (0: one per core)
  std::string maximize;  ///< fit: the integer key to maximize
  double tokens = 1e9;   ///< hardware --for: tokens a priced run trains or serves

  UnitSystem unit_system() const { return units == "si" ? UnitSystem::kSi : UnitSystem::kBinary; }
};

struct Command {
  const char* name;
  const char* summary;
  bool takes_scenario;
  std::vector<std::string> formats;  ///< the first is the default
  int (*run)(const CommandOptions& options);
};

const std::vector<Command>& commands();

/// Loads the scenario named in `options` with its --set overrides; warnings go to stderr.
scenarios::Scenario load_for_command(const CommandOptions& options);
/// The variant named by --variant (or the first), or an InputError.
const scenarios::Variant& chosen_variant(const scenarios::Scenario& scenario,
                                         const CommandOptions& options);

int run_run(const CommandOptions& options);
int run_check(const CommandOptions& options);
int run_models(const CommandOptions& options);
int run_hardware(const CommandOptions& options);
int run_timeline(const CommandOptions& options);
int run_sweep(const CommandOptions& options);
int run_fit(const CommandOptions& options);

}  // namespace memsim::tools
