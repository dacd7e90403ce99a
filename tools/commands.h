#pragma once
/// The memsim subcommands as a registry table: each entry names itself, says what it
/// does, which output formats it offers (the first is its default), which flags it takes
/// and how to run.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "tools/units_format.h"

namespace memsim::tools {

/// The largest sweep run without --max-points.
inline constexpr uint64_t kDefaultMaxPoints = 100'000'000;

struct CommandOptions {
  std::string command;
  std::string scenario;
  std::string format;
  std::string output;
  std::string units = "binary";
  std::string variant;
  std::string ranks;
  std::string style;       ///< timeline --format svg: lines or stacked
  std::string resolution;  ///< timeline csv and chrome: a duration ("1ms") or "layer"
  std::vector<std::string> sets;
  bool fail_if_oom = false;
  bool wide = false;  ///< run: every variant side by side, however wide
  int64_t top = 0;    ///< sweep: rows to keep, best first (0: every row, in grid order)
  int threads = 0;    ///< sweep: worker threads (0: one per core)
  uint64_t max_points = kDefaultMaxPoints;  ///< sweep: the largest grid it runs
  std::string maximize;                     ///< fit: the integer key to maximize
  bool scale_global_batch = false;
  std::vector<std::string> keep;   ///< suggest: keys not to change
  std::vector<std::string> allow;  ///< suggest: gpus, precision          ///< fit micro_batch: the
                                   ///< global batch grows with it
  std::optional<double> tokens;    ///< hardware --for: tokens a priced run trains or serves

  double tokens_or_default() const { return tokens.value_or(1e9); }

  UnitSystem unit_system() const { return units == "si" ? UnitSystem::kSi : UnitSystem::kBinary; }
};

/// The flags a command may take (beyond --help); each is defined once, in tools/cli.cpp.
enum class Flag : uint8_t {
  kSet,
  kVariant,
  kFormat,
  kOutput,
  kUnits,
  kFailIfOom,
  kWide,
  kTop,
  kThreads,
  kMaxPoints,
  kMaximize,
  kScaleGlobalBatch,
  kFor,
  kTokens,
  kRanks,
  kKeep,
  kAllow,
  kStyle,
  kResolution,
};

struct Command {
  const char* name;
  const char* summary;
  bool takes_scenario;               ///< a SCENARIO argument (required)
  std::vector<std::string> formats;  ///< the first is the default
  std::vector<Flag> flags;
  int (*run)(const CommandOptions& options);
};

const std::vector<Command>& commands();
/// The command called `name`, or nullptr.
const Command* find_command(const std::string& name);

/// Loads the scenario named in `options` with its --set overrides (only the --variant one
/// when given); warnings go to stderr.
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
int run_suggest(const CommandOptions& options);

}  // namespace memsim::tools
