// memsim hardware --for: per GPU, the fewest GPUs that fit (checked against the full walk of
// every layout on half as many), and the prices multiplied out.

#include "tools/hardware_search.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "hardware/gpu_catalog.h"
#include "evaluation/evaluate.h"
#include "strategies/layout.h"
#include "support/test_support.h"

namespace {

const char* kTraining = R"(model: llama2-7b
hardware: {gpu: a100-80gb}
training: {seq_len: 1024, micro_batch: 1, global_batch: 16}
parallel: {zero: 1}
)";

const char* kServing = R"(mode: inference
model: llama2-13b
hardware: {gpu: a100-80gb}
inference: {batch: 16, prompt_len: 2048, generate_len: 256}
)";

/// Whether any tp × pp × dp split of `gpus` GPUs fits, by the full walk.
bool any_layout_fits(const memsim::strategies::Plan& scenario,
                     const memsim::hardware::GpuProfile& gpu, int64_t gpus) {
  for (int64_t tp = 1; tp <= std::min<int64_t>(gpus, 8); tp *= 2) {
    for (int64_t pp = 1; tp * pp <= gpus; pp *= 2) {
      auto plan = scenario;
      plan.cluster.gpu = gpu;
      plan.cluster.gpus_per_node = std::min<int64_t>(gpus, 8);
      plan.cluster.nodes = gpus / plan.cluster.gpus_per_node;
      plan.parallel.tp.degree = tp;
      plan.parallel.pp.stages = pp;
      plan.parallel.dp.degree = gpus / (tp * pp);
      if (scenario.mode == memsim::strategies::Mode::kInference && tp * pp != gpus) continue;
      if (memsim::strategies::layout_errors(memsim::strategies::resolve_layout(plan)).any()) {
        continue;
      }
      if (memsim::evaluation::evaluate(plan).fits) return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("each GPU gets the fewest that fit: they fit, half as many do not") {
  for (const char* text : {kTraining, kServing}) {
    const auto scenario = memsim::testing::scenario_from_text(text, "for.yaml").variants[0].plan;
    memsim::evaluation::FastEvaluator evaluator;
    const auto options =
        memsim::tools::hardware_options(scenario, memsim::hardware::gpus(), evaluator);
    REQUIRE(options.size() == memsim::hardware::gpus().size());
    bool several = false;
    for (const auto& option : options) {
      CAPTURE(option.gpu.name);
      REQUIRE(option.plan);
      const auto report = memsim::evaluation::evaluate(*option.plan);
      CHECK(report.fits);
      CHECK(report.peak == option.result.peak);
      CHECK(option.plan->mode == scenario.mode);
      if (option.gpus() > 1) {
        several = true;
        CHECK_FALSE(any_layout_fits(scenario, option.gpu, option.gpus() / 2));
      }
    }
    CHECK(several);  // the 24 GB cards need more than one at least
  }
}

TEST_CASE("memsim hardware --for prices the GPUs it found") {
  const std::string path = memsim::testing::write_temp_file("for/train.yaml", kTraining);
  const auto listed = memsim::testing::run_memsim({"hardware", "--format", "json"});
  REQUIRE(listed.exit_code == 0);
  const auto profiles = nlohmann::json::parse(listed.out);
  const auto result = memsim::testing::run_memsim(
      {"hardware", "--for", path, "--tokens", "2e9", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  const auto rows = nlohmann::json::parse(result.out);
  REQUIRE(rows.size() == profiles.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const auto& gpu = profiles[i];
    CAPTURE(gpu["name"]);
    REQUIRE(row["fits"] == true);
    CHECK(row["gpu"] == gpu["name"]);
    const double gpus = row["gpus"].get<double>();
    CHECK(row["tp"].get<double>() * row["pp"].get<double>() * row["dp"].get<double>() == gpus);
    CHECK(row["run_s"].get<double>() == doctest::Approx(2e9 / row["tokens_per_s"].get<double>()));
    if (gpu["cloud_usd_per_hour"].is_null()) {
      CHECK(row["usd_per_hour"].is_null());
      continue;
    }
    const double hourly = gpus * gpu["cloud_usd_per_hour"].get<double>();
    CHECK(row["usd_per_hour"].get<double>() == doctest::Approx(hourly));
    CHECK(row["run_usd"].get<double>() ==
          doctest::Approx(hourly * row["run_s"].get<double>() / 3600.0));
  }
  const auto missing = memsim::testing::run_memsim({"hardware", "--for", "no/such.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("no/such.yaml") != std::string::npos);
  CHECK(memsim::testing::run_memsim({"hardware", "--for", path, "--tokens", "-3"}).exit_code == 2);
}
