// The optimizer in backward: gradients made by an op's backward are freed as it ends, and
// no step follows the backward.

#include <doctest/doctest.h>

#include "sim/timeline.h"
#include "support/test_support.h"

namespace {

/// The most gradient bytes live at once in a walk of rank 0.
int64_t most_gradients(const memsim::sim::Timeline& timeline) {
  const auto live = timeline.live_by_category();
  return static_cast<int64_t>(
      live.col(static_cast<int>(memsim::sim::Category::kGradients)).maxCoeff());
}

memsim::strategies::Plan llama_step() {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 2;
  auto plan = memsim::testing::one_gpu_plan(model, 256, 1);
  plan.training.gradient_buffers = memsim::strategies::GradientBuffers::kOnDemand;
  plan.training.optimizer.implementation = memsim::strategies::StepImplementation::kForeach;
  return plan;
}

}  // namespace

TEST_CASE("stepped in backward, only the gradients of the running op exist") {
  auto plan = llama_step();
  const auto after = memsim::testing::walk(plan);
  plan.training.optimizer_in_backward = true;
  const auto within = memsim::testing::walk(plan);
  // Stepped after the backward, every gradient exists at once (2 bytes a parameter).
  const int64_t parameters =
      2 * 4096 * 32000 + 2 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096) + 4096;
  CHECK(most_gradients(after.timeline) == 2 * parameters);
  // Within it, the largest op's at most: the LM head's or the embedding's, 4096 × 32000.
  CHECK(most_gradients(within.timeline) == 2 * 4096 * 32000);
  // Nothing is left for after the backward: no foreach temporaries, no gradients to free.
  CHECK(within.result.peak < after.result.peak);
  const auto& events = within.timeline.events();
  for (const auto& event : events) {
    if (event.phase == memsim::sim::Phase::kOptimizer) CHECK(event.delta.value() == 0);
  }
}

TEST_CASE("the optimizer in backward needs one microbatch a step and steppable gradients") {
  const std::string base =
      "model: llama2-7b\nhardware: {gpu: a100-80gb, gpus_per_node: 2}\n"
      "training: {seq_len: 512, micro_batch: 1, optimizer_in_backward: true";
  auto errors = memsim::testing::diagnostics_of(
      [&] { memsim::testing::scenario_from_text(base + ", global_batch: 4}\n", "bad.yaml", {}); });
  CHECK(memsim::testing::has_diagnostic(errors, 3, 65, "one microbatch a step"));
  errors = memsim::testing::diagnostics_of([&] {
    memsim::testing::scenario_from_text(base + ", global_batch: 2}\nparallel: {zero: 2}\n",
                                        "bad.yaml", {});
  });
  CHECK(memsim::testing::has_diagnostic(errors, 3, 65, "not DeepSpeed's ZeRO partitions"));
  // Plain data parallelism and FSDP2 step where the gradients are made.
  CHECK_NOTHROW(memsim::testing::scenario_from_text(base + ", global_batch: 2}\n", "ok.yaml", {}));
  CHECK_NOTHROW(memsim::testing::scenario_from_text(
      base + ", global_batch: 2}\nparallel: {zero: 3, sharding: fsdp2}\n", "ok.yaml", {}));
}

TEST_CASE("stepped in backward, a tied head's gradient waits for the embedding's share") {
  auto plan = llama_step();
  plan.model.tied_embeddings = true;
  plan.training.optimizer_in_backward = true;
  const auto walk = memsim::testing::walk(plan);
  // The head's backward makes the shared weight's gradient; the embedding's backward, the
  // last, adds its share, and only then does the weight step: the gradient outlives every
  // layer's, the largest of which (an MLP matrix) exists beside it.
  const int64_t shared = 2 * 4096 * 32000;
  CHECK(most_gradients(walk.timeline) == shared + 2 * 4096 * 11008);
  int64_t freed_after_backward = 0;
  for (const auto& event : walk.timeline.events()) {
    if (event.phase == memsim::sim::Phase::kOptimizer) freed_after_backward -= event.delta.value();
  }
  CHECK(freed_after_backward == shared);
}
