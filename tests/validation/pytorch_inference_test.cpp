// The inference walk against eager PyTorch: one LLaMA decoder layer's forward without
// gradients, measured by tools/calibration/measure_inference_peak.py (torch 1.13, CPU) and
// recorded in tests/fixtures/pytorch_inference_peak.json as the peak of the bytes created
// inside the layer. memsim's counterpart is the peak of its temporaries during layer 0's ops,
// above what was live when the layer started (its input). Differences are named:
// - HF's softmax(dtype=float32) keeps the probabilities in fp32 before casting them back:
//   2 bytes per score more than memsim's 16-bit softmax output (a fused serving kernel);
// - on the CPU that softmax first copies its 16-bit input to fp32: 4 bytes per score that
//   CUDA's kernel does not make (it upcasts in registers);
// - prefill only: Python keeps the norm's output alive for the whole attention call, while
//   memsim frees it after v_proj, its last reader; memsim allocates the attention output
//   (and holds K and V) for the whole op, PyTorch makes the output after the softmax.

#include <fstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "evaluation/compiled_inference.h"
#include "support/test_support.h"

namespace {

using memsim::sim::Category;

nlohmann::json fixture() {
  std::ifstream in(memsim::testing::source_path("tests/fixtures/pytorch_inference_peak.json"));
  return nlohmann::json::parse(in);
}

/// The measured layer: bf16, hidden 64 = 4 heads × 16, 2 KV heads, SwiGLU 176, RMSNorm,
/// eager attention, served `batch` sequences.
memsim::strategies::Plan layer_plan(const nlohmann::json& dims, int64_t prompt,
                                            int64_t generate) {
  memsim::sim::ModelSpec model;
  model.name = "llama-layer";
  model.layers = 1;
  model.hidden = dims["h"];
  model.heads = dims["a"];
  model.kv_heads = dims["kv"];
  model.ffn = dims["f"];
  model.vocab = 1000;
  model.ffn_type = memsim::sim::FfnType::kSwiGlu;
  model.norm = memsim::sim::NormType::kRmsNorm;
  auto plan = memsim::testing::one_gpu_plan(model, 1);
  plan.mode = memsim::strategies::Mode::kInference;
  plan.inference.batch = dims["b"];
  plan.inference.prompt_len = prompt;
  plan.inference.generate_len = generate;
  return plan;
}

/// memsim's peak of temporaries during layer 0 of pass `pass`, above the layer's start.
int64_t layer_peak(const memsim::strategies::Plan& plan, int32_t pass) {
  memsim::sim::Timeline timeline;
  memsim::evaluation::CompiledInference(memsim::strategies::serving_plan(plan))
      .walk(0, memsim::strategies::kEveryStep, &timeline);
  const auto live = timeline.live_by_category();
  const auto column = static_cast<Eigen::Index>(Category::kTemporary);
  int64_t before = -1;
  int64_t peak = 0;
  for (size_t i = 0; i < timeline.events().size(); ++i) {
    const auto& event = timeline.events()[i];
    if (event.microbatch != pass) continue;
    const int64_t now = live(static_cast<Eigen::Index>(i), column);
    if (event.layer != 0) {
      if (event.layer < 0) before = now;
      continue;
    }
    peak = std::max(peak, now);
  }
  REQUIRE(before >= 0);
  return peak - before;
}

}  // namespace

TEST_CASE("a decode step's layer matches eager PyTorch once its softmax is named") {
  const auto doc = fixture();
  const auto& dims = doc["dims"];
  const int64_t cache = doc["decode"]["cache_tokens"];
  const int64_t scores = dims["b"].get<int64_t>() * dims["a"].get<int64_t>() * cache;
  const int64_t memsim = layer_peak(layer_plan(dims, cache - 1, 1), 1);
  // 279,296 B: Q, K, V and output of the new tokens (768), the cache expanded to every query
  // head for K and for V (2 × 131,072) and the 16-bit scores and probabilities (2 × 8,192).
  CHECK(memsim == 279'296);
  CHECK(memsim + 2 * scores + 4 * scores == doc["decode"]["peak_bytes"].get<int64_t>());
}

TEST_CASE("a prefill's layer matches eager PyTorch within 2% once its softmax is named") {
  const auto doc = fixture();
  const auto& dims = doc["dims"];
  const int64_t s = doc["prefill"]["tokens"];
  const int64_t scores = dims["b"].get<int64_t>() * dims["a"].get<int64_t>() * s * s;
  const int64_t memsim = layer_peak(layer_plan(dims, s, 0), 0);
  // 2,424,832 B at the attention core: Q (65,536), K and V (32,768 each), the output and the
  // expanded K and V (65,536 each), the scores and probabilities (1,048,576 each). PyTorch
  // measured 5,505,024: 5 MiB of scores (bf16 after the mask, the fp32 copy, the fp32
  // probabilities), Q after RoPE, the expanded K and V and the norm's output.
  CHECK(memsim == 2'424'832);
  const auto measured = doc["prefill"]["peak_bytes"].get<double>();
  CHECK(static_cast<double>(memsim + 2 * scores + 4 * scores) ==
        doctest::Approx(measured).epsilon(0.02));
}
