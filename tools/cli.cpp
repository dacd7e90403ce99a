#include "tools/cli.h"

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstring>
#include <iostream>
#include <limits>
#include <new>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "scenarios/diagnostics.h"
#include "scenarios/section_reader.h"
#include "sim/units.h"
#include "tools/commands.h"
#include "tools/fd_stream.h"
#include "tools/hardware_files.h"
#include "tools/output_file.h"
#include "tools/signals.h"

namespace memsim::tools {

namespace {

using scenarios::InputError;

/// The most rows `sweep --top` keeps, and tokens `hardware --for --tokens` prices: far above
/// any use, low enough that every count derived from them stays exact.
constexpr int64_t kMostTopRows = 10'000'000;
constexpr double kMostTokens = 1e18;

/// Numbers as typed, checked after parsing with memsim's own messages.
struct RawNumbers {
  std::string top;
  std::string threads;
  std::string max_points;
  std::string tokens;
};

std::string join_or(const std::vector<std::string>& words) {
  std::string text;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) text += i + 1 == words.size() ? " or " : ", ";
    text += words[i];
  }
  return text;
}

/// Every flag, defined once; a command lists the ones it takes.
void add_flag(CLI::App& sub, Flag flag, const Command& command, CommandOptions& options,
              RawNumbers& raw) {
  switch (flag) {
    case Flag::kSet:
      sub.add_option("--set", options.sets,
                     "override a dotted scenario key, e.g. --set parallel.tp=4 (repeatable)")
          ->type_name("KEY=VALUE");
      return;
    case Flag::kVariant:
      sub.add_option("--variant", options.variant,
                     command.takes_scenario ? "only this compare: variant (default: every one)"
                                            : "with --for: this compare: variant")
          ->type_name("NAME");
      return;
    case Flag::kFormat:
      sub.add_option(
             "--format", options.format,
             fmt::format("{} (default {})", join_or(command.formats), command.formats.front()))
          ->type_name("FORMAT");
      return;
    case Flag::kOutput:
      sub.add_option("-o,--output", options.output,
                     "write to FILE instead of stdout (a regular file is replaced atomically; a "
                     "device, FIFO or socket is written in place)")
          ->type_name("FILE");
      return;
    case Flag::kUnits:
      sub.add_option("--units", options.units, "binary (GiB, default) or si (GB)")
          ->type_name("UNITS");
      return;
    case Flag::kFailIfOom:
      sub.add_flag("--fail-if-oom", options.fail_if_oom,
                   command.takes_scenario ? "exit 3 when something does not fit (run: a variant; "
                                            "sweep: every point; fit: a variant's smallest value)"
                                          : "with --for: exit 3 when no GPU fits");
      return;
    case Flag::kWide:
      sub.add_flag("--wide", options.wide,
                   "every variant side by side, however wide (by default a row per variant when "
                   "they do not fit the terminal)");
      return;
    case Flag::kTop:
      sub.add_option("--top", raw.top,
                     std::string(command.name) == "suggest"
                         ? "at most N suggestions a variant (default 10)"
                         : "keep the best N rows: fits first, then step time, then peak (table "
                           "and markdown default to 20)")
          ->type_name("N");
      return;
    case Flag::kThreads:
      sub.add_option("--threads", raw.threads, "worker threads (default: one per core)")
          ->type_name("N");
      return;
    case Flag::kMaxPoints:
      sub.add_option("--max-points", raw.max_points,
                     fmt::format("run grids of up to N points (default {})", kDefaultMaxPoints))
          ->type_name("N");
      return;
    case Flag::kMaximize:
      sub.add_option("--maximize", options.maximize,
                     "the integer key to maximize, e.g. training.micro_batch")
          ->type_name("KEY")
          ->required();
      return;
    case Flag::kScaleGlobalBatch:
      sub.add_flag("--scale-global-batch", options.scale_global_batch,
                   "with --maximize training.micro_batch: keep the microbatches per step and grow "
                   "the global batch (by default the global batch stays)");
      return;
    case Flag::kKeep:
      sub.add_option("--keep", options.keep, "a strategy key not to change (repeatable)")
          ->type_name("KEY");
      return;
    case Flag::kAllow:
      sub.add_option("--allow", options.allow,
                     "gpus: more nodes; precision: pure bf16 and 8-bit Adam (repeatable)")
          ->type_name("WHAT");
      return;
    case Flag::kStyle:
      sub.add_option("--style", options.style,
                     "with --format svg: lines (a curve per class of identical ranks, the "
                     "default) or stacked (the fullest class by category)")
          ->type_name("STYLE");
      return;
    case Flag::kResolution:
      sub.add_option("--resolution", options.resolution,
                     "with --format csv or chrome: merge events into buckets of a duration "
                     "(1ms, 50us, 0.5s) or a layer's pass (layer); every class's peak stays exact")
          ->type_name("STEP");
      return;
    case Flag::kFor:
      sub.add_option("--for", options.scenario,
                     "for each GPU, the fewest that fit this scenario, and their cost")
          ->type_name("SCENARIO");
      return;
    case Flag::kTokens:
      sub.add_option("--tokens", raw.tokens,
                     "with --for: price a run of this many tokens (trained, or served: prompt and "
                     "generated)")
          ->type_name("N");
      return;
    case Flag::kRanks:
      sub.add_option("--ranks", options.ranks,
                     "ranks to write one by one, e.g. 0,4-7, or all (default: every rank, one "
                     "track per class of identical ranks)")
          ->type_name("RANKS");
      return;
  }
}

[[noreturn]] void bad_flag(const std::string& flag, const std::string& value,
                           const std::string& expected) {
  throw InputError({fmt::format("{} {}", flag, value), 0, 0}, "expected " + expected);
}

int64_t whole_number(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  const auto value = scenarios::parse_integer(text);
  if (!value || *value < min || *value > max) {
    bad_flag(flag, text,
             max == std::numeric_limits<int64_t>::max() && min == 1
                 ? std::string("a positive whole number")
                 : fmt::format("a whole number from {} to {}", min, max));
  }
  return *value;
}

void check_choice(const std::string& flag, const std::string& value,
                  const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
  const std::string hint = scenarios::nearest_spelling(value, choices);
  bad_flag(flag, value,
           join_or(choices) + (hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
}

/// Turns the numbers as typed into options, each within its documented range.
void check_flags(const Command& command, const RawNumbers& raw, CommandOptions& options) {
  if (options.format.empty()) options.format = command.formats.front();
  check_choice("--format", options.format, command.formats);
  check_choice("--units", options.units, {"binary", "si"});
  if (!options.resolution.empty() && options.format == "svg") {
    bad_flag("--resolution", options.resolution, "--format csv or chrome with it");
  }
  if (!options.style.empty()) {
    check_choice("--style", options.style, {"lines", "stacked"});
    if (options.format != "svg") bad_flag("--style", options.style, "--format svg with it");
  }
  if (!raw.top.empty()) options.top = whole_number("--top", raw.top, 1, kMostTopRows);
  if (!raw.threads.empty()) {
    const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
    options.threads = static_cast<int>(whole_number("--threads", raw.threads, 1, 4 * cores));
  }
  if (!raw.max_points.empty()) {
    options.max_points = static_cast<uint64_t>(
        whole_number("--max-points", raw.max_points, 1, std::numeric_limits<int64_t>::max()));
  }
  if (!raw.tokens.empty()) {
    double value = 0.0;
    const char* end = raw.tokens.data() + raw.tokens.size();
    const auto [ptr, ec] = std::from_chars(raw.tokens.data(), end, value);
    if (ec != std::errc() || ptr != end || !std::isfinite(value) || value < 1.0 ||
        value > kMostTokens) {
      bad_flag("--tokens", raw.tokens, "a number of tokens from 1 to 1e18");
    }
    options.tokens = value;
  }
}

void print_help(const std::string& text) {
  write_output("", [&](std::ostream& out) { out << text; });
}

/// `memsim help [COMMAND]`, and a first word that is no command.
int help_or_unknown(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> names = {"help"};
  for (const Command& c : commands())
    names.emplace_back(c.name);
  const auto unknown = [&](const std::string& word) {
    const std::string hint = scenarios::nearest_spelling(word, names);
    std::cerr << fmt::format("memsim: error: unknown command '{}'{} (memsim help lists them)\n",
                             word, hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint));
    return 2;
  };
  if (args.empty()) {
    std::cerr << app.help();
    return 2;
  }
  if (args[0] != "help") return unknown(args[0]);
  if (args.size() == 1) {
    print_help(app.help());
    return 0;
  }
  if (args.size() > 2) {
    std::cerr << "memsim: error: help takes one command at most\n";
    return 2;
  }
  if (find_command(args[1]) == nullptr) return unknown(args[1]);
  print_help(app.get_subcommand(args[1])->help());
  return 0;
}

int run_parsed(int argc, const char* const* argv) {
  CLI::App app{"memsim: GPU memory of distributed LLM training and serving, simulated", "memsim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", MEMSIM_VERSION);
  app.footer("memsim help COMMAND describes a command's flags.");

  CommandOptions options;
  RawNumbers raw;
  const Command* chosen = nullptr;
  for (const Command& command : commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.summary);
    if (command.takes_scenario) {
      sub->add_option("scenario", options.scenario, "scenario YAML file")
          ->type_name("SCENARIO")
          ->required();
    }
    for (Flag flag : command.flags)
      add_flag(*sub, flag, command, options, raw);
    sub->callback([&chosen, &command] { chosen = &command; });
  }

  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i)
    words.emplace_back(argv[i]);
  const bool global_flag = !words.empty() && words[0].starts_with("-");
  if (words.empty() || (!global_flag && find_command(words[0]) == nullptr)) {
    return help_or_unknown(app, words);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    print_help(app.get_subcommands().empty() ? app.help() : app.get_subcommands().front()->help());
    return 0;
  } catch (const CLI::CallForVersion&) {
    print_help(std::string(MEMSIM_VERSION) + "\n");
    return 0;
  } catch (const CLI::ParseError& e) {
    const std::string command = words[0].starts_with("-") ? "" : " " + words[0];
    std::cerr << fmt::format("memsim{}: error: {} (memsim help{} lists the flags)\n", command,
                             e.what(), command);
    return 2;
  }
  options.command = chosen->name;
  check_flags(*chosen, raw, options);
  install_hardware_catalog();
  try {
    return chosen->run(options);
  } catch (const sim::OverflowError& e) {
    throw InputError({options.scenario, 0, 0},
                     fmt::format("the scenario's sizes are too large to simulate ({})", e.what()));
  }
}

std::string signal_name(int signal) {
  const char* name = ::strsignal(signal);
  return name == nullptr ? std::to_string(signal) : name;
}

}  // namespace

int run_command_line(int argc, const char* const* argv) {
  try {
    return run_parsed(argc, argv);
  } catch (const InputError& e) {
    std::cerr << e.what() << '\n';
    return 2;
  } catch (const OutputClosed&) {
    return 128 + SIGPIPE;  // the reader has what it wanted: say nothing
  } catch (const OutputError& e) {
    std::cerr << "memsim: error: " << e.what() << '\n';
    return 1;
  } catch (const Interrupted& e) {
    std::cerr << "memsim: stopped by " << signal_name(e.signal()) << ": " << e.what() << '\n';
    return 128 + e.signal();
  } catch (const std::bad_alloc&) {
    std::cerr << "memsim: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "memsim: error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace memsim::tools
