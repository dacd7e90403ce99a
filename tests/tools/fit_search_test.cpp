// memsim fit: the value found fits and the next does not, by the full walk; edge cases;
// the command's JSON answer and its errors.

#include "tools/fit_search.h"

#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "evaluation/evaluate.h"
#include "scenarios/scenario.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::Plan;

const char* kScenario = R"(name: fit
model: {layers: 8, hidden: 1024, heads: 16, kv_heads: 4, ffn: 4096, vocab: 32000, ffn_type: swiglu}
hardware: {gpu: a100-40gb, gpus_per_node: 4, capacity: 6 GiB}
training: {seq_len: 1024, micro_batch: 1, global_batch: 32}
parallel: {tp: 2, pp: 2, dp: auto, zero: 1}
compare:
  - {name: checkpointed, checkpointing: full}
)";

memsim::scenarios::Scenario scenario() {
  return memsim::testing::scenario_from_text(kScenario, "fit.yaml");
}

const memsim::scenarios::ScenarioKey& key(const std::string& name) {
  const auto* found = memsim::scenarios::find_sweep_key(name);
  REQUIRE(found != nullptr);
  return *found;
}

/// Whether the full walk says `plan` with `name` at `value` fits.
bool walk_fits(const Plan& plan, const std::string& name, int64_t value) {
  const auto with = memsim::tools::plan_with(plan, key(name), value);
  return with && memsim::evaluation::evaluate(*with).fits;
}

}  // namespace

TEST_CASE("the largest micro_batch and seq_len that fit: it fits, the next valid value does not") {
  memsim::evaluation::FastEvaluator evaluator;
  for (const auto& variant : scenario().variants) {
    for (const std::string name : {"training.micro_batch", "training.seq_len"}) {
      CAPTURE(variant.name);
      CAPTURE(name);
      const auto answer = memsim::tools::maximize(variant.plan, key(name), evaluator);
      CHECK(answer.value > 1);
      CHECK(!answer.unbounded);
      REQUIRE(answer.next);
      CHECK(walk_fits(variant.plan, name, answer.value));
      CHECK_FALSE(walk_fits(variant.plan, name, *answer.next));
      // No valid value lies between the answer and the next.
      for (int64_t v = answer.value + 1; v < *answer.next; ++v)
        CHECK_FALSE(memsim::tools::plan_with(variant.plan, key(name), v));
      const auto at = memsim::tools::plan_with(variant.plan, key(name), answer.value);
      CHECK(answer.peak == memsim::evaluation::evaluate(*at).peak);
      CHECK(answer.next_peak > variant.plan.cluster.gpu->capacity);
    }
  }
}

TEST_CASE("fit keeps the global batch as it grows the micro-batch, unless told to scale it") {
  const auto plan = scenario().variants.front().plan;  // dp 1, global batch 32
  CHECK_FALSE(memsim::tools::plan_with(plan, key("training.micro_batch"), 3));  // 3 ∤ 32
  auto with = memsim::tools::plan_with(plan, key("training.micro_batch"), 4);
  REQUIRE(with);
  CHECK(with->training.global_batch == 32);
  CHECK(with->microbatches() == 8);  // the accumulation steps shrink
  with = memsim::tools::plan_with(plan, key("training.micro_batch"), 3,
                                  memsim::tools::GlobalBatch::kScale);
  REQUIRE(with);
  CHECK(with->training.global_batch == 96);
  CHECK(with->microbatches() == 32);
  memsim::evaluation::FastEvaluator evaluator;
  const auto answer = memsim::tools::maximize(plan, key("training.micro_batch"), evaluator);
  CHECK(32 % answer.value == 0);
  CHECK(answer.microbatches == 32 / answer.value);
}

TEST_CASE("fit searches only valid values: multiples of tp under sequence parallelism") {
  auto plan = scenario().variants.front().plan;  // tp 2
  plan.parallel.tp.sequence_parallel = true;
  memsim::evaluation::FastEvaluator evaluator;
  const auto answer = memsim::tools::maximize(plan, key("training.seq_len"), evaluator);
  CHECK(answer.smallest == 2);  // 1 is not a valid value: tp = 2 must divide it
  CHECK(answer.value % 2 == 0);
  REQUIRE(answer.next);
  CHECK(*answer.next == answer.value + 2);
  // And when nothing is valid, it says which rule fails.
  auto odd = plan;
  odd.parallel.tp.degree = 3;
  odd.cluster.gpus_per_node = 6;  // tp × pp = 6 GPUs: only the heads rule fails
  const auto none = memsim::tools::maximize(odd, key("training.seq_len"), evaluator);
  CHECK(none.value == 0);
  CHECK_FALSE(none.smallest);
  CHECK(none.invalid == "parallel.tp = 3 does not divide attention heads (16)");
}

TEST_CASE("fit answers 0 when nothing fits, and says when a key does not limit memory") {
  memsim::evaluation::FastEvaluator evaluator;
  auto plan = scenario().variants.front().plan;
  plan.cluster.gpu.edit().capacity = memsim::sim::Bytes(1 << 20);
  const auto none = memsim::tools::maximize(plan, key("training.micro_batch"), evaluator);
  CHECK(none.value == 0);
  CHECK(none.peak.value() == 0);
  CHECK(none.smallest == 1);
  CHECK(none.next == 1);
  CHECK(none.next_peak > plan.cluster.gpu->capacity);

  // The global batch adds microbatches; 1F1B keeps at most pp of them in flight.
  const auto plain = scenario().variants.front().plan;
  const auto unbounded = memsim::tools::maximize(plain, key("training.global_batch"), evaluator);
  CHECK(unbounded.unbounded);
}

TEST_CASE("memsim fit prints the SPEC's JSON, and rejects keys it cannot maximize") {
  const std::string path = memsim::testing::write_temp_file("fit/fit.yaml", kScenario);
  auto result = memsim::testing::run_memsim(
      {"fit", path, "--maximize", "training.micro_batch", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["key"] == "training.micro_batch");
  REQUIRE(json["variants"].size() == 2);
  CHECK(json["variants"][0]["name"] == "base");
  CHECK(json["variants"][1]["name"] == "checkpointed");
  CHECK(json["variants"][1]["value"].get<int64_t>() > json["variants"][0]["value"].get<int64_t>());
  CHECK(json["variants"][0]["peak_bytes"].get<int64_t>() <= 6LL << 30);

  result = memsim::testing::run_memsim({"fit", path, "--maximize", "parallel.schedule"});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("'parallel.schedule' is not an integer scenario key") != std::string::npos);
  result = memsim::testing::run_memsim({"fit", path, "--maximize", "training.micro_bach"});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("did you mean 'training.micro_batch'?") != std::string::npos);
  result = memsim::testing::run_memsim({"fit", path, "--maximize", "training.global_batch"});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("training.global_batch does not limit memory") != std::string::npos);
  result = memsim::testing::run_memsim(
      {"fit", path, "--maximize", "training.seq_len", "--set", "parallel.tp=3"});
  CHECK(result.exit_code == 2);  // not a valid scenario to begin with
  CHECK(memsim::testing::run_memsim({"fit", path}).exit_code == 2);  // --maximize is required
}

TEST_CASE("memsim fit finds the largest inference batch and prompt exactly") {
  const char* serving = R"(mode: inference
model: llama2-13b
hardware: {gpu: a100-40gb}
inference: {batch: 4, prompt_len: 1024, generate_len: 256, kv_block: 16}
)";
  const auto variant = memsim::testing::scenario_from_text(serving, "serve.yaml").variants.front();
  memsim::evaluation::FastEvaluator evaluator;
  const auto capacity = memsim::tools::inference_capacity(variant.plan, evaluator);
  for (const std::string name : {"inference.batch", "inference.prompt_len"}) {
    CAPTURE(name);
    const auto answer = memsim::tools::maximize(variant.plan, key(name), evaluator);
    CHECK(answer.value > 1);
    CHECK(answer.next == answer.value + 1);  // every value is valid
    CHECK(walk_fits(variant.plan, name, answer.value));
    CHECK_FALSE(walk_fits(variant.plan, name, answer.value + 1));
    // The report's capacity answers are the same search's.
    CHECK(answer.value ==
          (name == "inference.batch" ? capacity.max_batch : capacity.max_prompt_len));
    // A serving engine may use 90% of the GPU: that, not the capacity, is the limit.
    const auto usable = memsim::evaluation::usable_memory(variant.plan);
    CHECK(answer.peak <= usable);
    CHECK(answer.next_peak > usable);
    CHECK(answer.next_peak < variant.plan.cluster.gpu->capacity);
  }
  const std::string path = memsim::testing::write_temp_file("fit/serve.yaml", serving);
  const auto result = memsim::testing::run_memsim(
      {"fit", path, "--maximize", "inference.batch", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  const auto json = nlohmann::json::parse(result.out);
  CHECK(json["variants"][0]["value"].get<int64_t>() == capacity.max_batch);
}

TEST_CASE("the capacity answers are exact: one more does not fit") {
  Plan plan = memsim::testing::serving_plan("llama2-13b", 4, 1024, 256);
  plan.inference.kv_block = 16;
  memsim::evaluation::FastEvaluator evaluator;
  const auto capacity = memsim::tools::inference_capacity(plan, evaluator);
  REQUIRE(capacity.max_batch > 1);
  REQUIRE(capacity.max_prompt_len > 1);
  auto fits = [&](int64_t batch, int64_t prompt) {
    Plan probe = plan;
    probe.inference.batch = batch;
    probe.inference.prompt_len = prompt;
    return memsim::evaluation::evaluate(probe).fits;
  };
  CHECK(fits(capacity.max_batch, plan.inference.prompt_len));
  CHECK_FALSE(fits(capacity.max_batch + 1, plan.inference.prompt_len));
  CHECK(fits(plan.inference.batch, capacity.max_prompt_len));
  CHECK_FALSE(fits(plan.inference.batch, capacity.max_prompt_len + 1));
  // The serving engine's share decides: with all of the GPU usable, more fits.
  plan.inference.memory_utilization = 1.0;
  CHECK(memsim::tools::inference_capacity(plan, evaluator).max_batch > capacity.max_batch);
}

TEST_CASE("every shipped scenario: fit's answer runs and fits, the next valid value does not") {
  // As `memsim run SCENARIO --set KEY=VALUE --variant NAME` reads and walks it.
  const auto run_fits = [](const std::string& path, const std::string& variant,
                           const std::string& name, int64_t value) {
    const auto scenario =
        memsim::scenarios::load_scenario(path, {name + "=" + std::to_string(value)}, variant);
    return memsim::evaluation::evaluate(scenario.variants.front().plan).fits;
  };
  memsim::evaluation::FastEvaluator evaluator;
  for (const auto& entry :
       std::filesystem::directory_iterator(memsim::testing::source_path("scenarios"))) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string path = entry.path().string();
    for (const auto& variant : memsim::scenarios::load_scenario(path).variants) {
      const bool serving = variant.plan.mode == memsim::strategies::Mode::kInference;
      const std::vector<std::string> names =
          serving ? std::vector<std::string>{"inference.batch", "inference.prompt_len"}
                  : std::vector<std::string>{"training.micro_batch", "training.seq_len"};
      for (const std::string& name : names) {
        CAPTURE(path);
        CAPTURE(variant.name);
        CAPTURE(name);
        const auto answer = memsim::tools::maximize(variant.plan, key(name), evaluator);
        if (answer.value > 0) CHECK(run_fits(path, variant.name, name, answer.value));
        if (answer.next) CHECK_FALSE(run_fits(path, variant.name, name, *answer.next));
      }
    }
  }
}
