#include "tools/commands.h"

#include <iostream>

#include <fmt/format.h>

namespace memsim::tools {

const std::vector<Command>& commands() {
  using F = Flag;
  static const std::vector<Command> table = {
      {"run",
       "simulate a scenario and every compare: variant; print peaks and breakdowns",
       true,
       {"table", "json", "csv", "markdown", "html"},
       {F::kSet, F::kVariant, F::kFormat, F::kOutput, F::kUnits, F::kFailIfOom, F::kWide},
       run_run},
      {"check",
       "validate a scenario; print only 'ok' lines (with each variant's sweep size) when it is "
       "valid",
       true,
       {"table", "json"},
       {F::kSet, F::kVariant, F::kFormat, F::kOutput},
       run_check},
      {"sweep",
       "evaluate every point of the scenario's sweep: grid; stream rows or rank the best",
       true,
       {"csv", "jsonl", "table", "markdown"},
       {F::kSet, F::kVariant, F::kFormat, F::kOutput, F::kUnits, F::kFailIfOom, F::kTop,
        F::kThreads, F::kMaxPoints},
       run_sweep},
      {"fit",
       "the largest integer value of --maximize KEY that fits, per variant",
       true,
       {"table", "json", "csv", "markdown"},
       {F::kSet, F::kVariant, F::kFormat, F::kOutput, F::kUnits, F::kFailIfOom, F::kMaximize,
        F::kScaleGlobalBatch},
       run_fit},
      {"suggest",
       "the smallest changes of each variant's strategy that make it fit, fastest first, as "
       "--set flags and YAML",
       true,
       {"table", "json", "markdown"},
       {F::kSet, F::kVariant, F::kFormat, F::kOutput, F::kUnits, F::kTop, F::kKeep, F::kAllow},
       run_suggest},
      {"timeline",
       "per-rank memory over one training step of one variant (the base unless --variant): CSV "
       "events, a Chrome trace or an SVG plot",
       true,
       {"csv", "chrome", "svg"},
       {F::kSet, F::kVariant, F::kFormat, F::kOutput, F::kUnits, F::kRanks, F::kStyle,
        F::kResolution},
       run_timeline},
      {"models",
       "list the built-in model presets with exact parameter counts",
       false,
       {"table", "json", "csv", "markdown"},
       {F::kFormat, F::kOutput},
       run_models},
      {"hardware",
       "list the GPU profiles (built in, ./hardware/*.yaml, $MEMSIM_HARDWARE) with prices; "
       "with --for SCENARIO, how many of each fit it and what they cost",
       false,
       {"table", "json", "csv", "markdown"},
       {F::kFor, F::kSet, F::kVariant, F::kFormat, F::kOutput, F::kUnits, F::kFailIfOom,
        F::kTokens},
       run_hardware},
  };
  return table;
}

const Command* find_command(const std::string& name) {
  for (const Command& command : commands()) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

scenarios::Scenario load_for_command(const CommandOptions& options) {
  scenarios::Scenario scenario = scenarios::load_scenario(
      options.scenario, options.sets, options.variant, options.command == "sweep");
  for (const scenarios::Diagnostic& w : scenario.warnings) {
    std::string text = scenarios::format_diagnostic(w);
    if (const size_t at = text.find(": error: "); at != std::string::npos) {
      text.replace(at, 9, ": warning: ");
    }
    std::cerr << text << '\n';
  }
  return scenario;
}

const scenarios::Variant& chosen_variant(const scenarios::Scenario& scenario,
                                         const CommandOptions& options) {
  if (options.variant.empty()) return scenario.variants.front();
  for (const scenarios::Variant& v : scenario.variants) {
    if (v.name == options.variant) return v;
  }
  // load_scenario read only this variant, or told that it is not there.
  throw std::logic_error("--variant " + options.variant + " was not read");
}

}  // namespace memsim::tools
