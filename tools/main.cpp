// memsim: the command-line program. Parses arguments, installs the GPU catalog (built in
// and the user's profile files), runs one command from the registry, and turns errors into
// exit codes: 2 for bad input, 1 for anything else.

#include <iostream>
#include <string_view>

#include <CLI/CLI.hpp>

#include "scenarios/diagnostics.h"
#include "sim/units.h"
#include "tools/commands.h"
#include "tools/hardware_files.h"

int main(int argc, char** argv) {
  using memsim::tools::Command;
  CLI::App app{"memsim: GPU memory of distributed LLM training, simulated"};
  app.require_subcommand(1);
  app.set_version_flag("--version", MEMSIM_VERSION);

  memsim::tools::CommandOptions options;
  const Command* chosen = nullptr;
  for (const Command& command : memsim::tools::commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.summary);
    const std::string_view name = command.name;
    if (command.takes_scenario) {
      sub->add_option("scenario", options.scenario, "scenario YAML file")->required();
      sub->add_option("--set", options.sets,
                      "override a dotted scenario key, e.g. --set parallel.tp=4 (repeatable)");
      sub->add_option("--variant", options.variant, "only this compare: variant (default: all)");
    }
    sub->add_option("--format", options.format,
                    "output format (default " + command.formats.front() + ")")
        ->check(CLI::IsMember(command.formats));
    sub->add_option("-o,--output", options.output, "write to FILE (atomically) instead of stdout");
    if (name == "run" || name == "fit") {
      sub->add_option("--units", options.units, "binary (GiB, default) or si (GB)")
          ->check(CLI::IsMember({"binary", "si"}));
    }
    if (name == "run") {
      sub->add_flag("--fail-if-oom", options.fail_if_oom, "exit 3 when a variant does not fit");
    }
    if (name == "sweep") {
      sub->add_option("--top", options.top,
                      "keep the best N rows: fits first, then step time, then peak (table and "
                      "markdown default to 20)")
          ->check(CLI::NonNegativeNumber);
      sub->add_option("--threads", options.threads, "worker threads (default: one per core)")
          ->check(CLI::NonNegativeNumber);
    }
    if (name == "fit") {
      sub->add_option("--maximize", options.maximize,
                      "the integer key to maximize, e.g. training.micro_batch")
          ->required();
    }
    if (name == "hardware") {
      sub->add_option("--for", options.scenario,
                      "for each GPU, the fewest that fit this scenario, and their cost");
      sub->add_option("--tokens", options.tokens,
                      "with --for: price a run of this many tokens (trained, or served: prompt and "
                      "generated)")
          ->check(CLI::PositiveNumber);
      sub->add_option("--set", options.sets, "with --for: override a dotted scenario key");
      sub->add_option("--variant", options.variant, "with --for: this compare: variant");
      sub->add_option("--units", options.units, "binary (GiB, default) or si (GB)")
          ->check(CLI::IsMember({"binary", "si"}));
    }
    if (name == "timeline") {
      sub->add_option("--ranks", options.ranks, "ranks to include, e.g. 0,4-7 (default: all)");
    }
    sub->callback([&chosen, &command] { chosen = &command; });
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (options.format.empty()) options.format = chosen->formats.front();

  try {
    memsim::tools::install_hardware_catalog();
    return chosen->run(options);
  } catch (const memsim::scenarios::InputError& e) {
    std::cerr << e.what() << '\n';
    return 2;
  } catch (const memsim::sim::OverflowError& e) {
    std::cerr << options.scenario << ": error: the scenario's sizes are too large to simulate ("
              << e.what() << ")\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "memsim: error: " << e.what() << '\n';
    return 1;
  }
}
