// The LM head and loss, whole and chunked, against what eager PyTorch holds: measured by
// tools/calibration/measure_chunked_loss.py (torch 1.13, CPU; torchtune v0.6.1's
// chunked_output and CEWithChunkedOutputLoss) in tests/fixtures/pytorch_chunked_loss.json.
// Compared to the byte: the logits-sized tensors (s·b·V: bf16 logits, fp32 copies and
// log-probabilities, their gradients) and the copied input chunks (s·b·h). Not compared:
// labels and scalars (a few hundred bytes: torchtune copies each label chunk, memsim keeps
// the one label tensor), and the projection phase of backward, where torch 1.13 sums the
// weight gradient out of place (three V·h buffers; PyTorch 2 adds in place).

#include <fstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "sim/microbatch_recipe.h"
#include "support/test_support.h"

namespace {

using memsim::sim::Dim;

nlohmann::json fixture() {
  std::ifstream in(memsim::testing::source_path("tests/fixtures/pytorch_chunked_loss.json"));
  return nlohmann::json::parse(in);
}

bool has_dim(const memsim::sim::Shape& shape, Dim dim) {
  return std::find(shape.begin(), shape.end(), dim) != shape.end();
}

/// Live bytes of the logits-sized tensors and of the copied input chunks.
struct Live {
  int64_t logits_sized = 0;
  int64_t input_chunks = 0;
};

/// What the head holds over one step of a plan: at the forward's fullest moment from the
/// first projection on, after the forward, and at the fullest moment of the loss's backward
/// (before the first projection's backward).
struct HeadMemory {
  Live forward_peak;
  Live after_forward;
  Live backward_peak;
};

HeadMemory head_memory(const memsim::strategies::Plan& plan) {
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& graph = compiled.graph();
  const auto& program = compiled.program(0);
  const auto& index = *program.index;
  const auto recipe = memsim::sim::compile_recipe(program, 0);
  Live live;
  auto apply = [&](const memsim::sim::RecipeDelta& delta) {
    if (delta.quantity >= index.classes().count()) return;  // buffers, states
    const auto& shape = index.classes().spec(delta.quantity).shape;
    const int64_t bytes = memsim::sim::delta_bytes(delta, program.sizes).value();
    if (has_dim(shape, Dim::kVocab) && has_dim(shape, Dim::kHeadSeq)) live.logits_sized += bytes;
    if (has_dim(shape, Dim::kHeadSeq) && has_dim(shape, Dim::kHidden)) live.input_chunks += bytes;
  };
  auto is_projection = [&](const memsim::sim::RecipeOp& op) {
    const auto kind = graph.op(op.op).kind;
    return kind == memsim::sim::OpKind::kLmHead || kind == memsim::sim::OpKind::kLmHeadChunk;
  };
  HeadMemory memory;
  bool in_head = false;
  for (const auto& op : recipe.forward) {
    in_head = in_head || is_projection(op);
    for (uint32_t i = op.begin; i < op.split; ++i)
      apply(recipe.deltas[i]);
    if (in_head && live.logits_sized > memory.forward_peak.logits_sized) memory.forward_peak = live;
    for (uint32_t i = op.split; i < op.end; ++i)
      apply(recipe.deltas[i]);
  }
  memory.after_forward = live;
  for (const auto& op : recipe.backward) {
    if (is_projection(op)) break;
    for (uint32_t i = op.begin; i < op.split; ++i)
      apply(recipe.deltas[i]);
    if (live.logits_sized > memory.backward_peak.logits_sized) memory.backward_peak = live;
    for (uint32_t i = op.split; i < op.end; ++i)
      apply(recipe.deltas[i]);
  }
  return memory;
}

/// The fixture's loss head (one tiny layer before it), on one GPU.
memsim::strategies::Plan loss_head_plan(const nlohmann::json& dims) {
  memsim::sim::ModelSpec model;
  model.name = "loss-head";
  model.layers = 1;
  model.hidden = dims["hidden"];
  model.heads = 4;
  model.kv_heads = 4;
  model.ffn = 128;
  model.vocab = dims["V"];
  model.norm = memsim::sim::NormType::kRmsNorm;
  return memsim::testing::one_gpu_plan(model, dims["s"], dims["b"]);
}

}  // namespace

TEST_CASE("a chunked loss holds what torchtune's does in eager PyTorch, whole or in N chunks") {
  const auto doc = fixture();
  auto plan = loss_head_plan(doc["dims"]);
  REQUIRE(doc["cases"].size() == 5);
  for (const auto& c : doc["cases"]) {
    if (!c["upcast"].get<bool>()) continue;
    const int64_t chunks = c["chunks"];
    CAPTURE(chunks);
    plan.training.loss_chunks = chunks;
    const HeadMemory memory = head_memory(plan);
    // Forward: every chunk's 16-bit logits, the log-probabilities so far and the last
    // chunk's fp32 copy: (6 + 4/N) bytes per logit.
    CHECK(memory.forward_peak.logits_sized == c["forward_peak"]["composition"]["sbV_bytes"]);
    // What backward needs: the fp32 log-probabilities, 4 bytes per logit, and with chunks
    // the copied input chunks.
    CHECK(memory.after_forward.logits_sized == c["saved"]["composition"]["sbV_bytes"]);
    if (chunks > 1) {
      CHECK(memory.forward_peak.input_chunks == c["forward_peak"]["composition"]["sbh_bytes"]);
      CHECK(memory.after_forward.input_chunks == c["saved"]["composition"]["sbh_bytes"]);
    }
    // The loss's backward: the log-probabilities and one chunk's two fp32 gradients.
    CHECK(memory.backward_peak.logits_sized ==
          c["backward_phase_peaks"]["loss"]["composition"]["sbV_bytes"]);
  }
}

TEST_CASE("a loss on the 16-bit logits holds what PyTorch holds without the upcast") {
  const auto doc = fixture();
  auto plan = loss_head_plan(doc["dims"]);
  plan.training.loss_upcast = false;
  const auto& cases = doc["cases"];
  const auto c = std::find_if(cases.begin(), cases.end(), [](const nlohmann::json& each) {
    return !each["upcast"].get<bool>();
  });
  REQUIRE(c != cases.end());
  const HeadMemory memory = head_memory(plan);
  // Forward: the 16-bit logits and log-probabilities (4 bytes a logit); then the
  // log-probabilities (2); in the loss's backward their gradients too (6).
  CHECK(memory.forward_peak.logits_sized == (*c)["forward_peak"]["composition"]["sbV_bytes"]);
  CHECK(memory.after_forward.logits_sized == (*c)["saved"]["composition"]["sbV_bytes"]);
  CHECK(memory.backward_peak.logits_sized ==
        (*c)["backward_phase_peaks"]["loss"]["composition"]["sbV_bytes"]);
}

TEST_CASE("the chunked loss's peak falls by much less than the number of chunks") {
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("llama3-8b"), 4096, 1);
  plan.model.layers = 2;
  const auto whole = head_memory(plan);
  plan.training.loss_chunks = 8;
  const auto chunked = head_memory(plan);
  const double u = 4096.0 * 128'256;  // logits per sequence
  CHECK(static_cast<double>(whole.forward_peak.logits_sized) == doctest::Approx(10 * u));
  CHECK(static_cast<double>(chunked.forward_peak.logits_sized) == doctest::Approx(6.5 * u));
  CHECK(static_cast<double>(whole.backward_peak.logits_sized) == doctest::Approx(12 * u));
  CHECK(static_cast<double>(chunked.backward_peak.logits_sized) == doctest::Approx(5 * u));
}
