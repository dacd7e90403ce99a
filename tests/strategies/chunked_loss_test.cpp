// The chunked-loss pass: its key, the layouts it refuses, and the graph it shapes. What the
// chunks keep is measured against PyTorch in tests/validation/pytorch_chunked_loss_test.cpp.

#include <doctest/doctest.h>

#include "evaluation/compiled_inference.h"
#include "scenarios/layout_problems.h"
#include "scenarios/sweep.h"
#include "strategies/layout.h"
#include "strategies/strategy_pass.h"
#include "support/test_support.h"

namespace {

memsim::strategies::Plan plan_with_chunks(int64_t chunks) {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 2;
  auto plan = memsim::testing::one_gpu_plan(model, 512);
  plan.training.loss_chunks = chunks;
  return plan;
}

}  // namespace

TEST_CASE("a training plan's graph takes its loss chunks; serving builds the model as defined") {
  auto plan = plan_with_chunks(4);
  CHECK(memsim::strategies::graph_options(plan).loss_chunks == 4);
  const memsim::sim::LayerGraph as_defined(plan.model);
  CHECK(memsim::sim::LayerGraph(plan.model, memsim::strategies::graph_options(plan)).op_count() >
        as_defined.op_count());
  // Serving takes only the plan's serving part, and builds the graph from the model alone.
  plan.mode = memsim::strategies::Mode::kInference;
  const memsim::evaluation::CompiledInference serving(memsim::strategies::serving_plan(plan));
  CHECK(serving.graph().op_count() == as_defined.op_count());
}

TEST_CASE("loss chunks that do not divide the sequence are a layout problem of the pass") {
  using memsim::strategies::kCoreLayoutReasons;
  using memsim::strategies::LayoutReason;
  auto plan = plan_with_chunks(3);
  const auto problems = memsim::strategies::resolve_layout(plan);
  size_t found = 0;
  for (size_t r = kCoreLayoutReasons; r < memsim::strategies::layout_reason_count(); ++r) {
    if (!problems.test(r)) continue;
    ++found;
    const auto reason = static_cast<LayoutReason>(r);
    CHECK(memsim::scenarios::layout_keys(reason).front() == "training.loss_chunks");
    CHECK(memsim::scenarios::layout_message(reason, plan) ==
          "training.loss_chunks = 3 does not divide training.seq_len = 512");
  }
  CHECK(found == 1);
  CHECK(memsim::strategies::layout_errors(problems).count() == 1);
  auto even = plan_with_chunks(4);
  CHECK(memsim::strategies::resolve_layout(even).none());
}

TEST_CASE("a sweep over loss chunks skips the uneven ones, by the pass's phrase") {
  const auto scenario = memsim::testing::scenario_from_text(R"(name: chunks
model: {layers: 2, hidden: 256, heads: 4, ffn: 512, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 256}
sweep: {training.loss_chunks: [1, 3, 4]}
)",
                                                            "chunks.yaml");
  const auto sweeps = memsim::scenarios::read_sweeps(scenario);
  const auto& sweep = sweeps.front().sweep;
  auto plan = sweep.base();
  CHECK(sweep.prepare(0, plan).empty());
  CHECK(sweep.prepare(1, plan) == "loss chunks do not divide seq_len");
  CHECK(sweep.prepare(2, plan).empty());
  CHECK(plan.training.loss_chunks == 4);
}

TEST_CASE("each chunk's projection but the one carrying the weight makes a whole weight gradient") {
  const auto plan = plan_with_chunks(4);
  const memsim::sim::LayerGraph graph(plan.model, memsim::strategies::graph_options(plan));
  int made = 0;
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op) {
    const auto& node = graph.op(op);
    if (node.kind != memsim::sim::OpKind::kLmHeadChunk) continue;
    // The last chunk's projection carries the parameter; the others share it.
    CHECK(node.params.empty() == (node.name != "chunk3.lm_head"));
    for (const memsim::sim::TensorId t : node.backward_workspace) {
      const auto& spec = graph.tensor(t).spec;
      CHECK(spec.shape.rank() == 2);
      CHECK(spec.shape[0] == memsim::sim::Dim::kVocab);
      CHECK(spec.shape[1] == memsim::sim::Dim::kHidden);
      ++made;
    }
  }
  CHECK(made == 3);
  // The walk holds one such gradient beside the shared one while a chunk's backward runs:
  // the most temporary memory is at least a 16-bit vocab × hidden matrix.
  const auto walk = memsim::testing::walk(plan);
  const auto live = walk.timeline.live_by_category();
  CHECK(live.col(static_cast<int>(memsim::sim::Category::kTemporary)).maxCoeff() >=
        2.0 * 32000 * 4096);
}
