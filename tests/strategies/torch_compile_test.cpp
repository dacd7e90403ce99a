// The torch.compile pass: its key, and the graph a compiled layer and a compiled loss make.
// What they keep follows the partitioner's rules (strategies/torch_compile.cpp); the
// published torchtune rows that compile are in tests/validation/published_peaks_test.cpp.

#include <algorithm>

#include <doctest/doctest.h>

#include "sim/layer_graph.h"
#include "strategies/strategy_pass.h"
#include "support/test_support.h"

namespace {

using memsim::sim::OpKind;

constexpr int64_t kSeq = 256;

memsim::strategies::Plan plan_of(memsim::sim::ModelSpec model, uint8_t compiled) {
  model.layers = 2;
  auto plan = memsim::testing::one_gpu_plan(model, kSeq);
  plan.training.compile = compiled;
  return plan;
}

int64_t kept(const memsim::strategies::Plan& plan) {
  return memsim::testing::walk(plan).result.activations_per_microbatch.value();
}

int count_of(const memsim::sim::LayerGraph& graph, OpKind kind) {
  int n = 0;
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op)
    n += graph.op(op).kind == kind ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("a compiled layer keeps what fused kernels keep; the final norm stays eager") {
  auto eager = memsim::testing::preset("llama3-8b");
  eager.norm_kernel = memsim::sim::NormKernel::kEager;
  eager.swiglu_kernel = memsim::sim::SwiGluKernel::kEager;
  auto fused = eager;
  fused.norm_kernel = memsim::sim::NormKernel::kFused;
  fused.swiglu_kernel = memsim::sim::SwiGluKernel::kFused;
  const auto compiled = plan_of(eager, memsim::sim::kCompileLayers);
  const memsim::sim::LayerGraph graph(compiled.model, memsim::strategies::graph_options(compiled));
  CHECK(count_of(graph, OpKind::kNormEager) == 0);
  CHECK(count_of(graph, OpKind::kNorm) == 4);
  CHECK(count_of(graph, OpKind::kFinalNormEager) == 1);
  CHECK(count_of(graph, OpKind::kSwiGluFused) == 2);
  CHECK(count_of(graph, OpKind::kSilu) == 0);
  // All but the final norm as the fused kernels: its eager copies (the fp32 input and the
  // normalised copy) in place of the fused kernel's input, 4 bytes a hidden element.
  CHECK(kept(compiled) - kept(plan_of(fused, 0)) == 4 * kSeq * 4096);
  // Eagerly, each layer's two norms keep their fp32 input and normalised copy besides the
  // input (4 bytes a hidden element each) and SwiGLU keeps silu(gate) (2 bytes an MLP one).
  CHECK(kept(plan_of(eager, 0)) - kept(compiled) == 2 * (2 * 4 * kSeq * 4096 + 2 * kSeq * 14336));
}

TEST_CASE("a compiled loss keeps the 16-bit logits and a log-sum-exp per token, no fp32 copy") {
  const auto model = memsim::testing::preset("llama3-8b");
  const auto compiled = plan_of(model, memsim::sim::kCompileLoss);
  const memsim::sim::LayerGraph graph(compiled.model, memsim::strategies::graph_options(compiled));
  CHECK(count_of(graph, OpKind::kUpcastLogits) == 0);
  CHECK(count_of(graph, OpKind::kCrossEntropyCompiled) == 1);
  CHECK(count_of(graph, OpKind::kCrossEntropy) == 0);
  // The fp32 log-probabilities (4 bytes a logit) become the 16-bit logits (2) and an fp32
  // log-sum-exp per token.
  const int64_t vocab = 128256;
  CHECK(kept(plan_of(model, 0)) - kept(compiled) == kSeq * vocab * (4 - 2) - kSeq * 4);
  // Nor does either pass make an fp32 copy of the logits: the peak falls by more than what
  // is kept.
  const auto peak = [](const memsim::strategies::Plan& plan) {
    return memsim::testing::walk(plan).result.peak.value();
  };
  CHECK(peak(plan_of(model, 0)) - peak(compiled) >= kSeq * vocab * 4);
}

TEST_CASE("eager attention's fp32 softmax keeps the 16-bit scores instead in a compiled layer") {
  auto model = memsim::testing::preset("gpt2-124m");
  model.attention = memsim::sim::AttentionImpl::kEager;
  model.softmax_kernel = memsim::sim::SoftmaxKernel::kFp32;
  model.dropout = 0.0;
  // LayerNorm and GeLU: a compiled layer changes only the softmax's copy, per layer
  // b · a · s² elements of 4 bytes become 2.
  CHECK(kept(plan_of(model, 0)) - kept(plan_of(model, memsim::sim::kCompileLayers)) ==
        2 * model.heads * kSeq * kSeq * (4 - 2));
}

TEST_CASE("training.compile reads a list of the compiled parts") {
  const std::string text = R"(name: compiled
model: {layers: 2, hidden: 256, heads: 4, ffn: 512, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128, compile: [layers, loss]}
)";
  const auto scenario = memsim::testing::scenario_from_text(text, "compiled.yaml");
  CHECK(scenario.variants.at(0).plan.training.compile ==
        (memsim::sim::kCompileLayers | memsim::sim::kCompileLoss));
  const auto problems = memsim::testing::diagnostics_of([&] {
    memsim::testing::scenario_from_text(
        R"(name: compiled
model: {layers: 2, hidden: 256, heads: 4, ffn: 512, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128, compile: [layer]}
)",
        "compiled.yaml");
  });
  CHECK(memsim::testing::has_diagnostic(problems, 4, 36, "did you mean 'layers'?"));
}
