#include <charconv>
#include <cmath>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "evaluation/compiled_plan.h"
#include "scenarios/section_reader.h"
#include "tools/commands.h"
#include "tools/output_file.h"
#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

/// "0,3,8-11" → the listed ranks, each checked against the world size.
std::vector<int64_t> parse_ranks(const std::string& text, int64_t world) {
  const scenarios::Location where{"--ranks " + text, 0, 0};
  if (text.empty() || text == "all") {
    std::vector<int64_t> all(world);
    for (int64_t r = 0; r < world; ++r)
      all[r] = r;
    return all;
  }
  std::vector<int64_t> ranks;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    const size_t dash = item.find('-');
    const auto lo = scenarios::parse_integer(item.substr(0, dash));
    const auto hi =
        dash == std::string::npos ? lo : scenarios::parse_integer(item.substr(dash + 1));
    if (!lo || !hi || *lo < 0 || *hi < *lo || *hi >= world) {
      throw scenarios::InputError(
          where, fmt::format("'{}' is not a rank or range of ranks in 0–{}", item, world - 1));
    }
    for (int64_t r = *lo; r <= *hi; ++r)
      ranks.push_back(r);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

/// "layer", or a duration: a number of s, ms or us.
Resolution parse_resolution(const std::string& text) {
  if (text.empty()) return {};
  if (text == "layer") return {Resolution::Kind::kLayer, 0.0};
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  const std::string unit(ptr, end);
  const double scale = unit == "s" ? 1.0 : unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : 0.0;
  if (ec != std::errc() || scale == 0.0 || !std::isfinite(value) || value <= 0.0) {
    throw scenarios::InputError({"--resolution " + text, 0, 0},
                                "expected layer, or a duration such as 1ms, 50us or 0.5s");
  }
  return {Resolution::Kind::kTime, value * scale};
}

using TimelineWriter = void (*)(const TimelineSet&, std::ostream&);

const std::pair<const char*, TimelineWriter> kWriters[] = {
    {"csv", write_timeline_csv},
    {"chrome", write_timeline_chrome},
    {"svg", write_timeline_svg},
};

}  // namespace

int run_timeline(const CommandOptions& options) {
  const scenarios::Scenario scenario = load_for_command(options);
  const scenarios::Variant& variant = chosen_variant(scenario, options);
  if (options.variant.empty() && scenario.variants.size() > 1) {
    std::cerr << fmt::format(
        "timeline of variant '{}' (the scenario has {}; --variant NAME "
        "chooses another)\n",
        variant.name, scenario.variants.size());
  }
  const int64_t world = variant.plan.cluster.world_size();
  const std::string title = fmt::format("{}: {} ({} × {})", scenario.name, variant.name, world,
                                        variant.plan.cluster.gpu->name);
  const std::vector<int64_t> ranks = parse_ranks(options.ranks, world);
  // By default one track per class of identical ranks; named ranks (or all) one each.
  const TrackPerRank tracks = options.ranks.empty() ? TrackPerRank::kClass : TrackPerRank::kRank;
  std::optional<Progress> progress(std::in_place, "timeline", "ranks", ranks.size());
  TimelineSet set = build_timelines(variant.plan, ranks, title, tracks, &*progress);
  progress.reset();
  set.units = options.unit_system();
  set.style = options.style == "stacked" ? TimelineStyle::kStacked : TimelineStyle::kLines;
  set.resolution = parse_resolution(options.resolution);
  for (const auto& [format, writer] : kWriters) {
    if (options.format == format) {
      write_output(options.output, [&](std::ostream& out) { writer(set, out); });
    }
  }
  return 0;
}

}  // namespace memsim::tools
