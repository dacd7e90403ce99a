// The precision pass: its recipes' bytes per parameter and the keys it declares, read by
// the key table (the shorthand, a recipe with dtype overrides, and words it does not know).

#include "strategies/precision.h"

#include <doctest/doctest.h>

#include "strategies/strategy_pass.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::Dtype;
using memsim::strategies::Precision;
using memsim::strategies::PrecisionRecipe;

const char* kBase = R"(name: precision
model: {layers: 2, hidden: 256, heads: 4, ffn: 512, vocab: 512}
hardware: {gpu: a100-80gb}
training: {seq_len: 128, micro_batch: 1}
)";

Precision read(const std::string& precision) {
  const auto scenario = memsim::testing::scenario_from_text(
      std::string(kBase) + "precision: " + precision + "\n", "p.yaml");
  return scenario.variants.front().plan.precision;
}

}  // namespace

TEST_CASE("mixed precision with Adam keeps 16 bytes per parameter, pure bf16 8") {
  // Rajbhandari et al. 2020 (ZeRO) §3.1: 2 (fp16 weights) + 2 (gradients) + 4 (fp32
  // master) + 4 + 4 (Adam's moments); pure bf16 keeps no master and bf16 moments.
  auto per_param = [](const Precision& p) {
    return p.weight_bytes() + p.gradient_bytes() + p.master_bytes() + 2 * p.state_bytes();
  };
  CHECK(per_param({PrecisionRecipe::kBf16Mixed}) == 16);
  CHECK(per_param({PrecisionRecipe::kFp16Mixed}) == 16);
  CHECK(per_param({PrecisionRecipe::kFp32}) == 16);
  CHECK(per_param({PrecisionRecipe::kBf16}) == 8);
  // Megatron-LM's fp32 main gradients: 18 bytes.
  CHECK(per_param({PrecisionRecipe::kBf16Mixed, Dtype::kFp32}) == 18);
}

TEST_CASE("the pass declares the precision keys, and the key table reads them") {
  const auto& passes = memsim::strategies::strategy_passes();
  const auto pass = std::find_if(passes.begin(), passes.end(), [](const auto& p) {
    return std::string(p.name) == "mixed precision";
  });
  REQUIRE(pass != passes.end());
  std::vector<std::string> keys;
  for (const auto& key : pass->keys)
    keys.push_back(key.key);
  CHECK(keys == std::vector<std::string>{"precision", "precision.recipe", "precision.gradients",
                                         "precision.activations"});
  CHECK(read("bf16").recipe == PrecisionRecipe::kBf16);
  const Precision p = read("{recipe: fp16-mixed, gradients: fp32, activations: fp32}");
  CHECK(p.recipe == PrecisionRecipe::kFp16Mixed);
  CHECK(p.gradients == Dtype::kFp32);
  CHECK(p.activations == Dtype::kFp32);
  CHECK(read("{gradients: bf16}").recipe == PrecisionRecipe::kBf16Mixed);  // the default
  const auto errors =
      memsim::testing::diagnostics_of([] { read("{recipe: bf16-mix, activations: fp8}"); });
  CHECK(memsim::testing::has_diagnostic(errors, 5, 21, "did you mean 'bf16-mixed'"));
  CHECK(memsim::testing::has_diagnostic(errors, 5, 44, "expected fp32, bf16 or fp16"));
}

TEST_CASE("autocast over fp32 parameters: fp32 states, an fp32 stream, 16-bit matmuls") {
  const Precision amp{PrecisionRecipe::kAmpBf16};
  CHECK(amp.weight_bytes() + amp.gradient_bytes() + amp.master_bytes() + 2 * amp.state_bytes() ==
        16);
  CHECK(amp.bytes(memsim::sim::DtypeClass::kActivation) == 2);
  CHECK(amp.bytes(memsim::sim::DtypeClass::kStream) == 4);
  // The graph casts under it, and its stream is fp32; bf16-mixed's is 16-bit.
  auto plan =
      memsim::testing::scenario_from_text(std::string(kBase) + "precision: amp-bf16\n", "p.yaml")
          .variants.front()
          .plan;
  auto options = memsim::strategies::graph_options(plan);
  CHECK(options.autocast);
  CHECK(options.fp32_stream);
  plan.precision = {PrecisionRecipe::kBf16Mixed};
  options = memsim::strategies::graph_options(plan);
  CHECK_FALSE(options.autocast);
  CHECK_FALSE(options.fp32_stream);
  // Checkpointing would drop the weights' casts that autocast's cache keeps: refused.
  const auto errors = memsim::testing::diagnostics_of([] {
    memsim::testing::scenario_from_text(
        std::string(kBase) + "precision: amp-bf16\ncheckpointing: full\n", "p.yaml");
  });
  CHECK(memsim::testing::has_diagnostic(errors, 5, 12, "autocast caches every weight"));
}
