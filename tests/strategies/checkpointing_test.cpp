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
  CHECK(std::get<FullCheckpointing>(read("full")).layers == FullCheckpointing::kAllLayers);
  const auto block = std::get<FullCheckpointing>(read("{full: {layers: 2}}"));
  CHECK(block.layers == 2);
  CHECK(block.every == 1);
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

namespace {

/// What one microbatch keeps for backward under `policy`, on a 4-layer GQA Llama of 256
/// tokens (bf16): q 128 KiB, k and v 64 KiB each, the attention output 128 KiB and its fp32
/// log-sum-exp 4 KiB, the output projection 128 KiB, gate and up 256 KiB each, down 128 KiB.
int64_t kept_under(const CheckpointPolicy& policy) {
  memsim::sim::ModelSpec model = memsim::testing::preset("llama2-7b");
  model.layers = 4;
  model.hidden = 256;
  model.heads = 4;
  model.kv_heads = 2;
  model.ffn = 512;
  model.vocab = 1000;
  model.attention = memsim::sim::AttentionImpl::kFlash;
  auto plan = memsim::testing::one_gpu_plan(model, 256);
  plan.training.chunk_passes.checkpointing = policy;
  return memsim::testing::walk(plan).result.activations_per_microbatch.value();
}

}  // namespace

TEST_CASE("per-op selective checkpointing keeps each layer's input and the chosen outputs") {
  using memsim::strategies::OpSelectiveCheckpointing;
  const int64_t full = kept_under(memsim::strategies::FullCheckpointing{1});
  const int64_t none = kept_under(memsim::strategies::NoCheckpointing{});
  // Nothing saved: the layer's input alone, as full checkpointing keeps.
  CHECK(kept_under(OpSelectiveCheckpointing{0, 1, 1}) == full);
  // Every matmul and the attention core: their outputs in each of the 4 layers.
  const int64_t per_layer_all = 131072 + 2 * 65536 + 131072 + 4096 + 131072 + 2 * 262144 + 131072;
  CHECK(kept_under(OpSelectiveCheckpointing{}) == full + 4 * per_layer_all);
  // torchtitan's: every second matmul (q, v, gate, down) and the attention core.
  const int64_t per_layer_titan = 131072 + 65536 + 262144 + 131072 + 131072 + 4096;
  CHECK(kept_under(OpSelectiveCheckpointing{
            memsim::strategies::kSaveMatmuls | memsim::strategies::kSaveAttention, 2, 1}) ==
        full + 4 * per_layer_titan);
  CHECK(kept_under(OpSelectiveCheckpointing{}) < none);
  // Layer-wise: the 2nd and 4th layers checkpointed, the 1st and 3rd keep everything.
  CHECK(kept_under(OpSelectiveCheckpointing{0, 1, 2}) == (full + none) / 2);
}

TEST_CASE("per-op selective checkpointing: reused ops are not run again, the rest are") {
  using memsim::strategies::OpSelectiveCheckpointing;
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 2;
  auto plan = memsim::testing::one_gpu_plan(model, 256);
  plan.training.chunk_passes.checkpointing =
      OpSelectiveCheckpointing{memsim::strategies::kSaveMatmuls, 2, 1};
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& program = compiled.program(0);
  const auto& graph = *program.graph;
  REQUIRE(program.recompute.size() == 2);
  std::vector<memsim::sim::OpKind> reused;
  for (int pos : program.recompute.front().reused)
    reused.push_back(graph.op(graph.forward_order()[pos]).kind);
  using K = memsim::sim::OpKind;
  CHECK(reused == std::vector<K>{K::kQProj, K::kVProj, K::kMlpGate, K::kMlpDown});
  // The walk's recomputation takes the time of the layer's other ops only.
  const auto walked = memsim::testing::walk(plan);
  double recompute_s = 0.0;
  double expected_s = 0.0;
  for (const auto& span : walked.timeline.spans()) {
    if (span.phase == memsim::sim::Phase::kRecompute) recompute_s += span.end_s - span.start_s;
  }
  for (const auto& region : program.recompute) {
    for (int pos = region.first; pos <= region.last; ++pos) {
      const bool kept =
          std::find(region.reused.begin(), region.reused.end(), pos) != region.reused.end();
      if (!kept) expected_s += program.op_times[graph.forward_order()[pos]].forward_s;
    }
  }
  CHECK(recompute_s == doctest::Approx(expected_s).epsilon(1e-9));
}

TEST_CASE("checkpointing.selective reads its save list, with errors at a wrong word") {
  using memsim::strategies::OpSelectiveCheckpointing;
  const auto titan = std::get<OpSelectiveCheckpointing>(
      read("{selective: {save: [matmul, attention], matmul_every: 2}}"));
  CHECK(titan.save == (memsim::strategies::kSaveMatmuls | memsim::strategies::kSaveAttention));
  CHECK(titan.matmul_every == 2);
  CHECK(std::get<OpSelectiveCheckpointing>(read("{selective: }")) == OpSelectiveCheckpointing{});
  CHECK(std::get<OpSelectiveCheckpointing>(read("{selective: {save: []}}")).save == 0);
  CHECK(std::get<OpSelectiveCheckpointing>(read("{selective: {every: 2}}")).every == 2);
  const auto errors =
      memsim::testing::diagnostics_of([] { read("{selective: {save: [matmull]}}"); });
  CHECK(memsim::testing::has_diagnostic(errors, 5, 36,
                                        "matmull is not one of matmul or attention; did you mean "
                                        "'matmul'?"));
  const auto scalar = memsim::testing::diagnostics_of([] { read("{selective: {save: matmul}}"); });
  CHECK(memsim::testing::has_diagnostic(scalar, 5, 35, "expected a list of some of"));
}

TEST_CASE("Megatron's block method checkpoints a chunk's first layers; the others keep all") {
  using memsim::strategies::FullCheckpointing;
  const int64_t full = kept_under(FullCheckpointing{});
  const int64_t none = kept_under(memsim::strategies::NoCheckpointing{});
  // Two of the four layers checkpointed keep half of what full and none keep.
  CHECK(kept_under(FullCheckpointing{1, 2}) == (full + none) / 2);
  CHECK(kept_under(FullCheckpointing{1, 4}) == full);
  CHECK(kept_under(FullCheckpointing{1, 9}) == full);
  // Per chunk: each pipeline stage checkpoints its own first layer.
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 8;
  auto plan = memsim::testing::one_gpu_plan(model, 256);
  plan.parallel.pp.stages = 2;
  plan.cluster.gpus_per_node = 2;
  plan.training.chunk_passes.checkpointing = FullCheckpointing{1, 1};
  const memsim::evaluation::CompiledPlan compiled(plan);
  for (int64_t stage = 0; stage < 2; ++stage) {
    const auto& program = compiled.program(stage);
    REQUIRE(program.recompute.size() == 1);
    const auto& graph = *program.graph;
    CHECK(graph.op(graph.forward_order()[program.recompute[0].first]).layer == 4 * stage);
    CHECK(graph.op(graph.forward_order()[program.recompute[0].last]).layer == 4 * stage);
  }
}

TEST_CASE("distributed checkpoints keep one tensor-parallel rank's share of each group's input") {
  // Llama 2 7B, 4 layers, 512 tokens, TP 4 without sequence parallelism: every rank holds
  // each layer's whole input, 512 × 4096 × 2 bytes. Distributed, a rank keeps a quarter of
  // the four groups' inputs; the head's input, read outside any group, stays whole.
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 4;
  auto plan = memsim::testing::one_gpu_plan(model, 512);
  plan.cluster.gpus_per_node = 4;
  plan.parallel.tp.degree = 4;
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{1};
  const auto whole = memsim::testing::walk(plan).result;
  std::get<memsim::strategies::FullCheckpointing>(plan.training.chunk_passes.checkpointing)
      .distribute = true;
  CHECK(memsim::testing::refusals(plan).empty());
  const auto shared = memsim::testing::walk(plan).result;
  const int64_t input = 512 * 4096 * 2;
  CHECK(whole.activations_per_microbatch.value() - shared.activations_per_microbatch.value() ==
        4 * (input - input / 4));
  // Each input comes back whole for its group's recomputation, when less is held.
  CHECK(shared.peak <= whole.peak);

  // Megatron-LM refuses it without tensor parallelism, and with sequence parallelism.
  plan.parallel.tp.sequence_parallel = true;
  CHECK(memsim::testing::refusals(plan).size() == 1);
  plan.parallel.tp.sequence_parallel = false;
  plan.parallel.tp.degree = 1;
  CHECK(memsim::testing::refusals(plan).size() == 1);
}
