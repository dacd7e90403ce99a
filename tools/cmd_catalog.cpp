#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hardware/gpu_catalog.h"
#include "scenarios/model_presets.h"
#include "sim/layer_graph.h"
#include "tools/commands.h"
#include "tools/csv.h"
#include "tools/hardware_search.h"
#include "tools/output_file.h"
#include "tools/terminal.h"
#include "tools/text_table.h"

namespace memsim::tools {

namespace {

/// Writes `table` in the chosen format; JSON is built from the same cells by header.
void write_catalog(const CommandOptions& options, const std::vector<std::string>& header,
                   const std::vector<std::vector<std::string>>& rows,
                   const nlohmann::ordered_json& json) {
  write_output(options.output, [&](std::ostream& out) {
    if (options.format == "json") {
      out << json.dump(2) << '\n';
      return;
    }
    if (options.format == "csv") {
      // Descriptions and names come from user files, so fields are quoted where needed.
      for (size_t i = 0; i < header.size(); ++i)
        out << (i ? "," : "") << csv_field(header[i]);
      out << '\n';
      for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i)
          out << (i ? "," : "") << csv_field(row[i]);
        out << '\n';
      }
      return;
    }
    TextTable table(header);
    for (const auto& row : rows)
      table.add_row(row);
    if (options.format == "markdown") {
      table.render_markdown(out);
    } else {
      table.render_fitted(out, output_width(options.output.empty()));
    }
  });
}

}  // namespace

int run_models(const CommandOptions& options) {
  // Aliases: under the name for people, a column of their own in CSV.
  const bool csv = options.format == "csv";
  std::vector<std::string> header = {"name",     "layers", "hidden", "heads",
                                     "kv_heads", "ffn",    "vocab",  "parameters"};
  if (csv) header.emplace_back("aliases");
  std::vector<std::vector<std::string>> rows;
  nlohmann::ordered_json json = nlohmann::ordered_json::array();
  for (const scenarios::ModelPreset& preset : scenarios::model_presets()) {
    const sim::ModelSpec& m = preset.spec;
    const int64_t parameters = sim::LayerGraph(m).parameter_count();
    std::string name = preset.name;
    std::string aliases;
    for (const std::string& alias : preset.aliases) {
      name += "\n(" + alias + ")";
      aliases += (aliases.empty() ? "" : " ") + alias;
    }
    rows.push_back({csv ? preset.name : name, std::to_string(m.layers), std::to_string(m.hidden),
                    std::to_string(m.heads), std::to_string(m.kv_heads), std::to_string(m.ffn),
                    std::to_string(m.vocab), std::to_string(parameters)});
    if (csv) rows.back().push_back(aliases);
    json.push_back({{"name", preset.name},
                    {"aliases", preset.aliases},
                    {"description", preset.description},
                    {"layers", m.layers},
                    {"hidden", m.hidden},
                    {"heads", m.heads},
                    {"kv_heads", m.kv_heads},
                    {"head_dim", m.effective_head_dim()},
                    {"ffn", m.ffn},
                    {"ffn_type", sim::to_string(m.ffn_type)},
                    {"vocab", m.vocab},
                    {"tied_embeddings", m.tied_embeddings},
                    {"norm", sim::to_string(m.norm)},
                    {"positions", sim::to_string(m.positions)},
                    {"parameters", parameters}});
  }
  write_catalog(options, header, rows, json);
  return 0;
}

namespace {

std::string usd_or_dash(double usd) {
  return usd > 0.0 ? format_usd(usd) : "-";
}

std::string duration(double seconds) {
  if (seconds <= 0.0) return "-";
  if (seconds < 3600.0) return fmt::format("{:.1f} min", seconds / 60.0);
  if (seconds < 86400.0 * 3) return fmt::format("{:.1f} h", seconds / 3600.0);
  return fmt::format("{:.1f} days", seconds / 86400.0);
}

/// For each GPU profile, the fewest that fit the scenario's variant, and their cost.
int run_hardware_for(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  const scenarios::Variant& variant = chosen_variant(scenario, options);
  const bool serving = variant.plan.mode == strategies::Mode::kInference;
  evaluation::FastEvaluator evaluator;
  std::optional<Progress> progress(std::in_place, "hardware --for", "GPU profiles",
                                   hardware::gpus().size());
  const auto found = hardware_options(variant.plan, hardware::gpus(), evaluator, &*progress);
  progress.reset();

  const std::string run =
      format_count(static_cast<int64_t>(std::llround(options.tokens_or_default()))) + " tokens";
  const std::vector<std::string> header = {
      "gpu",
      "GPUs",
      "layout",
      "peak per GPU",
      "usable",
      "rent per hour",
      "buy",
      serving ? "time to serve " + run : "time to train " + run,
      "cost of the run"};
  const UnitSystem units = options.unit_system();
  const std::string unknown = options.format == "csv" ? "" : "-";
  std::vector<std::vector<std::string>> rows;
  nlohmann::ordered_json json = nlohmann::ordered_json::array();
  for (const HardwareOption& o : found) {
    const auto& plan = o.plan;
    const double seconds = o.seconds_for(options.tokens_or_default());
    const double rent = o.usd_per_hour();
    const double run_cost = rent * seconds / 3600.0;
    const double buy = static_cast<double>(o.gpus()) * o.gpu.purchase_usd;
    auto cell = [&](const std::string& text) { return text == "-" ? unknown : text; };
    if (!plan) {
      rows.push_back({o.gpu.name, fmt::format("> {}", kMostGpusTried), unknown, unknown, unknown,
                      unknown, unknown, unknown, unknown});
    } else {
      const auto& p = plan->parallel;
      rows.push_back({o.gpu.name, std::to_string(o.gpus()),
                      fmt::format("tp {} · pp {} · dp {}", p.tp.degree, p.pp.stages, p.dp.degree),
                      format_bytes(o.result.peak, units), format_bytes(o.limit, units),
                      cell(usd_or_dash(rent)), cell(usd_or_dash(buy)), cell(duration(seconds)),
                      cell(usd_or_dash(run_cost))});
    }
    auto price = [](double usd) { return usd > 0 ? nlohmann::ordered_json(usd) : nullptr; };
    nlohmann::ordered_json entry = {{"gpu", o.gpu.name}, {"fits", plan.has_value()}};
    if (plan) {
      entry.update({{"gpus", o.gpus()},
                    {"tp", plan->parallel.tp.degree},
                    {"pp", plan->parallel.pp.stages},
                    {"dp", plan->parallel.dp.degree},
                    {"peak_bytes", o.result.peak.value()},
                    {"usable_bytes", o.limit.value()},
                    {"step_time_s", o.result.step_time_s},
                    {"tokens_per_s", o.result.tokens_per_s},
                    {"usd_per_hour", price(rent)},
                    {"purchase_usd", price(buy)},
                    {"run_tokens", options.tokens_or_default()},
                    {"run_s", seconds > 0 ? nlohmann::ordered_json(seconds) : nullptr},
                    {"run_usd", price(run_cost)}});
    }
    json.push_back(std::move(entry));
  }
  write_catalog(options, header, rows, json);
  const bool any_fits = std::any_of(found.begin(), found.end(),
                                    [](const HardwareOption& o) { return o.plan.has_value(); });
  return options.fail_if_oom && !any_fits ? 3 : 0;
}

}  // namespace

int run_hardware(const CommandOptions& options) {
  if (!options.scenario.empty()) return run_hardware_for(options);
  if (!options.sets.empty() || !options.variant.empty() || options.tokens || options.fail_if_oom) {
    throw scenarios::InputError({"memsim hardware", 0, 0},
                                "--set, --variant, --tokens and --fail-if-oom need --for SCENARIO");
  }
  const bool people = options.format == "table" || options.format == "markdown";
  const std::vector<std::string> header = {"name",         people ? "memory" : "memory_MiB",
                                           "bf16_TFLOP/s", "HBM_GB/s",
                                           "buy_USD",      "cloud_USD/h",
                                           "description"};
  // A price of 0 is unknown: an empty CSV field, "-" for people, null in JSON.
  const std::string unknown = options.format == "csv" ? "" : "-";
  const auto price_cell = [&](double usd) { return usd > 0 ? fmt::format("{}", usd) : unknown; };
  const auto price_json = [](double usd) {
    return usd > 0 ? nlohmann::ordered_json(usd) : nullptr;
  };
  std::vector<std::vector<std::string>> rows;
  nlohmann::ordered_json json = nlohmann::ordered_json::array();
  for (const hardware::GpuProfile& gpu : hardware::gpus()) {
    rows.push_back({gpu.name,
                    people ? format_bytes(gpu.capacity, options.unit_system())
                           : std::to_string(gpu.capacity.value() / sim::kMiB.value()),
                    fmt::format("{:g}", gpu.peak_16bit_flop_per_s / 1e12),
                    fmt::format("{:g}", gpu.memory_bandwidth_bytes_per_s / 1e9),
                    price_cell(gpu.purchase_usd), price_cell(gpu.cloud_usd_per_hour),
                    gpu.description});
    json.push_back({{"name", gpu.name},
                    {"description", gpu.description},
                    {"capacity_bytes", gpu.capacity.value()},
                    {"peak_16bit_flop_per_s", gpu.peak_16bit_flop_per_s},
                    {"memory_bandwidth_bytes_per_s", gpu.memory_bandwidth_bytes_per_s},
                    {"intra_node_bytes_per_s", gpu.intra_node_bytes_per_s},
                    {"inter_node_bytes_per_s", gpu.inter_node_bytes_per_s},
                    {"host_link_bytes_per_s", gpu.host_link_bytes_per_s},
                    {"cpu_memory_per_node_bytes", gpu.cpu_memory_per_node.value()},
                    {"purchase_usd", price_json(gpu.purchase_usd)},
                    {"cloud_usd_per_hour", price_json(gpu.cloud_usd_per_hour)},
                    {"source", gpu.source}});
  }
  write_catalog(options, header, rows, json);
  return 0;
}

}  // namespace memsim::tools
