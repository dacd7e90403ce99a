#include "strategies/model_states.h"

#include <doctest/doctest.h>

#include "sim/layer_graph.h"
#include "support/test_support.h"

namespace {

using memsim::sim::Category;
using memsim::strategies::Dtype;
using memsim::strategies::Precision;
using memsim::strategies::PrecisionRecipe;

memsim::sim::CategoryBytes states_of(const memsim::sim::ModelSpec& model, Precision precision,
                                     const std::string& optimizer = "adamw") {
  const memsim::sim::LayerGraph graph(model);
  const auto order = graph.forward_order();
  const std::vector<memsim::sim::OpId> ops(order.begin(), order.end());
  const auto dims = memsim::sim::model_dims(model, 1, 1);
  memsim::strategies::OptimizerSettings settings;
  settings.name = optimizer;
  const auto params = memsim::strategies::rank_params(graph, ops, dims, {}, 0, true);
  return memsim::strategies::unsharded_states(params, precision, settings);
}

int64_t states_total(const memsim::sim::CategoryBytes& b) {
  return (b[Category::kWeights] + b[Category::kMasterWeights] + b[Category::kGradients] +
          b[Category::kOptimizer])
      .value();
}

}  // namespace

TEST_CASE("model states per parameter for the three recipes (ZeRO paper accounting)") {
  // Rajbhandari et al. 2020 §3.1: mixed-precision Adam keeps 2 + 2 + (4 + 4 + 4) = 16 bytes
  // per parameter; fp32 keeps 4 + 4 + 8 = 16; pure bf16 keeps 2 + 2 + 2 + 2 = 8.
  const auto model = memsim::testing::preset("llama2-7b");
  const int64_t psi = memsim::sim::LayerGraph(model).parameter_count();
  CHECK(states_total(states_of(model, {PrecisionRecipe::kFp32})) == 16 * psi);
  CHECK(states_total(states_of(model, {PrecisionRecipe::kBf16Mixed})) == 16 * psi);
  CHECK(states_total(states_of(model, {PrecisionRecipe::kFp16Mixed})) == 16 * psi);
  CHECK(states_total(states_of(model, {PrecisionRecipe::kBf16})) == 8 * psi);

  const auto mixed = states_of(model, {PrecisionRecipe::kBf16Mixed});
  CHECK(mixed[Category::kWeights].value() == 2 * psi);
  CHECK(mixed[Category::kGradients].value() == 2 * psi);
  CHECK(mixed[Category::kMasterWeights].value() == 4 * psi);
  CHECK(mixed[Category::kOptimizer].value() == 8 * psi);
}

TEST_CASE("fp32 gradients under mixed precision: 18 bytes per parameter (Megatron-LM)") {
  const auto model = memsim::testing::preset("gpt2-124m");
  const int64_t psi = memsim::sim::LayerGraph(model).parameter_count();
  Precision precision{PrecisionRecipe::kBf16Mixed};
  precision.gradients = Dtype::kFp32;
  CHECK(states_total(states_of(model, precision)) == 18 * psi);
}

TEST_CASE("optimizers with one state: SGD with momentum and Lion keep 4 bytes per parameter") {
  const auto model = memsim::testing::preset("gpt2-124m");
  const int64_t psi = memsim::sim::LayerGraph(model).parameter_count();
  CHECK(states_of(model, {PrecisionRecipe::kBf16Mixed}, "sgd")[Category::kOptimizer].value() ==
        4 * psi);
  CHECK(states_of(model, {PrecisionRecipe::kBf16Mixed}, "lion")[Category::kOptimizer].value() ==
        4 * psi);
}

TEST_CASE("made on demand, a tied embedding's gradient comes with the LM head's backward") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 2;
  model.tied_embeddings = true;
  auto plan = memsim::testing::one_gpu_plan(model, 128);
  plan.training.gradient_buffers = memsim::strategies::GradientBuffers::kOnDemand;
  const auto walked = memsim::testing::walk(plan);
  // bf16 gradients of the 32,000 × 4,096 embedding, and of the final norm's 4,096 weights.
  const int64_t embedding_grad = 2LL * 32000 * 4096;
  const int64_t final_norm_grad = 2LL * 4096;
  int64_t at_head = 0;
  int64_t at_embedding = 0;
  for (const auto& e : walked.timeline.events()) {
    if (e.category != Category::kGradients || e.delta.value() <= 0) continue;
    if (e.layer == model.layers) at_head += e.delta.value();
    if (e.layer == memsim::sim::kEmbeddingLayer) at_embedding += e.delta.value();
  }
  CHECK(at_head == embedding_grad + final_norm_grad);
  CHECK(at_embedding == 0);
}
