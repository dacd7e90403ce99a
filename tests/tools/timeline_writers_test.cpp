#include "tools/timeline_writers.h"

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evaluation/evaluate.h"
#include "support/test_support.h"

namespace {

memsim::tools::TimelineSet pipeline_set(
    memsim::tools::TrackPerRank tracks = memsim::tools::TrackPerRank::kRank) {
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("llama3-8b"), 512);
  plan.model.layers = 8;
  plan.cluster.gpus_per_node = 8;
  plan.parallel.pp.stages = 4;
  plan.parallel.tp.degree = 2;
  plan.training.global_batch = 8;
  plan.training.chunk_passes.checkpointing = memsim::strategies::SelectiveCheckpointing{};
  static const memsim::evaluation::CompiledPlan compiled(plan);
  return memsim::tools::build_timelines(compiled, {0, 1, 2, 7}, "test \"pipeline\"", tracks);
}

}  // namespace

TEST_CASE("identical ranks share one simulated timeline") {
  const auto set = pipeline_set();
  CHECK(set.tracks.size() == 4);
  CHECK(set.programs.size() == 3);  // ranks 0 and 1 are TP peers of stage 0
  CHECK(set.tracks[0].program == set.tracks[1].program);
  CHECK(set.tracks[3].ranks.front().pp_stage == 3);
}

TEST_CASE("by default a class of identical ranks is one track, named by its ranks") {
  const auto set = pipeline_set(memsim::tools::TrackPerRank::kClass);
  REQUIRE(set.tracks.size() == 3);  // stage 0 (ranks 0 and 1, TP peers), stage 1, stage 3
  CHECK(set.tracks[0].ranks.size() == 2);
  std::ostringstream csv;
  memsim::tools::write_timeline_csv(set, csv);
  const std::string text = csv.str();
  CHECK(
      text.starts_with("rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes,ranks\n"));
  CHECK(text.find(",0-1\n") != std::string::npos);
  CHECK(text.find("\n1,") == std::string::npos);  // rank 1 is written as its class
  CHECK(text.find(",7\n") != std::string::npos);
  std::ostringstream chrome;
  memsim::tools::write_timeline_chrome(set, chrome);
  CHECK(chrome.str().find("\"ranks 0–1 (stage 0, 2 identical)\"") != std::string::npos);
  // The classes' rows are the per-rank timeline's rows of their first ranks.
  std::ostringstream every;
  memsim::tools::write_timeline_csv(pipeline_set(), every);
  const std::string every_rank = every.str();
  CHECK(std::count(text.begin(), text.end(), '\n') <
        std::count(every_rank.begin(), every_rank.end(), '\n'));
}

TEST_CASE("the Chrome trace is valid JSON with a process, slices and counters per rank") {
  const auto set = pipeline_set();
  std::ostringstream out;
  memsim::tools::write_timeline_chrome(set, out);
  const auto doc = nlohmann::json::parse(out.str());
  CHECK(doc["otherData"]["title"] == "test \"pipeline\"");
  std::map<int64_t, std::map<std::string, int>> kinds;
  std::map<int64_t, int64_t> counter_peak;
  for (const auto& e : doc["traceEvents"]) {
    const int64_t pid = e["pid"];
    if (e["ph"] == "M") ++kinds[pid][e["name"]];
    if (e["ph"] == "X") {
      ++kinds[pid][e["cat"]];
      CHECK(e["dur"].get<double>() > 0.0);
    }
    if (e["ph"] == "C") {
      int64_t total = 0;
      for (const auto& [category, bytes] : e["args"].items())
        total += bytes.get<int64_t>();
      counter_peak[pid] = std::max(counter_peak[pid], total);
    }
  }
  for (const auto& track : set.tracks) {
    const int64_t pid = track.ranks.front().rank;
    CAPTURE(pid);
    CHECK(kinds[pid]["process_name"] == 1);
    CHECK(kinds[pid]["forward"] == 8);  // one per microbatch
    CHECK(kinds[pid]["backward"] == 8);
    CHECK(kinds[pid]["optimizer"] == 1);
    CHECK(counter_peak[pid] == set.programs[track.program].result.peak.value());
  }
  CHECK(kinds[0]["idle"] > 0);  // the first stage waits for the pipeline to drain
}

TEST_CASE("the SVG has one curve per distinct timeline, the capacity and every peak") {
  const auto set = pipeline_set();
  std::ostringstream out;
  memsim::tools::write_timeline_svg(set, out);
  const std::string svg = out.str();
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("</svg>\n") == svg.size() - 7);
  size_t curves = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1)) {
    ++curves;
  }
  CHECK(curves == 3);
  CHECK(svg.find("capacity 80.0 GiB") != std::string::npos);
  CHECK(svg.find("ranks 0–1 (2 identical)") != std::string::npos);
  CHECK(svg.find("test &quot;pipeline&quot;") != std::string::npos);
  for (const auto& p : set.programs) {
    CHECK(svg.find(fmt::format("peak {:.1f} GiB", p.result.peak.gib())) != std::string::npos);
  }
}

TEST_CASE("memsim timeline writes each format, and checks --ranks") {
  const char* scenario = "scenarios/llama2-7b-finetune-1gpu.yaml";
  const auto chrome = memsim::testing::run_memsim({"timeline", scenario, "--format", "chrome"});
  CHECK(chrome.exit_code == 0);
  CHECK_NOTHROW(nlohmann::json::parse(chrome.out));
  const auto svg = memsim::testing::run_memsim({"timeline", scenario, "--format", "svg"});
  CHECK(svg.exit_code == 0);
  CHECK(svg.out.find("</svg>") != std::string::npos);
  const auto bad = memsim::testing::run_memsim({"timeline", scenario, "--ranks", "0-3"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("'0-3' is not a rank or range of ranks in 0–0") != std::string::npos);
}

TEST_CASE("an inference timeline walks the prefill and every decode step to the report's peak") {
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("llama3-8b"), 1);
  plan.mode = memsim::strategies::Mode::kInference;
  plan.model.layers = 4;
  plan.cluster.gpus_per_node = 2;
  plan.parallel.pp.stages = 2;
  plan.inference.batch = 3;
  plan.inference.prompt_len = 100;
  plan.inference.generate_len = 20;
  const memsim::evaluation::CompiledInference compiled(memsim::strategies::serving_plan(plan));
  const auto set = memsim::tools::build_timelines(compiled, {0, 1}, "serving");
  const auto report = memsim::evaluation::evaluate(plan);
  REQUIRE(set.programs.size() == 2);
  for (size_t stage = 0; stage < 2; ++stage) {
    const auto& program = set.programs[stage];
    CHECK(program.result.peak == report.ranks[stage].memory.peak);
    // Passes in order: the prefill (0), then decode steps 1–20; the cache only grows.
    int32_t last_pass = 0;
    int64_t cache = 0;
    for (const auto& event : program.timeline.events()) {
      if (event.microbatch == memsim::sim::kNoIndex) continue;
      CHECK(event.microbatch >= last_pass);
      last_pass = event.microbatch;
      if (event.category == memsim::sim::Category::kKvCache) {
        CHECK(event.delta.value() > 0);
        cache += event.delta.value();
      }
    }
    CHECK(last_pass == 20);
    CHECK(cache ==
          report.ranks[stage].memory.max_by_category[memsim::sim::Category::kKvCache].value());
  }
  std::ostringstream csv;
  memsim::tools::write_timeline_csv(set, csv);
  CHECK(csv.str().find("\n1,") != std::string::npos);
  // The plot marks the 90% a serving engine may use below the capacity.
  std::ostringstream svg;
  memsim::tools::write_timeline_svg(set, svg);
  CHECK(svg.str().find("usable when serving 72.0 GiB") != std::string::npos);
  std::ostringstream training;
  memsim::tools::write_timeline_svg(pipeline_set(), training);
  CHECK(training.str().find("usable when serving") == std::string::npos);
}

TEST_CASE(
    "the SVG stacks the fullest class by category, wraps long titles, and keeps the "
    "capacity label on top") {
  auto set = pipeline_set(memsim::tools::TrackPerRank::kClass);
  set.title = std::string(150, 'x') + " and " + std::string(20, 'y');  // longer than a line
  set.style = memsim::tools::TimelineStyle::kStacked;
  std::ostringstream out;
  memsim::tools::write_timeline_svg(set, out);
  const std::string svg = out.str();
  // One area a category that holds memory, in the fullest class.
  size_t fullest = 0;
  for (size_t g = 1; g < set.programs.size(); ++g) {
    if (set.programs[g].result.peak > set.programs[fullest].result.peak) fullest = g;
  }
  int categories = 0;
  for (auto c : memsim::sim::kAllCategories) {
    if (set.programs[fullest].result.max_by_category[c].value() > 0) ++categories;
  }
  size_t polygons = 0;
  for (size_t at = svg.find("<polygon"); at != std::string::npos; at = svg.find("<polygon", at + 1))
    ++polygons;
  CHECK(polygons == static_cast<size_t>(categories));
  CHECK(svg.find("weights: at most") != std::string::npos);
  // The title's two parts on lines of their own.
  CHECK(svg.find(">" + std::string(150, 'x') + "</text>") != std::string::npos);
  CHECK(svg.find(">and " + std::string(20, 'y') + "</text>") != std::string::npos);
  // The capacity is drawn after the areas, its label on a white ground.
  const size_t label = svg.find("capacity ");
  CHECK(label > svg.rfind("<polygon"));
  CHECK(svg.rfind("fill=\"white\" fill-opacity", label) != std::string::npos);
}

TEST_CASE("a coarser resolution writes fewer rows and keeps every class's peak exactly") {
  auto set = pipeline_set(memsim::tools::TrackPerRank::kClass);
  size_t previous_rows = std::numeric_limits<size_t>::max();
  const std::vector<memsim::tools::Resolution> resolutions = {
      {memsim::tools::Resolution::Kind::kEvent, 0.0},
      {memsim::tools::Resolution::Kind::kLayer, 0.0},
      {memsim::tools::Resolution::Kind::kTime, 0.05},
  };
  for (const auto& resolution : resolutions) {
    set.resolution = resolution;
    std::ostringstream out;
    memsim::tools::write_timeline_csv(set, out);
    std::istringstream csv(out.str());
    std::string line;
    std::getline(csv, line);
    std::map<int64_t, int64_t> live;  // by track (its first rank)
    std::map<int64_t, int64_t> peak;
    size_t rows = 0;
    while (std::getline(csv, line)) {
      std::vector<std::string> f;
      std::istringstream fields(line);
      for (std::string cell; std::getline(fields, cell, ',');)
        f.push_back(cell);
      REQUIRE(f.size() == 9);
      const int64_t rank = std::stoll(f[0]);
      live[rank] += std::stoll(f[6]);
      CHECK(live[rank] == std::stoll(f[7]));  // every row's total follows from its delta
      peak[rank] = std::max(peak[rank], live[rank]);
      ++rows;
    }
    for (const auto& track : set.tracks) {
      CHECK(peak[track.ranks.front().rank] == set.programs[track.program].result.peak.value());
    }
    CHECK(rows <= previous_rows);
    previous_rows = rows;
  }
  CHECK(previous_rows < 1000);
}

TEST_CASE("the Chrome trace names a split backward's input and weight steps I and W") {
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("llama3-8b"), 256);
  plan.model.layers = 4;
  plan.cluster.gpus_per_node = 2;
  plan.parallel.pp.stages = 2;
  plan.parallel.pp.schedule = "zero-bubble";
  plan.training.global_batch = 4;
  const memsim::evaluation::CompiledPlan compiled(plan);
  std::ostringstream out;
  memsim::tools::write_timeline_chrome(memsim::tools::build_timelines(compiled, {1}, "zb"), out);
  std::map<char, int> letters;
  const auto doc = nlohmann::json::parse(out.str());
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] != "idle") ++letters[e["name"].get<std::string>().front()];
  }
  // The last stage: each of 4 microbatches forward, input step, weight step.
  CHECK(letters['F'] == 4);
  CHECK(letters['I'] == 4);
  CHECK(letters['W'] == 4);
  CHECK(letters.count('B') == 0);
}
