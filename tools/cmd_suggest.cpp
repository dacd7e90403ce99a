#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evaluation/evaluate.h"
#include "tools/commands.h"
#include "tools/output_file.h"
#include "tools/suggest.h"
#include "tools/terminal.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

/// Suggestions at most when --top is not given.
constexpr size_t kDefaultSuggestions = 10;

struct VariantSuggestions {
  const scenarios::Variant* variant;
  evaluation::Report report;
  std::vector<Suggestion> suggestions;
};

double step_change(const Suggestion& s, const VariantSuggestions& v) {
  return s.step_time_s / v.report.step_time_s - 1.0;
}

void write_json(const std::vector<VariantSuggestions>& all, std::ostream& out) {
  nlohmann::ordered_json variants = nlohmann::ordered_json::array();
  for (const VariantSuggestions& v : all) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Suggestion& s : v.suggestions) {
      nlohmann::ordered_json set = nlohmann::ordered_json::array();
      for (const auto& [key, value] : s.changes)
        set.push_back(key + "=" + value);
      list.push_back({{"set", set},
                      {"yaml", s.yaml()},
                      {"peak_bytes", s.peak.value()},
                      {"step_time_s", s.step_time_s},
                      {"step_change", step_change(s, v)}});
    }
    variants.push_back({{"name", v.variant->name},
                        {"fits", v.report.fits},
                        {"peak_bytes", v.report.peak.value()},
                        {"usable_bytes", evaluation::usable_memory(v.variant->plan).value()},
                        {"step_time_s", v.report.step_time_s},
                        {"suggestions", list}});
  }
  out << nlohmann::ordered_json{{"variants", variants}}.dump(2) << '\n';
}

void write_text(const std::vector<VariantSuggestions>& all, const CommandOptions& options,
                std::ostream& out) {
  const UnitSystem units = options.unit_system();
  const size_t width = output_width(options.output.empty());
  const bool markdown = options.format == "markdown";
  for (const VariantSuggestions& v : all) {
    const sim::Bytes usable = evaluation::usable_memory(v.variant->plan);
    out << fmt::format("{}{}: {} of {}", markdown ? "### " : "", v.variant->name,
                       format_bytes(v.report.peak, units), format_bytes(usable, units));
    if (v.report.fits) {
      out << ", fits as it is\n\n";
      continue;
    }
    out << ", does not fit\n\n";
    if (v.suggestions.empty()) {
      out << "No change of its strategy makes it fit; --allow gpus adds nodes, --allow precision "
             "pure bf16 and 8-bit Adam.\n\n";
      continue;
    }
    for (size_t i = 0; i < v.suggestions.size(); ++i) {
      const Suggestion& s = v.suggestions[i];
      out << fmt::format("{}{}. peak {}, step {:.3g} s ({:+.1f}%)\n", markdown ? "" : " ", i + 1,
                         format_bytes(s.peak, units), s.step_time_s, 100 * step_change(s, v));
      if (markdown) {
        out << "   `" << s.set_flags() << "`, or in YAML `" << s.yaml() << "`\n";
        continue;
      }
      for (const std::string& line : s.set_flag_lines(width - 4, "    "))
        out << "    " << line << '\n';
      const std::vector<std::string> yaml = wrap_words(s.yaml(), width - 10);
      for (size_t l = 0; l < yaml.size(); ++l)
        out << (l == 0 ? "    YAML: " : "          ") << yaml[l] << '\n';
    }
    out << '\n';
  }
}

}  // namespace

int run_suggest(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  for (const std::string& key : options.keep) {
    const std::vector<std::string> keys = suggestion_keys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      const std::string hint = scenarios::nearest_spelling(key, keys);
      throw scenarios::InputError(
          {"--keep " + key, 0, 0},
          fmt::format("suggestions never change {}{}", key,
                      hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    }
  }
  SuggestOptions suggest_options;
  suggest_options.keep = options.keep;
  for (const std::string& what : options.allow) {
    if (what == "gpus") {
      suggest_options.allow_gpus = true;
    } else if (what == "precision") {
      suggest_options.allow_precision = true;
    } else {
      throw scenarios::InputError({"--allow " + what, 0, 0}, "expected gpus or precision");
    }
  }
  suggest_options.most = options.top > 0 ? static_cast<size_t>(options.top) : kDefaultSuggestions;
  suggest_options.only_smallest = false;
  const std::string dir = std::filesystem::path(scenario.path).parent_path().string();
  std::vector<VariantSuggestions> all;
  for (size_t i = 0; i < scenario.variants.size(); ++i) {
    const scenarios::Variant& variant = scenario.variants[i];
    VariantSuggestions& v =
        all.emplace_back(VariantSuggestions{&variant, evaluation::evaluate(variant.plan), {}});
    if (!v.report.fits) {
      v.suggestions = suggest(scenario.configs[i], dir, variant.plan, suggest_options);
    }
  }
  write_output(options.output, [&](std::ostream& out) {
    if (options.format == "json") {
      write_json(all, out);
    } else {
      write_text(all, options, out);
    }
  });
  return 0;
}

}  // namespace memsim::tools
