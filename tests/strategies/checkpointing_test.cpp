// The checkpointing pass: its keys (shorthand words, `full:` alone, `{full: {every: k}}`) and
// the recompute spans it gives each chunk. What recomputation saves is checked against
// Korthikanti et al. in tests/validation/korthikanti_test.cpp.

#include "strategies/checkpointing.h"

#include <doctest/doctest.h>

#include "evaluation/compiled_plan.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::CheckpointPolicy;

CheckpointPolicy read(const std::string& value) {
  const auto scenario = memsim::testing::scenario_from_text(R"(name: ckpt
model: {layers: 4, hidden: 256, heads: 4, ffn: 512, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 256}
checkpointing: )" + value + "\n",
                                                            "ckpt.yaml");
  return scenario.variants.front().plan.training.chunk_passes.checkpointing;
}

}  // namespace

TEST_CASE("checkpointing reads its words, full alone, and full in groups") {
  using memsim::strategies::FullCheckpointing;
  CHECK(std::holds_alternative<memsim::strategies::NoCheckpointing>(read("none")));
  CHECK(std::holds_alternative<memsim::strategies::SelectiveCheckpointing>(read("selective")));
  CHECK(std::holds_alternative<memsim::strategies::SqrtCheckpointing>(read("sqrt")));
  CHECK(std::get<FullCheckpointing>(read("full")).every == 1);
  CHECK(std::get<FullCheckpointing>(read("{full: }")).every == 1);
  CHECK(std::get<FullCheckpointing>(read("{full: {every: 3}}")).every == 3);
}

TEST_CASE("each pipeline chunk is recomputed over its own transformer layers") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 8;
  auto plan = memsim::testing::one_gpu_plan(model, 256);
  plan.parallel.pp.stages = 2;
  plan.cluster.gpus_per_node = 2;
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{2};
  const memsim::evaluation::CompiledPlan compiled(plan);
  for (int64_t stage = 0; stage < 2; ++stage) {
    const auto& program = compiled.program(stage * plan.parallel.tp.degree);
    const auto& graph = *program.graph;
    // Four layers a stage: two groups of two, inside the stage's chunk.
    REQUIRE(program.recompute.size() == 2);
    for (const auto& span : program.recompute) {
      CHECK(span.first >= program.chunks.front().first);
      CHECK(span.last <= program.chunks.front().last);
      const int32_t first = graph.op(graph.forward_order()[span.first]).layer;
      const int32_t last = graph.op(graph.forward_order()[span.last]).layer;
      CHECK(last - first == 1);
      CHECK(first / 4 == stage);
    }
  }
}
