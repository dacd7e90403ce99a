#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evaluation/evaluate.h"
#include "scenarios/scenario_keys.h"
#include "tools/commands.h"
#include "tools/csv.h"
#include "tools/fit_search.h"
#include "tools/output_file.h"
#include "tools/progress.h"
#include "tools/terminal.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

struct VariantFit {
  const scenarios::Variant* variant;
  FitAnswer answer;
};

const scenarios::ScenarioKey& integer_key(const std::string& name) {
  const scenarios::ScenarioKey* key = scenarios::find_sweep_key(name);
  if (key != nullptr && key->set_integer != nullptr) return *key;
  std::vector<std::string> names;
  for (const scenarios::ScenarioKey& k : scenarios::scenario_keys()) {
    if (k.set_integer != nullptr) names.emplace_back(k.key);
  }
  const std::string hint = scenarios::nearest_spelling(name, names);
  throw scenarios::InputError(
      {"--maximize " + name, 0, 0},
      fmt::format("'{}' is not an integer scenario key{}", name,
                  hint.empty() ? "; try training.micro_batch or training.seq_len"
                               : fmt::format("; did you mean '{}'?", hint)));
}

/// Why a variant's answer is 0: no valid value, or the smallest does not fit.
std::string why_none(const VariantFit& f, UnitSystem units) {
  const FitAnswer& a = f.answer;
  if (a.value > 0) return "";
  if (!a.smallest) return "no valid value: " + a.invalid;
  return fmt::format("its smallest valid value, {}, needs {} of {} usable", *a.smallest,
                     format_bytes(a.next_peak, units),
                     format_bytes(evaluation::usable_memory(f.variant->plan), units));
}

nlohmann::ordered_json or_null(const std::optional<int64_t>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

void write_json(const std::string& key, const std::vector<VariantFit>& fits, std::ostream& out) {
  nlohmann::ordered_json variants = nlohmann::ordered_json::array();
  for (const VariantFit& f : fits) {
    const FitAnswer& a = f.answer;
    variants.push_back(
        {{"name", f.variant->name},
         {"value", a.value},
         {"peak_bytes", a.peak.value()},
         {"microbatches", a.microbatches > 0 ? nlohmann::ordered_json(a.microbatches) : nullptr},
         {"next_value", or_null(a.next)},
         {"next_peak_bytes", a.next ? nlohmann::ordered_json(a.next_peak.value()) : nullptr},
         {"smallest_value", or_null(a.smallest)},
         {"why", a.value > 0 ? nlohmann::ordered_json(nullptr)
                             : nlohmann::ordered_json(why_none(f, UnitSystem::kBinary))},
         {"capacity_bytes", f.variant->plan.cluster.gpu->capacity.value()},
         {"usable_bytes", evaluation::usable_memory(f.variant->plan).value()}});
  }
  out << nlohmann::ordered_json{{"key", key}, {"variants", variants}}.dump(2) << '\n';
}

void write_csv(const std::string& key, const std::vector<VariantFit>& fits, std::ostream& out) {
  out << "variant,key,value,peak_bytes,microbatches,next_value,next_peak_bytes,capacity_bytes,"
         "usable_bytes\n";
  const auto cell = [](const std::optional<int64_t>& v) {
    return v ? std::to_string(*v) : std::string();
  };
  for (const VariantFit& f : fits) {
    const FitAnswer& a = f.answer;
    out << fmt::format(
        "{},{},{},{},{},{},{},{},{}\n", csv_field(f.variant->name), csv_field(key), a.value,
        a.peak.value(), cell(a.microbatches > 0 ? std::optional(a.microbatches) : std::nullopt),
        cell(a.next), cell(a.next ? std::optional(a.next_peak.value()) : std::nullopt),
        f.variant->plan.cluster.gpu->capacity.value(),
        evaluation::usable_memory(f.variant->plan).value());
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
  const bool steps = key == "training.micro_batch";
  std::vector<std::string> header = {"variant",    key,        "peak",  "free",
                                     "next valid", "its peak", "usable"};
  if (steps) header.insert(header.begin() + 2, "accum. steps");
  TextTable t(header);
  for (const VariantFit& f : fits) {
    const FitAnswer& a = f.answer;
    const bool none = a.value == 0;
    const sim::Bytes usable = evaluation::usable_memory(f.variant->plan);
    std::vector<std::string> row = {f.variant->name,
                                    none ? "none fits" : std::to_string(a.value),
                                    none ? "-" : format_bytes(a.peak, units),
                                    none ? "-" : format_headroom(usable - a.peak, units),
                                    a.next ? std::to_string(*a.next) : "none",
                                    a.next ? format_bytes(a.next_peak, units) : "-",
                                    format_bytes(usable, units)};
    if (steps) row.insert(row.begin() + 2, none ? "-" : std::to_string(a.microbatches));
    t.add_row(std::move(row));
  }
  return t;
}

void write_table(const CommandOptions& options, const std::vector<VariantFit>& fits,
                 std::ostream& out) {
  const UnitSystem units = options.unit_system();
  if (options.format == "markdown") {
    table(options.maximize, fits, units).render_markdown(out);
  } else {
    table(options.maximize, fits, units).render_fitted(out, output_width(options.output.empty()));
  }
  std::vector<std::string> notes;
  for (const VariantFit& f : fits) {
    if (f.answer.value == 0) notes.push_back(f.variant->name + ": " + why_none(f, units));
    if (f.answer.value > 0 && !f.answer.next) {
      notes.push_back(fmt::format("{}: every valid value fits; {} is the largest", f.variant->name,
                                  f.answer.value));
    }
  }
  if (options.maximize == "training.micro_batch") {
    notes.push_back(options.scale_global_batch
                        ? "--scale-global-batch: the global batch grows with micro_batch (the "
                          "microbatches per step stay)"
                        : "micro_batch divides the global batch, which stays; the accumulation "
                          "steps (microbatches per step) shrink");
  }
  for (const std::string& note : notes) {
    for (const std::string& line : wrap_words(note, output_width(options.output.empty())))
      out << line << '\n';
  }
}

}  // namespace

int run_fit(const CommandOptions& options) {
  const scenarios::ScenarioKey& key = integer_key(options.maximize);
  for (const std::string& set : options.sets) {
    if (set.substr(0, set.find('=')) == options.maximize) {
      throw scenarios::InputError(
          {"--set " + set, 0, 0},
          fmt::format("fit searches {} itself; drop --set for it", options.maximize));
    }
  }
  const scenarios::Scenario scenario = load_for_command(options);
  const std::string only = options.variant.empty() ? "" : chosen_variant(scenario, options).name;
  evaluation::FastEvaluator evaluator;
  std::vector<VariantFit> fits;
  std::optional<Progress> progress(std::in_place, "fit", "variants", scenario.variants.size());
  for (const scenarios::Variant& variant : scenario.variants) {
    progress->update(fits.size());
    if (!only.empty() && variant.name != only) continue;
    FitAnswer answer =
        maximize(variant.plan, key, evaluator,
                 options.scale_global_batch ? GlobalBatch::kScale : GlobalBatch::kKeep);
    if (answer.unbounded) {
      throw scenarios::InputError(
          {"--maximize " + options.maximize, 0, 0},
          fmt::format("variant '{}': {} = {} fits with the same peak as a smaller value; {} does "
                      "not limit memory",
                      variant.name, options.maximize, answer.value, options.maximize));
    }
    fits.push_back({&variant, answer});
  }
  progress.reset();
  write_output(options.output, [&](std::ostream& out) {
    if (options.format == "json") {
      write_json(options.maximize, fits, out);
    } else if (options.format == "csv") {
      write_csv(options.maximize, fits, out);
    } else {
      write_table(options, fits, out);
    }
  });
  const bool none_fits = std::any_of(fits.begin(), fits.end(),
                                     [](const VariantFit& f) { return f.answer.value == 0; });
  return options.fail_if_oom && none_fits ? 3 : 0;
}

}  // namespace memsim::tools
