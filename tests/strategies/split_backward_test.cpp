// The split backward's checks: what memsim does not model with a zero-bubble schedule, and
// what PyTorch refuses, is an error at the schedule.

#include <string>

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

const char* kBase = R"(name: zero bubble
model: {layers: 4, hidden: 256, heads: 4, ffn: 512, vocab: 512}
)";

/// The scenario with `training` settings added to a zero-bubble pipeline of 2 stages, each
/// on `dp` GPUs.
std::string zero_bubble(const std::string& training, int dp = 1, const std::string& zero = "0",
                        const std::string& extra = "") {
  return std::string(kBase) +
         "hardware: {gpu: a100-80gb, gpus_per_node: " + std::to_string(2 * dp) + "}\n" +
         "training: {seq_len: 128, global_batch: " + std::to_string(4 * dp) + training + "}\n" +
         "parallel: {pp: 2, schedule: zero-bubble, dp: " + std::to_string(dp) + ", zero: " + zero +
         "}\n" + extra;
}

std::vector<memsim::scenarios::Diagnostic> errors_of(const std::string& text) {
  return memsim::testing::diagnostics_of(
      [&] { memsim::testing::scenario_from_text(text, "zb.yaml"); });
}

}  // namespace

TEST_CASE("zero-bubble runs alone, and refuses what it is not modelled with") {
  const auto plan =
      memsim::testing::scenario_from_text(zero_bubble(""), "zb.yaml").variants.front().plan;
  CHECK(plan.parallel.pp.schedule == "zero-bubble");
  CHECK(memsim::testing::has_diagnostic(errors_of(zero_bubble("", 1, "0", "checkpointing: full\n")),
                                        5, 29, "recomputes a region in both"));
  CHECK(memsim::testing::has_diagnostic(errors_of(zero_bubble(", activation_offload: all")), 5, 29,
                                        "two steps"));
  CHECK(memsim::testing::has_diagnostic(errors_of(zero_bubble(", compile: [layers]")), 5, 29,
                                        "_check_torch_compile_compatibility"));
  CHECK(memsim::testing::has_diagnostic(errors_of(zero_bubble("", 2, "2")), 5, 29,
                                        "unshards a whole stage"));
  // ZeRO-1 shards only the optimizer's states: modelled.
  const auto zero_1 = memsim::testing::scenario_from_text(zero_bubble("", 2, "1"), "zb.yaml");
  CHECK(zero_1.variants.front().plan.parallel.dp.zero == 1);
}

TEST_CASE("the V-shaped schedules run two chunks a stage; DualPipeV a microbatch for each") {
  const std::string v_base = std::string(kBase) +
                             "hardware: {gpu: a100-80gb, gpus_per_node: 2}\n"
                             "parallel: {pp: 2, schedule: dualpipev, virtual_stages: 2}\n";
  const auto plan = memsim::testing::scenario_from_text(
                        v_base + "training: {seq_len: 128, global_batch: 4}\n", "v.yaml")
                        .variants.front()
                        .plan;
  CHECK(plan.parallel.pp.chunks() == 4);
  CHECK(memsim::testing::has_diagnostic(
      errors_of(v_base + "training: {seq_len: 128, global_batch: 3}\n"), 4, 29,
      "needs at least pp × virtual_stages = 4 microbatches"));
  std::string one_chunk = v_base + "training: {seq_len: 128, global_batch: 4}\n";
  one_chunk.replace(one_chunk.find("virtual_stages: 2"), 17, "virtual_stages: 1");
  CHECK(memsim::testing::has_diagnostic(errors_of(one_chunk), 4, 29, "must be 2"));
}
