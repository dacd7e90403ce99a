#include "tools/commands.h"

#include <iostream>

#include <fmt/format.h>

namespace memsim::tools {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"run",
       "simulate a scenario and every compare: variant; print peaks and breakdowns",
       true,
       {"table", "json", "csv", "markdown"},
       run_run},
      {"check",
       "validate a scenario; print only 'ok' lines when it is valid",
       true,
       {"table"},
       run_check},
      {"sweep",
       "evaluate every point of the scenario's sweep: grid; stream rows or rank the best",
       true,
       {"csv", "jsonl", "table", "markdown"},
       run_sweep},
      {"fit",
       "the largest integer value of --maximize KEY that fits, per variant",
       true,
       {"table", "json", "csv", "markdown"},
       run_fit},
      {"timeline",
       "per-rank memory over one training step: CSV events, a Chrome trace or an SVG plot",
       true,
       {"csv", "chrome", "svg"},
       run_timeline},
      {"models",
       "list the built-in model presets with exact parameter counts",
       false,
       {"table", "json", "csv", "markdown"},
       run_models},
      {"hardware",
       "list the GPU profiles (built in, ./hardware/*.yaml, $MEMSIM_HARDWARE) with prices; "
       "with --for SCENARIO, how many of each fit it and what they cost",
       false,
       {"table", "json", "csv", "markdown"},
       run_hardware},
  };
  return table;
}

scenarios::Scenario load_for_command(const CommandOptions& options) {
  scenarios::Scenario scenario = scenarios::load_scenario(options.scenario, options.sets);
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
  std::vector<std::string> names;
  for (const scenarios::Variant& v : scenario.variants) {
    if (v.name == options.variant) return v;
    names.push_back(v.name);
  }
  const std::string hint = scenarios::nearest_spelling(options.variant, names);
  throw scenarios::InputError(
      {"--variant " + options.variant, 0, 0},
      fmt::format("no variant named '{}' in {}{}", options.variant, options.scenario,
                  hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
}

}  // namespace memsim::tools
