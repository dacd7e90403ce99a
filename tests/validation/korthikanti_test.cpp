// Activation memory per transformer layer against Korthikanti et al. 2022, "Reducing
// Activation Recomputation in Large Transformer Models", §4.1 and Table 2
// (reference/formulas.md §3): GPT-3 layer, 16-bit, eager attention with dropout, GeLU 4h,
// LayerNorm; s = 2048, b = 1, h = 12288, a = 96.
//
// The paper leaves out O(sb) terms. memsim keeps LayerNorm statistics: two norms per layer,
// each saving fp32 mean and 1/std per token, 2 × 2 × 4 = 16 bytes per token. The walk must
// match sbh(34 + 5as/h) + 16sb exactly, hence the paper's figure within 0.1%.

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

constexpr int64_t s = 2048;
constexpr int64_t b = 1;
constexpr int64_t h = 12288;
constexpr int64_t a = 96;
constexpr int64_t kNormStatistics = 16 * s * b;

int64_t layer_bytes(memsim::strategies::CheckpointPolicy policy) {
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("gpt3-175b"), s, b);
  plan.training.chunk_passes.checkpointing = policy;
  const auto w = memsim::testing::walk(plan);
  const int64_t middle = memsim::testing::forward_activation_bytes(w.timeline, 47);
  // Every layer saves the same.
  CHECK(memsim::testing::forward_activation_bytes(w.timeline, 0) == middle);
  CHECK(memsim::testing::forward_activation_bytes(w.timeline, 95) == middle);
  return middle;
}

bool within_permille(double value, double reference) {
  return std::abs(value - reference) <= 1e-3 * reference;
}

}  // namespace

TEST_CASE("no recomputation: sbh(34 + 5as/h) per layer") {
  const int64_t paper = s * b * h * 34 + 5 * a * s * s * b;
  const int64_t bytes = layer_bytes(memsim::strategies::NoCheckpointing{});
  CHECK(bytes == paper + kNormStatistics);
  CHECK(within_permille(static_cast<double>(bytes), static_cast<double>(paper)));
}

TEST_CASE("selective recomputation: 34sbh per layer") {
  const int64_t paper = 34 * s * b * h;
  const int64_t bytes = layer_bytes(memsim::strategies::SelectiveCheckpointing{});
  CHECK(bytes == paper + kNormStatistics);
  CHECK(within_permille(static_cast<double>(bytes), static_cast<double>(paper)));
}

TEST_CASE("full recomputation: 2sbh per layer, the layer's input") {
  const int64_t bytes = layer_bytes(memsim::strategies::FullCheckpointing{1});
  CHECK(bytes == 2 * s * b * h);
}

TEST_CASE("full recomputation rebuilds one layer's activations during its backward") {
  // The recomputed layer lives during its backward: the peak of activations is the kept
  // layer inputs plus one whole layer's saved tensors (no more: one region at a time).
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("gpt3-175b"), s, b);
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{1};
  const auto w = memsim::testing::walk(plan);
  int64_t recomputed_layer_47 = 0;
  for (const auto& e : w.timeline.events()) {
    if (e.phase == memsim::sim::Phase::kRecompute && e.layer == 47 &&
        e.category == memsim::sim::Category::kActivations && e.delta.value() > 0) {
      recomputed_layer_47 += e.delta.value();
    }
  }
  // Recompute re-saves everything the layer saves except its input, kept from forward
  // (2sbh), and its output (the next layer's input), which is already released.
  CHECK(recomputed_layer_47 ==
        34 * s * b * h + 5 * a * s * s * b + kNormStatistics - 2 * s * b * h);
}

namespace {

int64_t tp_layer_bytes(int64_t t, bool sequence_parallel) {
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("gpt3-175b"), s, b);
  plan.cluster.gpus_per_node = t;
  plan.parallel.tp.degree = t;
  plan.parallel.tp.sequence_parallel = sequence_parallel;
  const auto w = memsim::testing::walk(plan);
  return memsim::testing::forward_activation_bytes(w.timeline, 47);
}

}  // namespace

TEST_CASE("tensor parallel: sbh(10 + 24/t + 5as/(ht)) per layer, for t = 2, 4, 8") {
  // The norm statistics are per token and stay whole on every TP rank: 16sb.
  for (int64_t t : {2, 4, 8}) {
    CAPTURE(t);
    const int64_t paper = s * b * h * 10 + s * b * h * 24 / t + 5 * a * s * s * b / t;
    CHECK(tp_layer_bytes(t, false) == paper + kNormStatistics);
    CHECK(
        within_permille(static_cast<double>(tp_layer_bytes(t, false)), static_cast<double>(paper)));
  }
}

TEST_CASE("tensor + sequence parallel: sbh/t (34 + 5as/h) per layer, for t = 2, 4, 8") {
  for (int64_t t : {2, 4, 8}) {
    CAPTURE(t);
    const int64_t paper = (s * b * h * 34 + 5 * a * s * s * b) / t;
    CHECK(tp_layer_bytes(t, true) == paper + kNormStatistics / t);
  }
}
