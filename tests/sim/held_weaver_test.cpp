#include "sim/held_weaver.h"

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

using namespace memsim::sim;

/// Where each of `family`'s quantities is allocated (+1) and freed (-1) in a pass: the op
/// index in the pass and the layer, in order.
struct Event {
  size_t op;
  int32_t layer;
  int sign;
  bool operator==(const Event&) const = default;
};
std::vector<Event> events(const MicrobatchRecipe& recipe, const std::vector<RecipeOp>& pass,
                          const QuantityIndex& index, int family, int32_t layers) {
  std::vector<Event> out;
  for (size_t i = 0; i < pass.size(); ++i) {
    for (uint32_t d = pass[i].begin; d < pass[i].end; ++d) {
      for (int32_t layer = kEmbeddingLayer; layer <= layers; ++layer) {
        if (recipe.deltas[d].quantity == index.held_of_layer(family, layer))
          out.push_back({i, layer, recipe.deltas[d].sign});
      }
    }
  }
  return out;
}

/// The position in `pass` of the first and last op of layer `layer`.
std::pair<size_t, size_t> run_of(const std::vector<RecipeOp>& pass, int32_t layer) {
  size_t first = pass.size();
  size_t last = 0;
  for (size_t i = 0; i < pass.size(); ++i) {
    if (pass[i].layer != layer) continue;
    first = std::min(first, i);
    last = i;
  }
  return {first, last};
}

}  // namespace

TEST_CASE("held buffers are a table: each is live where its span says, ahead as it asks") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 3;
  // Each layer of its own kind, so that each has its own quantities.
  model.layer_kinds = {{1, 1, model.ffn / 2}, {2, 2, model.ffn / 4}};
  const LayerGraph graph(model);
  const QuantityIndex index(graph, {}, HeldQuantities{2, 1});
  RankProgram program;
  program.graph = &graph;
  program.index = &index;
  program.chunks = {{0, graph.op_count() - 1}};
  program.sizes.assign(index.count(), Bytes{});
  program.op_times.assign(graph.op_count(), {});
  // One buffer per backward pass, one over every layer run one run ahead, one over backward
  // runs: listed so, the first starts first and ends last.
  program.held = {{HeldSpan::kBackwardPass, Category::kTemporary, 0, 0},
                  {HeldSpan::kLayerRuns, Category::kWeights, 0, 1},
                  {HeldSpan::kBackwardRuns, Category::kGradients, 1, 0}};
  const MicrobatchRecipe recipe = compile_recipe(program, 0);

  // Forward: each layer's run (the embedding -1, layers 0-2, the head 3) holds its own and
  // the next run's buffer; each is freed after its own run ends.
  const auto forward = events(recipe, recipe.forward, index, 0, 3);
  REQUIRE(forward.size() == 10);
  CHECK(forward[0] == Event{0, -1, 1});
  CHECK(forward[1] == Event{0, 0, 1});
  CHECK(forward[2] == Event{run_of(recipe.forward, -1).second, -1, -1});
  CHECK(forward[3] == Event{run_of(recipe.forward, 0).first, 1, 1});
  CHECK(forward.back() == Event{recipe.forward.size() - 1, 3, -1});

  // Backward: the per-run buffer of each layer from its first backward op to its run's
  // end, once per run; the pass buffer around the whole pass, first in and last out.
  const auto backward = events(recipe, recipe.backward, index, 1, 3);
  REQUIRE(backward.size() == 10);
  for (size_t k = 0; k < backward.size(); k += 2) {
    const auto [first, last] = run_of(recipe.backward, backward[k].layer);
    CHECK(backward[k] == Event{first, backward[k].layer, 1});
    CHECK(backward[k + 1] == Event{last, backward[k].layer, -1});
  }
  const RecipeOp& first = recipe.backward.front();
  const RecipeOp& last = recipe.backward.back();
  CHECK(recipe.deltas[first.begin].quantity == index.held_single(0));
  CHECK(recipe.deltas[first.begin].sign == 1);
  CHECK(recipe.deltas[last.end - 1].quantity == index.held_single(0));
  CHECK(recipe.deltas[last.end - 1].sign == -1);
  CHECK(index.count() == index.held_single(1));
}
