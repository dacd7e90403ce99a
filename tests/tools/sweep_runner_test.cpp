// Running sweeps: rows equal to the full walk of each point, in grid order whatever the
// threads, the best N ranked, complete rows after a stop, and the memsim sweep command
// (Ctrl-C included).

#include "tools/sweep_runner.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "evaluation/evaluate.h"
#include "evaluation/fast_evaluator.h"
#include "support/test_support.h"

namespace {

using memsim::scenarios::VariantSweep;
using memsim::tools::SweepFormat;
using memsim::tools::SweepOptions;

const char* kScenario = R"(name: sweep
model: {layers: 4, hidden: 512, heads: 8, kv_heads: 2, ffn: 1536, vocab: 1024}
hardware: {gpu: a100-40gb, gpus_per_node: 8, capacity: 5 GiB}
training: {seq_len: 2048, micro_batch: 1, global_batch: 64}
parallel: {dp: auto, schedule: 1f1b}
compare:
  - {name: gpipe, parallel: {schedule: gpipe}}
where:
  - parallel.tp * parallel.pp <= 8
sweep:
  parallel.tp: [1, 3, 2, 4]
  parallel.pp: [1, 2, 4]
  parallel.zero: [0, 3]
  training.micro_batch: [1, 4, 16]
  checkpointing: [none, full]
)";

std::string run(const std::vector<VariantSweep>& sweeps, SweepOptions options,
                memsim::tools::SweepSummary* summary = nullptr) {
  std::ostringstream out;
  const std::atomic<bool> never{false};
  const auto s = memsim::tools::run_sweep(sweeps, options, out, never);
  if (summary != nullptr) *summary = s;
  return out.str();
}

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');)
      fields.push_back(cell);
    rows.push_back(fields);
  }
  return rows;
}

}  // namespace

TEST_CASE("every valid point is a row equal to the walk of its plan, in grid order") {
  const auto sweeps = memsim::testing::sweeps_from_text(kScenario);
  SweepOptions options;
  options.threads = 3;
  memsim::tools::SweepSummary summary;
  const auto rows = csv_rows(run(sweeps, options, &summary));
  REQUIRE(!rows.empty());
  CHECK(rows[0] == std::vector<std::string>{
                       "variant", "parallel.tp", "parallel.pp", "parallel.zero",
                       "training.micro_batch", "checkpointing", "fits", "peak_bytes", "step_time_s",
                       "bubble_fraction", "tokens_per_s", "mfu", "cpu_bytes_per_node"});
  // 2 variants × 4 × 3 × 2 × 3 × 2 points. Skipped: tp 3 (divides neither the 8 GPUs nor
  // 8 heads): 36 per variant; tp 4 with pp 4 (tp·pp = 16 > 8 GPUs, checked before where:):
  // 12; where: tp·pp ≤ 8 leaves tp 2 pp 4 and everything else; micro_batch 16 with dp ≥ 8
  // does not divide 64: tp 1 pp 1 (dp 8): 4 points.
  CHECK(summary.points == 2 * 144);
  CHECK(summary.evaluated == rows.size() - 1);
  CHECK(summary.skipped.at("tp × pp does not divide the GPUs") == 2 * (36 + 12));
  CHECK(summary.skipped.at("global batch not divisible by micro_batch × dp") == 2 * 4);
  CHECK(summary.evaluated + 2 * (36 + 12 + 4) == summary.points);
  CHECK(!summary.interrupted);

  // Each row is the walk's answer for its point; rows come in grid order.
  auto plan = sweeps[0].sweep.base();
  size_t row = 1;
  for (const VariantSweep& v : sweeps) {
    plan = v.sweep.base();
    for (uint64_t i = 0; i < v.sweep.points(); ++i) {
      if (!v.sweep.prepare(i, plan).empty()) continue;
      REQUIRE(row < rows.size());
      const auto& cells = rows[row++];
      CAPTURE(i);
      CHECK(cells[0] == v.name);
      CHECK(cells[1] == std::to_string(plan.parallel.tp.degree));
      CHECK(cells[2] == std::to_string(plan.parallel.pp.stages));
      const auto walked = memsim::evaluation::evaluate(plan);
      CHECK(cells[6] == (walked.fits ? "true" : "false"));
      CHECK(cells[7] == std::to_string(walked.peak.value()));
      CHECK(std::stod(cells[8]) == doctest::Approx(walked.step_time_s).epsilon(1e-5));
    }
  }
  CHECK(row == rows.size());
}

TEST_CASE("points that change only the global batch reuse the stages of the last one evaluated") {
  // The global batch innermost, and its first value (3) never divisible by micro_batch × dp:
  // each sequence length starts with a skipped point, after which the next point changes
  // only the global batch from the skipped one, not from the last one evaluated.
  const auto sweeps = memsim::testing::sweeps_from_text(R"(name: batch
model: {layers: 4, hidden: 512, heads: 8, kv_heads: 2, ffn: 1536, vocab: 1024}
hardware: {gpu: a100-40gb, gpus_per_node: 8}
training: {seq_len: 2048, micro_batch: 1, global_batch: 64}
parallel: {dp: auto, pp: 2, schedule: 1f1b}
sweep:
  training.seq_len: [512, 1024, 2048]
  parallel.zero: [0, 3]
  training.global_batch: [3, 8, 16, 32]
)");
  const memsim::scenarios::Sweep& sweep = sweeps[0].sweep;
  for (const int threads : {1, 2}) {
    CAPTURE(threads);
    SweepOptions options;
    options.threads = threads;
    const auto rows = csv_rows(run(sweeps, options));
    // Each row as a fresh evaluator prices its point alone.
    auto plan = sweep.base();
    size_t row = 1;
    for (uint64_t i = 0; i < sweep.points(); ++i) {
      if (!sweep.prepare(i, plan).empty()) continue;
      CAPTURE(i);
      REQUIRE(row < rows.size());
      memsim::evaluation::FastEvaluator alone;
      const auto result = alone.evaluate(plan, memsim::evaluation::StagePeaks::kLargestOnly);
      CHECK(rows[row][4] == std::to_string(result.peak.value()));
      CHECK(std::stod(rows[row][5]) == result.step_time_s);
      ++row;
    }
    CHECK(row == rows.size());
    CHECK(rows.size() == 1 + 3 * 2 * 3);
  }
}

TEST_CASE("rows are the same to the byte on one thread or many, over long pipelines") {
  // Many microbatch counts of deep, uneven pipelines over several chunks of points: the
  // threads meet each family of schedule orders in their own order, and timings moved
  // between a family's orders agree with timing them only to rounding.
  const auto sweeps = memsim::testing::sweeps_from_text(R"(name: families
model: {layers: 22, hidden: 256, heads: 4, kv_heads: 4, ffn: 512, vocab: 512}
hardware: {gpu: a100-40gb, gpus_per_node: 8, nodes: 2}
training: {seq_len: 256, micro_batch: 1, global_batch: 64}
parallel: {dp: auto, schedule: 1f1b}
sweep:
  parallel.pp: [4, 8, 16]
  parallel.zero: [0, 1, 3]
  checkpointing: [none, full]
  training.micro_batch: [1, 2]
  training.seq_len: [128, 256, 512]
  training.global_batch: [16, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768,
                          1024, 1280, 1536, 2048, 2560, 3072, 4096, 5120, 6144, 8192]
)");
  SweepOptions one;
  one.threads = 1;
  SweepOptions many;
  many.threads = 3;
  memsim::tools::SweepSummary summary;
  const std::string csv = run(sweeps, one, &summary);
  CHECK(summary.points > 2048);  // more than a chunk of points: the threads share them
  CHECK(run(sweeps, many) == csv);
}

TEST_CASE("the output is the same on one thread or many, and in JSON Lines") {
  const auto sweeps = memsim::testing::sweeps_from_text(kScenario);
  SweepOptions one;
  one.threads = 1;
  SweepOptions many;
  many.threads = 8;
  const std::string csv = run(sweeps, one);
  CHECK(run(sweeps, many) == csv);

  many.format = SweepFormat::kJsonLines;
  const auto rows = csv_rows(csv);
  std::istringstream lines(run(sweeps, many));
  size_t n = 1;
  for (std::string line; std::getline(lines, line); ++n) {
    const auto json = nlohmann::json::parse(line);
    REQUIRE(n < rows.size());
    CHECK(json["variant"] == rows[n][0]);
    CHECK(json["parallel.tp"] == std::stoi(rows[n][1]));
    CHECK(json["checkpointing"] == rows[n][5]);
    CHECK(json["peak_bytes"] == std::stoll(rows[n][7]));
  }
  CHECK(n == rows.size());
}

TEST_CASE("--top N keeps the best N: fits first, then step time, then peak") {
  const auto sweeps = memsim::testing::sweeps_from_text(kScenario);
  SweepOptions all;
  auto rows = csv_rows(run(sweeps, all));
  std::vector<std::vector<std::string>> expected(rows.begin() + 1, rows.end());
  std::stable_sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
    if (a[6] != b[6]) return a[6] == "true";
    if (std::stod(a[8]) != std::stod(b[8])) return std::stod(a[8]) < std::stod(b[8]);
    return std::stoll(a[7]) < std::stoll(b[7]);
  });
  SweepOptions top;
  top.top = 7;
  top.threads = 4;
  const auto best = csv_rows(run(sweeps, top));
  REQUIRE(best.size() == 8);
  CHECK(best[0] == rows[0]);
  for (size_t i = 1; i < best.size(); ++i) {
    CAPTURE(i);
    CHECK(best[i][6] == expected[i - 1][6]);
    CHECK(best[i][8] == expected[i - 1][8]);
    CHECK(best[i][7] == expected[i - 1][7]);
  }
  // Some fit and some do not: the ranking is exercised.
  CHECK(expected.front()[6] == "true");
  CHECK(expected.back()[6] == "false");
}

TEST_CASE("a stopped sweep writes only whole rows, a prefix of the full output") {
  const auto sweeps =
      memsim::testing::sweeps_from_text(std::string(kScenario) +
                                        "  training.seq_len: [512, 1024, 2048, 4096]\n"
                                        "  precision: [bf16-mixed, fp32]\n");
  // One thread evaluates and writes in turn; more hand chunks to a writer.
  for (const int threads : {1, 2}) {
    CAPTURE(threads);
    SweepOptions options;
    options.threads = threads;
    const std::string full = run(sweeps, options);
    std::atomic<bool> stop{false};
    std::ostringstream out;
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      stop = true;
    });
    const auto summary = memsim::tools::run_sweep(sweeps, options, out, stop);
    stopper.join();
    const std::string partial = out.str();
    CHECK(full.compare(0, partial.size(), partial) == 0);
    CHECK((partial.empty() || partial.back() == '\n'));
    CHECK(summary.points <= sweeps[0].sweep.points() * 2);
    if (summary.interrupted) CHECK(partial.size() < full.size());
  }
}

namespace {

/// Interrupts `memsim sweep` on `threads` threads once rows are written: exit 130 and a
/// valid CSV of whole rows.
void check_interrupted_sweep(const std::string& threads) {
  CAPTURE(threads);
  // A grid far too large to finish on a small model.
  const std::string scenario = memsim::testing::long_sweep_scenario("interrupt-" + threads);
  const std::string csv = (std::filesystem::path(scenario).parent_path() / "rows.csv").string();
  const pid_t pid =
      memsim::testing::spawn_memsim({"sweep", scenario, "-o", csv, "--threads", threads});
  // Wait for rows in the temporary file beside the target, then interrupt.
  const std::string temp = memsim::testing::wait_for_temporary_file(csv, 10000);
  REQUIRE(!temp.empty());
  ::kill(pid, SIGINT);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(!std::filesystem::exists(temp));

  std::ifstream in(csv);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const auto rows = csv_rows(text);
  REQUIRE(rows.size() > 1);
  CHECK(rows[0].front() == "parallel.tp");
  for (const auto& row : rows)
    CHECK(row.size() == rows[0].size());
  CHECK(rows.size() < 1'000'000);
}

}  // namespace

TEST_CASE("memsim sweep: Ctrl-C leaves a valid CSV of whole rows and exits 130") {
  check_interrupted_sweep("1");  // the one thread evaluates and writes
  check_interrupted_sweep("2");  // workers hand chunks to the writing thread
}

TEST_CASE("memsim sweep prints a ranked table and counts skipped points on stderr") {
  const std::string scenario = memsim::testing::write_temp_file("table/s.yaml", kScenario);
  // Wide enough for every column: the header and the three best rows.
  auto result = memsim::testing::run_shell("COLUMNS=200 \"$MEMSIM\" sweep " + scenario +
                                           " --format table --top 3");
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("variant  parallel.tp  parallel.pp") == 0);
  CHECK(std::count(result.out.begin(), result.out.end(), '\n') == 4);
  // 100 characters: what every row shares is said once, above the table.
  result = memsim::testing::run_memsim({"sweep", scenario, "--format", "table", "--top", "3"});
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("every row: parallel.tp 1, parallel.pp 1, checkpointing none") == 0);
  CHECK(result.out.find("\nvariant  parallel.zero  training.micro_batch") != std::string::npos);
  CHECK(result.err.find("288 points") != std::string::npos);
  CHECK(result.err.find("tp × pp does not divide the GPUs") != std::string::npos);

  const std::string plain = memsim::testing::write_temp_file(
      "table/none.yaml", "model: gpt2-124m\nhardware: {gpu: a100-80gb}\ntraining: {seq_len: 64}\n");
  result = memsim::testing::run_memsim({"sweep", plain});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("none.yaml:1:1: error: the scenario has no sweep:") != std::string::npos);
}
