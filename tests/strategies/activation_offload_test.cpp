#include <doctest/doctest.h>

#include "evaluation/evaluate.h"
#include "sim/microbatch_recipe.h"
#include "strategies/strategy_pass.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::ActivationOffload;
using memsim::strategies::kEveryLayer;

memsim::strategies::Plan small_plan(ActivationOffload offload) {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 4;
  auto plan = memsim::testing::one_gpu_plan(model, 512);
  plan.training.chunk_passes.activation_offload = offload;
  return plan;
}

}  // namespace

TEST_CASE("offloaded activations leave the GPU for host memory, and every byte comes back") {
  const auto kept = memsim::testing::walk(small_plan({})).result;
  CHECK(kept.host_peak.value() == 0);
  const auto plan = small_plan({kEveryLayer, 1});
  const auto moved = memsim::testing::walk(plan).result;
  CHECK(moved.host_peak.value() > 0);
  // One microbatch on one GPU: what its forward leaves on the GPU falls by what goes to host.
  CHECK(kept.activations_per_microbatch - moved.activations_per_microbatch == moved.host_peak);
  CHECK(moved.peak < kept.peak);

  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& program = compiled.program(0);
  const auto recipe = memsim::sim::compile_recipe(program, 0);
  int64_t gpu = 0;
  int64_t host = 0;
  for (const auto& delta : recipe.deltas) {
    (delta.host ? host : gpu) += memsim::sim::delta_bytes(delta, program.sizes).value();
  }
  CHECK(gpu == 0);
  CHECK(host == 0);
}

TEST_CASE("every transformer layer's activations weigh the same on the host") {
  const auto one = memsim::testing::walk(small_plan({1, 1})).result.host_peak;
  const auto two = memsim::testing::walk(small_plan({2, 1})).result.host_peak;
  const auto all = memsim::testing::walk(small_plan({kEveryLayer, 1})).result.host_peak;
  CHECK(one.value() > 0);
  CHECK(two == one * 2);
  CHECK(all == one * 4);
  CHECK(memsim::testing::walk(small_plan({4, 1})).result.host_peak == all);
}

TEST_CASE("prefetching brings activations back earlier: more on the GPU, never less") {
  const auto late = memsim::testing::walk(small_plan({kEveryLayer, 0})).result;
  const auto early = memsim::testing::walk(small_plan({kEveryLayer, 2})).result;
  const auto kept = memsim::testing::walk(small_plan({})).result;
  CHECK(late.peak <= early.peak);
  CHECK(early.peak <= kept.peak);
  CHECK(late.host_peak == early.host_peak);
}

TEST_CASE("a pipeline stage holds the offloaded activations of its microbatches in flight") {
  auto plan = small_plan({kEveryLayer, 1});
  plan.parallel.pp.stages = 2;
  plan.cluster.gpus_per_node = 2;
  plan.training.global_batch = 4;  // 4 microbatches, 1F1B
  const auto report = memsim::evaluation::evaluate(plan);
  // Stage 0 runs two forwards before its first backward; stage 1 one. Each holds the
  // offloaded activations of its two layers per microbatch in flight.
  const auto first = report.ranks[0].memory.host_peak;
  const auto last = report.ranks[1].memory.host_peak;
  CHECK(first == last * 2);
  CHECK(report.cpu_bytes_per_node == first + last);  // both ranks on one node
}
