// ZeRO-3 gathering module by module, as DeepSpeed's coordinator does, through a compiled
// plan: what stays gathered from the forward to the backward, and what the checks refuse.

#include <algorithm>

#include <doctest/doctest.h>

#include "evaluation/compiled_plan.h"
#include "sim/microbatch_recipe.h"
#include "strategies/data_parallel.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::Gathering;

memsim::strategies::Plan deepspeed_zero3(int64_t reuse_distance, int64_t layers = 4) {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = layers;
  auto plan = memsim::testing::one_gpu_plan(model, 256);
  plan.parallel.dp.zero = 3;
  plan.parallel.dp.gathering = Gathering::kModules;
  plan.parallel.dp.modules.prefetch_bucket = 0;
  plan.parallel.dp.modules.max_reuse_distance = reuse_distance;
  return plan;
}

/// Bytes of gathered parameters the forward pass leaves gathered, and what each op gathers,
/// in forward order.
struct Turn {
  int64_t left = 0;
  int64_t most = 0;  ///< the most gathered at once in the forward
  std::vector<int64_t> elements;
  std::vector<int64_t> bytes;
};
Turn turn(const memsim::strategies::Plan& plan) {
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& program = compiled.program(0);
  const auto& index = *program.index;
  const auto& graph = *program.graph;
  const auto recipe = memsim::sim::compile_recipe(program, 0);
  const auto twins = static_cast<int>(graph.twins().size());
  Turn t;
  for (const auto& op : recipe.forward) {
    const int slot = graph.twin_slot(op.op);
    t.elements.push_back(program.gathering.elements[slot]);
    t.bytes.push_back(program.size(index.gathered_parameters(slot)).value());
    for (uint32_t d = op.begin; d < op.end; ++d) {
      const auto& delta = recipe.deltas[d];
      if (delta.quantity >= index.gathered_parameters(0) &&
          delta.quantity < index.gathered_parameters(twins))
        t.left += memsim::sim::delta_bytes(delta, program.sizes).value();
      t.most = std::max(t.most, t.left);
    }
  }
  return t;
}

}  // namespace

TEST_CASE("a module stays gathered into the backward when its reuse is within the distance") {
  // Without recomputation the trace runs the modules forward, then backward in reverse:
  // between a module's two uses pass twice the elements of the modules after it, so it
  // stays gathered when that is under the reuse distance. Measured in whole layers.
  const Turn all = turn(deepspeed_zero3(int64_t{1} << 40));
  int64_t gathered = 0;
  for (const int64_t b : all.bytes)
    gathered += b;
  CHECK(all.left == gathered);
  CHECK(turn(deepspeed_zero3(0)).left == 0);
  for (const int64_t distance :
       {int64_t{300'000'000}, int64_t{700'000'000}, int64_t{1'000'000'000}}) {
    CAPTURE(distance);
    const Turn t = turn(deepspeed_zero3(distance));
    int64_t expected = 0;
    int64_t after = 0;
    for (size_t k = t.elements.size(); k-- > 0;) {
      if (t.elements[k] > 0 && 2 * after < distance) expected += t.bytes[k];
      after += t.elements[k];
    }
    CHECK(t.left == expected);
    CHECK(t.left > 0);
    CHECK(t.left < gathered);
  }
}

TEST_CASE("gathering modules is DeepSpeed's: not with FSDP, nor with pipeline stages") {
  auto plan = deepspeed_zero3(1'000'000'000);
  CHECK(memsim::testing::refusals(plan).empty());
  plan.parallel.dp.sharding = memsim::strategies::Sharding::kFsdp2;
  CHECK(memsim::testing::refusals(plan).size() == 1);
  plan = deepspeed_zero3(1'000'000'000);
  plan.cluster.nodes = 1;
  plan.cluster.gpus_per_node = 2;
  plan.parallel.pp.stages = 2;
  CHECK(memsim::testing::refusals(plan).size() == 1);
  // Below ZeRO-3 the setting gathers nothing and is no error (the deepspeed profile sets it).
  plan.parallel.dp.zero = 1;
  CHECK(memsim::testing::refusals(plan).empty());
}

TEST_CASE("each fetch prefetches another bucket until max_live_parameters are gathered") {
  // The coordinator prefetches min(bucket, max_live - gathered) after every fetch, and a
  // module uses fewer elements than a bucket: the prefetch runs ahead until the live limit
  // stops it. It adds a module while under its budget, so it passes the limit by less than
  // one module: Llama 2 7B's largest is the embedding or the head, 32000 × 4096 elements.
  const int64_t largest = 32000 * 4096;
  for (const int64_t live : {int64_t{300'000'000}, int64_t{1'000'000'000}}) {
    CAPTURE(live);
    auto plan = deepspeed_zero3(0, 32);
    plan.parallel.dp.modules.prefetch_bucket = 50'000'000;
    plan.parallel.dp.modules.max_live = live;
    const Turn t = turn(plan);
    CHECK(t.most >= 2 * live);  // bf16
    CHECK(t.most < 2 * (live + largest));
  }
}
