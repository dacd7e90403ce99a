// What a pipeline stage keeps of what it sends on (parallel.keep_stage_outputs): PyTorch's
// pipelining and DeepSpeed keep a microbatch's stage output until its backward, the last
// stage the logits; Megatron-LM frees it once sent.

#include <doctest/doctest.h>

#include "evaluation/compiled_plan.h"
#include "sim/microbatch_recipe.h"
#include "support/test_support.h"

namespace {

memsim::strategies::Plan two_stages(bool keep, int64_t stages = 2) {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 4;
  auto plan = memsim::testing::one_gpu_plan(model, 256);
  plan.cluster.gpus_per_node = stages;
  plan.parallel.pp.stages = stages;
  plan.training.global_batch = 4;
  plan.training.chunk_passes.keep_stage_outputs = keep;
  return plan;
}

/// What one microbatch's forward leaves on stage `stage`.
int64_t saved(const memsim::strategies::Plan& plan, int64_t stage) {
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& program = compiled.program(stage);
  return memsim::sim::compile_recipe(program, 0).saved_bytes(program.sizes).value();
}

}  // namespace

TEST_CASE("a stage that keeps its outputs holds them from its forward to its backward") {
  const auto plan = two_stages(true);
  const memsim::evaluation::CompiledPlan compiled(plan);
  const int64_t b = 1, s = 256, h = 4096, vocab = 32000;
  // The first stage keeps the hidden states it sends (bf16 b·s·h), the last the logits the
  // loss reads (bf16 b·s·V).
  CHECK(saved(plan, 0) - saved(two_stages(false), 0) == 2 * b * s * h);
  CHECK(saved(plan, 1) - saved(two_stages(false), 1) == 2 * b * s * vocab);
  // Each microbatch frees them with its backward: what it allocates, it frees.
  for (int64_t stage = 0; stage < 2; ++stage) {
    const auto& program = compiled.program(stage);
    const auto recipe = memsim::sim::compile_recipe(program, 0);
    int64_t net = 0;
    for (const auto& d : recipe.deltas) {
      if (!d.host) net += memsim::sim::delta_bytes(d, program.sizes).value();
    }
    CHECK(net == 0);
  }
  // Without pipeline stages there is nothing to keep.
  CHECK(saved(two_stages(true, 1), 0) == saved(two_stages(false, 1), 0));
}
