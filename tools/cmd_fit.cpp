#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "scenarios/sweep_keys.h"
#include "strategies/evaluate.h"
#include "tools/commands.h"
#include "tools/csv.h"
#include "tools/fit_search.h"
#include "tools/output_file.h"
#include "tools/terminal.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

struct VariantFit {
  const scenarios::Variant* variant;
  FitAnswer answer;
};

const scenarios::SweepKey& integer_key(const std::string& name) {
  const scenarios::SweepKey* key = scenarios::find_sweep_key(name);
  if (key != nullptr && key->set_integer != nullptr) return *key;
  std::vector<std::string> names;
  for (const scenarios::SweepKey& k : scenarios::sweep_keys()) {
    if (k.set_integer != nullptr) names.emplace_back(k.key);
  }
  const std::string hint = scenarios::nearest_spelling(name, names);
  throw scenarios::InputError(
      {"--maximize " + name, 0, 0},
      fmt::format("'{}' is not an integer scenario key{}", name,
                  hint.empty() ? "; try training.micro_batch or training.seq_len"
                               : fmt::format("; did you mean '{}'?", hint)));
}

void write_json(const std::string& key, const std::vector<VariantFit>& fits, std::ostream& out) {
  nlohmann::ordered_json variants = nlohmann::ordered_json::array();
  for (const VariantFit& f : fits) {
    variants.push_back({{"name", f.variant->name},
                        {"value", f.answer.value},
                        {"peak_bytes", f.answer.peak.value()},
                        {"next_peak_bytes", f.answer.next_peak.value()},
                        {"capacity_bytes", f.variant->plan.cluster.gpu.capacity.value()},
                        {"usable_bytes", strategies::usable_memory(f.variant->plan).value()}});
  }
  out << nlohmann::ordered_json{{"key", key}, {"variants", variants}}.dump(2) << '\n';
}

void write_csv(const std::string& key, const std::vector<VariantFit>& fits, std::ostream& out) {
  out << "variant,key,value,peak_bytes,next_peak_bytes,capacity_bytes,usable_bytes\n";
  for (const VariantFit& f : fits) {
    out << fmt::format("{},{},{},{},{},{},{}\n", csv_field(f.variant->name), csv_field(key),
                       f.answer.value, f.answer.peak.value(), f.answer.next_peak.value(),
                       f.variant->plan.cluster.gpu.capacity.value(),
                       strategies::usable_memory(f.variant->plan).value());
  }
}

/// Bytes for people, in MiB (MB) below one GiB (GB): a fit's headroom is often small.
std::string format_headroom(sim::Bytes bytes, UnitSystem units) {
  const bool si = units == UnitSystem::kSi;
  const double unit = si ? 1e9 : 1024.0 * 1024.0 * 1024.0;
  if (static_cast<double>(bytes.value()) >= unit) return format_bytes(bytes, units);
  return fmt::format("{:.1f} {}", static_cast<double>(bytes.value()) / (unit / (si ? 1e3 : 1024.0)),
                     si ? "MB" : "MiB");
}

TextTable table(const std::string& key, const std::vector<VariantFit>& fits, UnitSystem units) {
  TextTable t({"variant", key, "peak at it", "free at it", "peak at one more", "usable memory"});
  for (const VariantFit& f : fits) {
    const bool none = f.answer.value == 0;
    const sim::Bytes capacity = strategies::usable_memory(f.variant->plan);
    t.add_row({f.variant->name, none ? "none fits" : std::to_string(f.answer.value),
               none ? "-" : format_bytes(f.answer.peak, units),
               none ? "-" : format_headroom(capacity - f.answer.peak, units),
               f.answer.next_peak.value() == 0 ? "invalid layout"
                                               : format_bytes(f.answer.next_peak, units),
               format_bytes(capacity, units)});
  }
  return t;
}

}  // namespace

int run_fit(const CommandOptions& options) {
  const scenarios::SweepKey& key = integer_key(options.maximize);
  for (const std::string& set : options.sets) {
    if (set.substr(0, set.find('=')) == options.maximize) {
      throw scenarios::InputError(
          {"--set " + set, 0, 0},
          fmt::format("fit searches {} itself; drop --set for it", options.maximize));
    }
  }
  const scenarios::Scenario scenario = load_for_command(options);
  const std::string only = options.variant.empty() ? "" : chosen_variant(scenario, options).name;
  strategies::FastEvaluator evaluator;
  std::vector<VariantFit> fits;
  for (const scenarios::Variant& variant : scenario.variants) {
    if (!only.empty() && variant.name != only) continue;
    FitAnswer answer = maximize(variant.plan, key, evaluator);
    if (answer.unbounded) {
      throw scenarios::InputError(
          {"--maximize " + options.maximize, 0, 0},
          fmt::format("variant '{}': {} fits with the same peak as {}; {} does not limit memory",
                      variant.name, answer.value, answer.value / 2, options.maximize));
    }
    fits.push_back({&variant, answer});
  }
  write_output(options.output, [&](std::ostream& out) {
    if (options.format == "json") {
      write_json(options.maximize, fits, out);
    } else if (options.format == "csv") {
      write_csv(options.maximize, fits, out);
    } else if (options.format == "markdown") {
      table(options.maximize, fits, options.unit_system()).render_markdown(out);
    } else {
      table(options.maximize, fits, options.unit_system())
          .render_fitted(out, output_width(options.output.empty()));
    }
  });
  return 0;
}

}  // namespace memsim::tools
