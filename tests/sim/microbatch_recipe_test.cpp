#include "sim/microbatch_recipe.h"

#include <doctest/doctest.h>

#include "sim/simulator.h"
#include "support/test_support.h"

namespace {

memsim::sim::ModelSpec small_llama() {
  auto m = memsim::testing::preset("llama2-7b");
  m.layers = 4;
  return m;
}

int64_t sum_deltas(const memsim::sim::MicrobatchRecipe& r,
                   const std::vector<memsim::sim::Bytes>& sizes) {
  int64_t sum = 0;
  for (const auto& d : r.deltas)
    sum += memsim::sim::delta_bytes(d, sizes).value();
  return sum;
}

}  // namespace

TEST_CASE("a microbatch frees everything it allocates, under every checkpointing policy") {
  for (memsim::strategies::CheckpointPolicy policy :
       {memsim::strategies::CheckpointPolicy{memsim::strategies::NoCheckpointing{}},
        memsim::strategies::CheckpointPolicy{memsim::strategies::SelectiveCheckpointing{}},
        memsim::strategies::CheckpointPolicy{memsim::strategies::FullCheckpointing{1}},
        memsim::strategies::CheckpointPolicy{memsim::strategies::FullCheckpointing{3}},
        memsim::strategies::CheckpointPolicy{memsim::strategies::SqrtCheckpointing{}}}) {
    CAPTURE(memsim::strategies::describe(policy));
    auto plan = memsim::testing::one_gpu_plan(small_llama(), 512);
    plan.checkpointing = policy;
    const memsim::evaluation::CompiledPlan compiled(plan);
    const auto& program = compiled.program(0);
    const auto recipe = memsim::sim::compile_recipe(program, 0);
    CHECK(sum_deltas(recipe, program.sizes) == 0);
    // What forward leaves is what its ops saved, and what the chunk received.
    int64_t saved = 0;
    std::vector<bool> counted(compiled.graph().tensor_count(), false);
    for (const auto op : compiled.graph().forward_order()) {
      for (const auto t : compiled.graph().op(op).saved) {
        if (!counted[t]) saved += program.tensor_bytes(t).value();
        counted[t] = true;
      }
    }
    const int64_t kept = recipe.saved_bytes(program.sizes).value();
    if (std::holds_alternative<memsim::strategies::NoCheckpointing>(policy)) {
      CHECK(kept == saved);
    } else if (std::holds_alternative<memsim::strategies::FullCheckpointing>(policy)) {
      CHECK(kept < saved);
    } else {
      CHECK(kept <= saved);
    }
  }
}

TEST_CASE("checkpointing trades activations for recomputation time") {
  auto plan = memsim::testing::one_gpu_plan(small_llama(), 2048);
  const auto none = memsim::testing::walk(plan).result;
  plan.checkpointing = memsim::strategies::FullCheckpointing{1};
  const auto full = memsim::testing::walk(plan).result;
  plan.checkpointing = memsim::strategies::FullCheckpointing{2};
  const auto every2 = memsim::testing::walk(plan).result;
  // Groups of two keep half the layer inputs of full checkpointing but rebuild two layers
  // at once in backward.
  CHECK(every2.activations_per_microbatch < full.activations_per_microbatch);
  CHECK(full.activations_per_microbatch < none.activations_per_microbatch);
  CHECK(full.max_by_category[memsim::sim::Category::kActivations] <
        every2.max_by_category[memsim::sim::Category::kActivations]);
  CHECK(full.step_time_s > none.step_time_s);
  // Full recomputation runs every layer's forward twice: the step's compute grows by the
  // layers' forward time (backward = 2 × forward): from 3F to 4F for layer ops.
  CHECK(full.step_time_s < none.step_time_s * 4.0 / 3.0 + 1e-12);
}

TEST_CASE("gradients on demand appear in the first backward and are freed after the step") {
  auto plan = memsim::testing::one_gpu_plan(small_llama(), 256);
  plan.training.global_batch = 3;
  plan.overheads.allocator_reserve = 0.0;  // a share of the dynamic part, which grows here
  const auto persistent = memsim::testing::walk(plan);
  plan.training.gradient_buffers = memsim::strategies::GradientBuffers::kOnDemand;
  const auto on_demand = memsim::testing::walk(plan);
  using memsim::sim::Category;
  CHECK(persistent.result.max_by_category[Category::kGradients] ==
        on_demand.result.max_by_category[Category::kGradients]);
  CHECK(on_demand.result.peak <= persistent.result.peak);
  int64_t live = 0;
  for (const auto& e : on_demand.timeline.events()) {
    if (e.category == Category::kGradients) live += e.delta.value();
  }
  CHECK(live == 0);
}

TEST_CASE("more microbatches do not raise a single stage's peak (gradient accumulation)") {
  auto plan = memsim::testing::one_gpu_plan(small_llama(), 256);
  const auto one = memsim::testing::walk(plan).result;
  plan.training.global_batch = 4;
  const auto four = memsim::testing::walk(plan).result;
  CHECK(one.peak == four.peak);
  CHECK(four.busy_s == doctest::Approx(4 * one.busy_s).epsilon(1e-9));
}

TEST_CASE("the timeline's largest live total is the reported peak") {
  auto plan = memsim::testing::one_gpu_plan(small_llama(), 1024);
  plan.checkpointing = memsim::strategies::SelectiveCheckpointing{};
  const auto w = memsim::testing::walk(plan);
  const auto live = w.timeline.live_by_category();
  CHECK(live.rowwise().sum().maxCoeff() == w.result.peak.value());
  memsim::sim::CategoryBytes sum;
  for (auto c : memsim::sim::kAllCategories)
    sum[c] = w.result.at_peak[c];
  CHECK(sum.total() == w.result.peak);
}
