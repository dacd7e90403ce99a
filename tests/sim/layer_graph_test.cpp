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
  CHECK(graph.embedding_ops().size() + 12 * graph.kind_ops(0).size() + graph.head_ops().size() ==
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

TEST_CASE("layers of other kinds: each kind's first layer is the twin of the kind's layers") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 5;
  model.layer_kinds = {{1, 2, 2 * model.ffn}, {4, 4, model.ffn}};  // 4: the model's own width
  const memsim::sim::LayerGraph graph(model);
  CHECK(graph.kind_count() == 2);
  CHECK(graph.layer_kind(0) == 0);
  CHECK(graph.layer_kind(1) == 1);
  CHECK(graph.layer_kind(2) == 1);
  CHECK(graph.layer_kind(4) == 0);
  CHECK(graph.kind_layers(0) == 3);
  CHECK(graph.kind_layers(1, 0, 1) == 1);
  CHECK(graph.layer_slot(memsim::sim::kEmbeddingLayer) == 0);
  CHECK(graph.layer_slot(2) == 2);
  CHECK(graph.layer_slot(5) == 3);
  CHECK(graph.kind_dims(graph.dims(8, 1), 1)[memsim::sim::Dim::kFfn] == 2 * model.ffn);
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op) {
    const int32_t layer = graph.op(op).layer;
    const memsim::sim::OpNode& twin = graph.op(graph.layer_twin(op));
    CHECK(twin.kind == graph.op(op).kind);
    if (layer == 2) CHECK(twin.layer == 1);
    if (layer == 3 || layer == 4) CHECK(twin.layer == 0);
  }
  CHECK(graph.twins().size() ==
        graph.embedding_ops().size() + 2 * graph.kind_ops(0).size() + graph.head_ops().size());

  // Llama 2 7B's counts by hand: attention 4·h², SwiGLU 3·h·ffn, two RMSNorms per layer;
  // embedding, final norm and head.
  const int64_t h = model.hidden;
  const auto layer = [&](int64_t ffn) { return 4 * h * h + 3 * h * ffn + 2 * h; };
  CHECK(graph.parameter_count() ==
        2 * model.vocab * h + h + 3 * layer(model.ffn) + 2 * layer(2 * model.ffn));
}

TEST_CASE("layer_kinds outside the model or overlapping are problems of the spec") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 4;
  model.layer_kinds = {{0, 1, 64}, {1, 3, 64}};
  REQUIRE(memsim::sim::find_problems(model).size() == 1);
  CHECK(memsim::sim::find_problems(model)[0].message == "layer_kinds: layer 1 is in two ranges");
  model.layer_kinds = {{2, 4, 64}};
  CHECK(memsim::sim::find_problems(model)[0].message ==
        "layer_kinds: layers 2-4 are not a range of the model's layers (0-3)");
  model.layer_kinds = {{2, 3, 0}};
  CHECK(memsim::sim::find_problems(model)[0].key == "layer_kinds");
  model.layer_kinds = {{2, 3, 64}};
  CHECK(memsim::sim::find_problems(model).empty());
  CHECK(model.ffn_not_divided_by(3) == 64);
  model.layer_kinds = {{0, 3, 66}};  // the model's own width is not in use
  CHECK(model.ffn_not_divided_by(3) == 0);
}

TEST_CASE("sdpa keeps K and V repeated to every query head; without GQA it is flash") {
  // Llama 3 8B's 8 KV heads repeated to its 32 query heads: per layer 2 × (32 − 8) heads of
  // 128 × 256 tokens more, in bf16.
  auto kept = [](const std::string& preset, memsim::sim::AttentionImpl attention) {
    auto model = memsim::testing::preset(preset);
    model.layers = 2;
    model.attention = attention;
    const auto plan = memsim::testing::one_gpu_plan(model, 256);
    return memsim::testing::walk(plan).result.activations_per_microbatch.value();
  };
  using memsim::sim::AttentionImpl;
  CHECK(kept("llama3-8b", AttentionImpl::kSdpa) - kept("llama3-8b", AttentionImpl::kFlash) ==
        2 * 2 * (32 - 8) * 128 * 256 * 2);
  CHECK(kept("llama2-7b", AttentionImpl::kSdpa) == kept("llama2-7b", AttentionImpl::kFlash));
}
