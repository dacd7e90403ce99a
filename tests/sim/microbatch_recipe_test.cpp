#include "sim/microbatch_recipe.h"

#include <algorithm>

#include <doctest/doctest.h>

#include "sim/simulator.h"
#include "sim/timeline.h"
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

/// The whole model without autograd, as one serving chunk: the loss included in its span.
memsim::sim::RankProgram no_grad_program(const memsim::sim::LayerGraph& graph,
                                         const memsim::sim::QuantityIndex& index) {
  memsim::sim::RankProgram program;
  program.graph = &graph;
  program.index = &index;
  program.chunks = {{0, graph.op_count() - 1}};
  program.no_grad = true;
  return program;
}

/// One byte per tensor, nothing for buffers, gathered weights or gradients.
std::vector<memsim::sim::Bytes> byte_per_tensor(const memsim::sim::QuantityIndex& index,
                                                int64_t bytes = 1) {
  std::vector<memsim::sim::Bytes> sizes(index.count());
  for (int k = 0; k < index.classes().count(); ++k)
    sizes[k] = memsim::sim::Bytes(bytes);
  return sizes;
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
    plan.training.chunk_passes.checkpointing = policy;
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
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{1};
  const auto full = memsim::testing::walk(plan).result;
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{2};
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
  plan.training.chunk_passes.checkpointing = memsim::strategies::SelectiveCheckpointing{};
  const auto w = memsim::testing::walk(plan);
  const auto live = w.timeline.live_by_category();
  CHECK(live.rowwise().sum().maxCoeff() == w.result.peak.value());
  memsim::sim::CategoryBytes sum;
  for (auto c : memsim::sim::kAllCategories)
    sum[c] = w.result.at_peak[c];
  CHECK(sum.total() == w.result.peak);
}

TEST_CASE("without autograd a recipe is the forward less the loss, and keeps nothing") {
  using namespace memsim::sim;
  const LayerGraph graph(small_llama());
  const QuantityIndex index(graph);
  const MicrobatchRecipe recipe = compile_recipe(no_grad_program(graph, index), 0);
  CHECK(recipe.backward.empty());
  // The loss ends the forward order; every other op runs once, in order.
  const auto order = graph.forward_order();
  REQUIRE(graph.op(order.back()).kind == OpKind::kCrossEntropy);
  REQUIRE(recipe.forward.size() + 1 == order.size());
  // After each op exactly the tensors a later op (the loss aside) reads are live: own
  // tensors and workspace die with their op, every other tensor with its last reader.
  const std::vector<Bytes> sizes = byte_per_tensor(index);
  const int loss = static_cast<int>(order.size()) - 1;
  int64_t live = 0;
  for (int pos = 0; pos < loss; ++pos) {
    CAPTURE(graph.op(order[pos]).name);
    const RecipeOp& op = recipe.forward[pos];
    CHECK(op.op == order[pos]);
    for (uint32_t i = op.begin; i < op.end; ++i) {
      CHECK(recipe.deltas[i].category != Category::kActivations);
      live += delta_bytes(recipe.deltas[i], sizes).value();
    }
    int64_t read_later = 0;
    for (TensorId t = 0; t < graph.tensor_count(); ++t) {
      const auto readers = graph.consumers(t);
      read_later += graph.position(graph.tensor(t).producer) <= pos &&
                    std::any_of(readers.begin(), readers.end(), [&](OpId r) {
                      return pos < graph.position(r) && graph.position(r) < loss;
                    });
    }
    CHECK(live == read_later);
  }
  CHECK(recipe.saved_bytes(sizes) == Bytes(0));
}

TEST_CASE("serving replays one recipe pass after pass, each with its own sizes and times") {
  using namespace memsim::sim;
  const LayerGraph graph(small_llama());
  const QuantityIndex index(graph);
  RankProgram program = no_grad_program(graph, index);
  program.resident[Category::kWeights] = Bytes(1000);
  const auto pass = [&](size_t i) {
    const auto scale = static_cast<int64_t>(i + 1);
    return ServingPass{static_cast<int32_t>(i), Bytes(10 * scale), byte_per_tensor(index, scale),
                       std::vector<OpTimes>(graph.op_count(), {0.5 * scale, 0.0})};
  };
  Timeline timeline;
  const RankResult result = simulate_serving(program, 2, pass, &timeline);
  // Every op but the loss runs in each pass: 0.5 s each in the first, 1 s in the second.
  const double end = 1.5 * static_cast<double>(graph.op_count() - 1);
  CHECK(result.step_time_s == doctest::Approx(end));
  CHECK(result.busy_s == result.step_time_s);
  CHECK(result.last_step_end_s == result.step_time_s);
  CHECK(result.max_by_category[Category::kKvCache] == Bytes(30));
  CHECK(result.max_by_category[Category::kActivations] == Bytes(0));
  // The second pass's tensors are twice the first's, and each pass frees its own.
  const auto live = timeline.live_by_category();
  const auto column = static_cast<Eigen::Index>(Category::kTemporary);
  int64_t most[2] = {0, 0};
  for (size_t i = 0; i < timeline.events().size(); ++i) {
    const MemoryEvent& event = timeline.events()[i];
    if (event.microbatch < 0) continue;
    CHECK(event.phase == Phase::kForward);
    most[event.microbatch] =
        std::max<int64_t>(most[event.microbatch], live(static_cast<Eigen::Index>(i), column));
  }
  CHECK(most[0] > 0);
  CHECK(most[1] == 2 * most[0]);
  CHECK(live(live.rows() - 1, column) == 0);
  REQUIRE(timeline.spans().size() == 2);
  CHECK(timeline.spans()[1].microbatch == 1);
}

TEST_CASE("a split backward's input step keeps the graph; its weight step frees it") {
  auto plan = memsim::testing::one_gpu_plan(small_llama(), 256);
  plan.cluster.gpus_per_node = 2;
  plan.parallel.pp.stages = 2;
  plan.parallel.pp.schedule = "zero-bubble";
  plan.training.global_batch = 2;
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& graph = compiled.graph();

  // The last stage: its inputs take gradients.
  const auto& last = compiled.program(1);
  const auto recipe = memsim::sim::compile_recipe(last, 0);
  const auto& chunk = last.chunks[0];
  auto has_weights = [&](int pos) { return !graph.op(graph.forward_order()[pos]).params.empty(); };
  int last_weighted = -1;
  int64_t kept_gradients = 0;  // the output gradients of the ops with weights
  for (int pos = chunk.first; pos <= chunk.last; ++pos) {
    if (!has_weights(pos)) continue;
    last_weighted = pos;
    for (const auto t : graph.op(graph.forward_order()[pos]).outputs)
      kept_gradients += last.tensor_bytes(t).value();
  }
  // What only the ops above the last with weights (the loss) save dies with the input step.
  std::vector<int> first_saver(graph.tensor_count(), -1);
  for (int pos = chunk.last; pos >= chunk.first; --pos) {
    for (const auto t : graph.op(graph.forward_order()[pos]).saved)
      first_saver[t] = pos;
  }
  int64_t loss_saved = 0;
  for (memsim::sim::TensorId t = 0; t < graph.tensor_count(); ++t) {
    if (first_saver[t] > last_weighted) loss_saved += last.tensor_bytes(t).value();
  }
  CHECK(loss_saved > 0);
  const int64_t saved = memsim::testing::pass_net_bytes(recipe, recipe.forward, last.sizes);
  CHECK(memsim::testing::pass_net_bytes(recipe, recipe.backward_input, last.sizes) ==
        kept_gradients - loss_saved);
  CHECK(memsim::testing::pass_net_bytes(recipe, recipe.backward_weight, last.sizes) ==
        -(saved + kept_gradients - loss_saved));
  CHECK(std::all_of(recipe.backward_weight.begin(), recipe.backward_weight.end(),
                    [&](const auto& op) { return !graph.op(op.op).params.empty(); }));

  // The first stage's inputs (the token ids) take none: PyTorch runs its whole backward as
  // the weight step.
  const auto& first = compiled.program(0);
  const auto first_recipe = memsim::sim::compile_recipe(first, 0);
  CHECK(first_recipe.backward_input.empty());
  REQUIRE(first_recipe.backward_weight.size() == first_recipe.backward.size());
  for (size_t i = 0; i < first_recipe.backward.size(); ++i)
    CHECK(first_recipe.backward_weight[i].op == first_recipe.backward[i].op);
  CHECK(memsim::testing::pass_net_bytes(first_recipe, first_recipe.backward_weight, first.sizes) ==
        memsim::testing::pass_net_bytes(first_recipe, first_recipe.backward, first.sizes));
}
