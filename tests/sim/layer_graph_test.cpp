#include "sim/layer_graph.h"

#include <doctest/doctest.h>

#include "scenarios/model_presets.h"
#include "support/test_support.h"

TEST_CASE("smoke: llama2-7b parameter count") {
  const auto* preset = memsim::scenarios::find_preset("llama2-7b");
  REQUIRE(preset != nullptr);
  CHECK(memsim::sim::LayerGraph(preset->spec).parameter_count() == 6738415616);
}

TEST_CASE("ops of every transformer layer have a twin in layer 0 of the same kind") {
  const auto* preset = memsim::scenarios::find_preset("gpt2-124m");
  const memsim::sim::LayerGraph graph(preset->spec);
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op) {
    const auto twin = graph.layer_twin(op);
    CHECK(graph.op(twin).kind == graph.op(op).kind);
    const int32_t layer = graph.op(op).layer;
    CHECK(graph.op(twin).layer == (layer >= 0 && layer < 12 ? 0 : layer));
  }
  CHECK(graph.embedding_ops().size() + 12 * graph.first_layer_ops().size() +
            graph.head_ops().size() ==
        static_cast<size_t>(graph.op_count()));
}

TEST_CASE("topological order: every op after the producers of its inputs") {
  const memsim::sim::LayerGraph graph(memsim::scenarios::find_preset("qwen2.5-7b")->spec);
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op) {
    for (auto t : graph.op(op).inputs) {
      CHECK(graph.position(graph.tensor(t).producer) < graph.position(op));
    }
  }
}

TEST_CASE("the transformer layers of a run of ops leave the embedding and head out") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 4;
  const memsim::sim::LayerGraph graph(model);
  const int last = static_cast<int>(graph.op_count()) - 1;
  const auto all = graph.transformer_layers(0, last);
  CHECK(all.first == 0);
  CHECK(all.last == 3);
  CHECK(!all.has(-1));
  CHECK(!all.has(4));
  // The embedding's ops alone hold no transformer layer.
  const int embedding_end = graph.position(graph.embedding_ops().back());
  const auto none = graph.transformer_layers(0, embedding_end);
  CHECK(none.last < none.first);
}
