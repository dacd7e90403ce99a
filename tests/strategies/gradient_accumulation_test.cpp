// Gradient accumulation in place: a backward that finds a weight's gradient made makes a
// fresh one and adds it (PyTorch's AccumulateGrad), holding both while it runs.

#include <doctest/doctest.h>

#include "sim/timeline.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::GradientAccumulation;
using memsim::strategies::GradientBuffers;

/// The most gradient bytes live at once in a walk of rank 0.
int64_t most_gradients(const memsim::strategies::Plan& plan) {
  const auto live = memsim::testing::walk(plan).timeline.live_by_category();
  return static_cast<int64_t>(
      live.col(static_cast<int>(memsim::sim::Category::kGradients)).maxCoeff());
}

memsim::strategies::Plan two_microbatches(GradientBuffers buffers, GradientAccumulation adding) {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 2;
  auto plan = memsim::testing::one_gpu_plan(model, 256, 1);
  plan.training.global_batch = 2;
  plan.training.gradient_buffers = buffers;
  plan.training.gradient_accumulation = adding;
  return plan;
}

}  // namespace

TEST_CASE("added in place, a gradient that exists gets a fresh one beside it") {
  // The LM head's weight gradient is the largest an op makes: 2 bytes × 4096 × 32000.
  const int64_t head = 2 * 4096 * 32000;
  for (const auto buffers : {GradientBuffers::kOnDemand, GradientBuffers::kPersistent}) {
    CAPTURE(static_cast<int>(buffers));
    CHECK(most_gradients(two_microbatches(buffers, GradientAccumulation::kInPlace)) -
              most_gradients(two_microbatches(buffers, GradientAccumulation::kFused)) ==
          head);
  }
  // Made on demand in a step of one microbatch, every gradient is made, none added to.
  auto one = two_microbatches(GradientBuffers::kOnDemand, GradientAccumulation::kInPlace);
  one.training.global_batch = 1;
  auto fused = one;
  fused.training.gradient_accumulation = GradientAccumulation::kFused;
  CHECK(most_gradients(one) == most_gradients(fused));
}

TEST_CASE("ZeRO-2's whole layer gradients already hold what a backward adds") {
  auto plan = two_microbatches(GradientBuffers::kPersistent, GradientAccumulation::kInPlace);
  plan.parallel.dp.zero = 2;
  plan.parallel.dp.offload = memsim::strategies::Offload::kOptimizer;
  auto fused = plan;
  fused.training.gradient_accumulation = GradientAccumulation::kFused;
  CHECK(most_gradients(plan) == most_gradients(fused));
}

TEST_CASE("a tied head's fresh gradient waits for the embedding's share until the pass ends") {
  auto tied = [](GradientAccumulation adding) {
    auto plan = two_microbatches(GradientBuffers::kOnDemand, adding);
    plan.model.tied_embeddings = true;
    return plan;
  };
  // From the head's backward on, the shared weight's fresh gradient waits in autograd's
  // input buffer, beside each layer's fresh gradients (an MLP matrix at the most).
  CHECK(most_gradients(tied(GradientAccumulation::kInPlace)) -
            most_gradients(tied(GradientAccumulation::kFused)) ==
        2 * 4096 * 32000 + 2 * 4096 * 11008);
}
