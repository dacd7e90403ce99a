#include "sim/module_gathering.h"

#include <doctest/doctest.h>

#include "sim/microbatch_recipe.h"
#include "support/test_support.h"

namespace {

using namespace memsim::sim;

/// A two-layer model whose trace has four modules: the embedding (10 elements), one op of
/// each layer (20 each, one twin) and the head (30); every other op gathers nothing.
struct Trace {
  LayerGraph graph;
  OpId a = 0;
  OpId b0 = 0;
  OpId b1 = 0;
  OpId h = 0;
  std::vector<RecipeOp> forward;
  std::vector<RecipeOp> backward;

  Trace() : graph(two_layers()) {
    a = graph.embedding_ops().front();
    b0 = graph.kind_ops(0).front();
    h = graph.head_ops().back();
    for (OpId op : graph.forward_order()) {
      if (graph.op(op).layer == 1 && graph.layer_twin(op) == b0) b1 = op;
    }
    for (OpId op : {a, b0, b1, h})
      forward.push_back({.op = op, .layer = graph.op(op).layer});
    for (OpId op : {h, b1, b0, a})
      backward.push_back({.op = op, .layer = graph.op(op).layer, .phase = Phase::kBackward});
  }

  static LayerGraph two_layers() {
    auto model = memsim::testing::preset("llama2-7b");
    model.layers = 2;
    return LayerGraph(model);
  }

  ModuleGathers plan(GatheringLimits limits) const {
    ModuleGathering gathering{limits, std::vector<int64_t>(graph.twins().size(), 0)};
    gathering.elements[graph.twin_slot(a)] = 10;
    gathering.elements[graph.twin_slot(b0)] = 20;
    gathering.elements[graph.twin_slot(h)] = 30;
    return plan_module_gathers(gathering, graph, forward, backward);
  }
};

using Ops = std::vector<OpId>;

}  // namespace

TEST_CASE("without prefetch or reuse, each module is gathered as it runs and released after") {
  const Trace t;
  const ModuleGathers g = t.plan({0, 1'000'000'000, 0});
  for (size_t i = 0; i < 4; ++i) {
    CHECK(g.forward[i].gathered == Ops{t.forward[i].op});
    CHECK(g.forward[i].released == Ops{t.forward[i].op});
    CHECK(g.backward[i].gathered == Ops{t.backward[i].op});
    CHECK(g.backward[i].released == Ops{t.backward[i].op});
  }
}

TEST_CASE("a module used again within the reuse distance stays gathered") {
  const Trace t;
  SUBCASE("every reuse near: nothing is released before its last use") {
    const ModuleGathers g = t.plan({0, 1'000'000'000, 1'000'000'000});
    for (size_t i = 0; i < 4; ++i) {
      CHECK(g.forward[i].released.empty());
      CHECK(g.backward[i].gathered.empty());
      CHECK(g.backward[i].released == Ops{t.backward[i].op});
    }
  }
  SUBCASE("60 elements: only the head, whose backward follows its forward, stays") {
    // After the embedding 140 elements of uses pass before its reuse; after layer 0's op,
    // 100; after layer 1's, the head's two uses, 60, which is not under 60; after the head
    // none.
    const ModuleGathers g = t.plan({0, 1'000'000'000, 60});
    CHECK(g.forward[0].released == Ops{t.a});
    CHECK(g.forward[1].released == Ops{t.b0});
    CHECK(g.forward[2].released == Ops{t.b1});
    CHECK(g.forward[3].released.empty());
    CHECK(g.backward[0].gathered.empty());
    CHECK(g.backward[0].released == Ops{t.h});
    CHECK(g.backward[1].gathered == Ops{t.b1});
  }
}

TEST_CASE("prefetching follows the trace and keeps what it skipped over, as DeepSpeed's does") {
  const Trace t;
  // Bucket 25: the embedding's fetch prefetches both layers' ops (the loop stops once 25
  // is passed); layer 0's, the head. Layer 1's fetch finds the head and its own backward
  // use gathered, skips them (marking layer 1's op as fetched for its backward use, so it
  // is not released) and prefetches layer 0's op and the embedding for the backward.
  const ModuleGathers g = t.plan({25, 1'000'000'000, 0});
  CHECK(g.forward[0].gathered == Ops{t.a, t.b0, t.b1});
  CHECK(g.forward[0].released == Ops{t.a});
  CHECK(g.forward[1].gathered == Ops{t.h});
  CHECK(g.forward[1].released == Ops{t.b0});
  CHECK(g.forward[2].gathered == Ops{t.b0, t.a});
  CHECK(g.forward[2].released.empty());
  CHECK(g.forward[3].released == Ops{t.h});
  CHECK(g.backward[0].gathered == Ops{t.h});
  CHECK(g.backward[0].released == Ops{t.h});
  for (size_t i = 1; i < 4; ++i) {
    CHECK(g.backward[i].gathered.empty());
    CHECK(g.backward[i].released == Ops{t.backward[i].op});
  }
}

TEST_CASE("a prefetch stops at the live limit") {
  const Trace t;
  // The embedding's fetch leaves 25 under the limit of 35 and prefetches two ops (50 live);
  // no later fetch may prefetch until the live elements fall under 35.
  const ModuleGathers g = t.plan({25, 35, 0});
  CHECK(g.forward[0].gathered == Ops{t.a, t.b0, t.b1});
  CHECK(g.forward[1].gathered.empty());
  CHECK(g.forward[2].gathered == Ops{t.h});
}

TEST_CASE("recomputations that reuse kept outputs run no module") {
  Trace t;
  t.backward.insert(t.backward.begin() + 1,
                    {.op = t.b1, .layer = 1, .phase = Phase::kRecompute, .reused = true});
  const ModuleGathers g = t.plan({0, 1'000'000'000, 0});
  CHECK(g.backward[1].gathered.empty());
  CHECK(g.backward[1].released.empty());
  CHECK(g.backward[2].gathered == Ops{t.b1});
}
