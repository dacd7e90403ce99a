#include "scenarios/scenario.h"

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

memsim::scenarios::Scenario read(const std::string& text, std::vector<std::string> sets = {}) {
  return memsim::scenarios::read_scenario(memsim::scenarios::parse_yaml(text, "s.yaml"), "s.yaml",
                                          std::move(sets));
}

/// Llama 2 7B in bf16 on 2,048 tokens, then the same with `model` (a flow mapping) over it.
std::vector<memsim::strategies::Plan> llama2_7b_and(const std::string& model) {
  const auto scenario = read(
      "model: llama2-7b\nhardware: {gpu: a100-80gb}\n"
      "training: {seq_len: 2048}\nprecision: bf16-mixed\n"
      "compare:\n  - {name: other, model: " +
      model + "}\n");
  return {scenario.variants[0].plan, scenario.variants[1].plan};
}

/// What one microbatch keeps for backward on the plan's first rank.
int64_t kept(const memsim::strategies::Plan& plan) {
  return memsim::testing::walk(plan).result.activations_per_microbatch.value();
}

}  // namespace

TEST_CASE("compare variants override the base key by key") {
  const auto scenario = read(R"(name: t
model: llama2-7b
hardware: {gpu: a100-80gb, nodes: 1, gpus_per_node: 1}
training: {seq_len: 4096, global_batch: 8, optimizer: adamw}
precision: bf16-mixed
compare:
  - {name: flash, model: {attention: flash}}
  - {name: cheap, precision: {recipe: bf16}, training: {optimizer: {name: adam8bit, block_size: 2048}}}
  - {name: ckpt, checkpointing: {full: {every: 4}}}
)");
  REQUIRE(scenario.variants.size() == 4);
  CHECK(scenario.name == "t");
  const auto& base = scenario.variants[0].plan;
  CHECK(scenario.variants[0].name == "base");
  CHECK(base.model.name == "llama2-7b");
  CHECK(base.training.global_batch == 8);
  CHECK(base.microbatches() == 8);

  const auto& flash = scenario.variants[1].plan;
  CHECK(flash.model.name == "llama2-7b");  // the preset survives a partial model override
  CHECK(flash.model.attention == memsim::sim::AttentionImpl::kFlash);

  const auto& cheap = scenario.variants[2].plan;
  CHECK(cheap.precision.recipe == memsim::strategies::PrecisionRecipe::kBf16);
  CHECK(cheap.training.optimizer.name == "adam8bit");
  CHECK(cheap.training.optimizer.values.at("block_size") == 2048);
  CHECK(cheap.training.seq_len == 4096);  // inherited

  const auto* full = std::get_if<memsim::strategies::FullCheckpointing>(
      &scenario.variants[3].plan.training.chunk_passes.checkpointing);
  REQUIRE(full != nullptr);
  CHECK(full->every == 4);
}

TEST_CASE("--set overrides any dotted key before reading") {
  const auto scenario = read(R"(model: llama2-7b
hardware: {gpu: a100-80gb}
training: {seq_len: 4096}
)",
                             {"training.seq_len=1024", "model.attention=flash",
                              "hardware.capacity=40 GiB", "checkpointing={full: {every: 2}}"});
  const auto& plan = scenario.variants[0].plan;
  CHECK(plan.training.seq_len == 1024);
  CHECK(plan.model.attention == memsim::sim::AttentionImpl::kFlash);
  CHECK(plan.model.layers == 32);
  CHECK(plan.cluster.gpu->capacity.value() == 40LL << 30);
  CHECK(std::get<memsim::strategies::FullCheckpointing>(plan.training.chunk_passes.checkpointing)
            .every == 2);
}

TEST_CASE(
    "model.norm_kernel: eager is Hugging Face's RMSNorm, which keeps more than the fused one") {
  const auto plans = llama2_7b_and("{norm_kernel: eager}");
  const auto& fused = plans[0];
  const auto& eager = plans[1];
  CHECK(fused.model.norm_kernel == memsim::sim::NormKernel::kFused);
  REQUIRE(eager.model.norm_kernel == memsim::sim::NormKernel::kEager);
  // Per RMSNorm (two a layer and the final one) 6 bytes an element kept instead of 2.
  const int64_t sbh = 2048LL * 4096;
  CHECK(kept(eager) - kept(fused) == (2 * 32 + 1) * 4 * sbh);
}

TEST_CASE("model.swiglu_kernel: fused keeps gate and up, one MLP-wide tensor a layer less") {
  const auto plans = llama2_7b_and("{swiglu_kernel: fused}");
  const auto& eager = plans[0];
  const auto& fused = plans[1];
  CHECK(eager.model.swiglu_kernel == memsim::sim::SwiGluKernel::kEager);
  REQUIRE(fused.model.swiglu_kernel == memsim::sim::SwiGluKernel::kFused);
  // Eager: the gate (SiLU's input), SiLU's output and up (the product's), the product (the
  // down projection's input). Fused: gate and up, and its output.
  CHECK(kept(eager) - kept(fused) == 32 * 2 * 2048LL * 11008);
}

TEST_CASE("a model from a Hugging Face config.json, relative to the scenario") {
  const std::string path = memsim::testing::source_path("tests/fixtures/hf/from_config.yaml");
  const auto scenario = memsim::scenarios::load_scenario(path);
  CHECK(scenario.variants[0].plan.model.kv_heads == 8);
  CHECK(scenario.variants[0].plan.model.attention == memsim::sim::AttentionImpl::kFlash);
}

TEST_CASE("every shipped scenario is valid and says what question it answers") {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(memsim::testing::source_path("scenarios"))) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(memsim::scenarios::load_scenario(entry.path().string()));
    std::ifstream in(entry.path());
    std::string first;
    std::getline(in, first);
    CHECK(first.rfind("# Question:", 0) == 0);
  }
  CHECK(count >= 4);
}

TEST_CASE("--set wins over what a variant sets, in the base and every variant") {
  const char* text = R"(model: {layers: 2, hidden: 64, heads: 4, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
compare:
  - {name: long, training: {seq_len: 2048}}
)";
  const auto scenario =
      memsim::testing::scenario_from_text(text, "s.yaml", {"training.seq_len=4096"});
  REQUIRE(scenario.variants.size() == 2);
  CHECK(scenario.variants[0].plan.training.seq_len == 4096);
  CHECK(scenario.variants[1].plan.training.seq_len == 4096);
  // Without it, the variant's own value stands.
  CHECK(memsim::testing::scenario_from_text(text, "s.yaml").variants[1].plan.training.seq_len ==
        2048);
}

TEST_CASE("model.layer_kinds: layers, or ranges of them, with their own MLP width") {
  const char* text = R"(model:
  preset: llama3-8b
  layer_kinds:
    - {layers: 0-2, ffn: 28672}
    - {layers: 7, ffn: 7168}
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
)";
  const auto scenario = memsim::testing::scenario_from_text(text, "s.yaml");
  const memsim::sim::ModelSpec& model = scenario.variants[0].plan.model;
  REQUIRE(model.layer_kinds.size() == 2);
  CHECK(model.layer_kinds[0] == memsim::sim::LayerRange{0, 2, 28672});
  CHECK(model.layer_kinds[1] == memsim::sim::LayerRange{7, 7, 7168});
  CHECK(model.ffn_of_layer(1) == 28672);
  CHECK(model.ffn_of_layer(3) == 14336);
  CHECK(model.ffn_of_layer(7) == 7168);
}
