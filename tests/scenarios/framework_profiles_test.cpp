// framework: lays a profile of keys under the scenario; the user's keys win, a variant may
// choose another framework, and a profile's choices apply only to the ops the model has.

#include "scenarios/framework_profiles.h"

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "scenarios/scenario.h"
#include "scenarios/scenario_keys.h"
#include "support/test_support.h"

namespace {

using memsim::scenarios::Diagnostic;
using memsim::sim::NormKernel;
using memsim::sim::SwiGluKernel;
using memsim::strategies::Dtype;
using memsim::strategies::GradientBuffers;
using memsim::strategies::Plan;
using memsim::strategies::StepImplementation;

memsim::scenarios::Scenario read(const std::string& text, std::vector<std::string> sets = {}) {
  return memsim::scenarios::read_scenario(memsim::scenarios::parse_yaml(text, "s.yaml"), "s.yaml",
                                          std::move(sets));
}

/// Llama 2 7B training on one GPU under `framework`, with `extra` lines after it.
Plan llama_under(const std::string& framework, const std::string& extra = "") {
  const auto scenario = read("framework: " + framework +
                             "\nmodel: llama2-7b\nhardware: {gpu: a100-80gb}\n"
                             "training: {seq_len: 2048}\n" +
                             extra);
  REQUIRE(scenario.variants.size() == 1);
  return scenario.variants[0].plan;
}

std::vector<Diagnostic> errors_of(const std::string& text) {
  return memsim::testing::diagnostics_of(
      [&] { memsim::testing::scenario_from_text(text, "bad.yaml", {}); });
}

std::string file_text(const std::string& relative) {
  std::ifstream in(memsim::testing::source_path(relative));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("every profile reads on a Llama and a GPT-2, and generic changes nothing") {
  const Plan none = read(
                        "model: llama2-7b\nhardware: {gpu: a100-80gb}\n"
                        "training: {seq_len: 2048}\n")
                        .variants[0]
                        .plan;
  CHECK(llama_under("generic") == none);
  for (const std::string& name : memsim::scenarios::framework_names()) {
    CAPTURE(name);
    CHECK_NOTHROW(llama_under(name));
    // A LayerNorm, GeLU model: the profiles' RMSNorm and SwiGLU choices do not apply.
    const auto gpt = read("framework: " + name +
                          "\nmodel: gpt2\nhardware: {gpu: a100-80gb}\ntraining: {seq_len: 1024}\n");
    CHECK(gpt.variants[0].plan.model.norm_kernel == NormKernel::kFused);
    CHECK(gpt.variants[0].plan.model.swiglu_kernel == SwiGluKernel::kEager);
  }
}

TEST_CASE("a profile sets its framework's keys") {
  const Plan megatron = llama_under("megatron");
  CHECK(megatron.model.attention == memsim::sim::AttentionImpl::kFlash);
  CHECK(megatron.model.swiglu_kernel == SwiGluKernel::kFused);
  CHECK(megatron.precision.gradients == Dtype::kFp32);
  CHECK(megatron.parallel.dp.reduce_bucket_elements == 1);
  CHECK(megatron.training.optimizer.implementation == StepImplementation::kFused);

  const Plan hf = llama_under("hf");
  CHECK(hf.model.norm_kernel == NormKernel::kEager);
  CHECK(hf.model.swiglu_kernel == SwiGluKernel::kEager);
  CHECK(hf.training.gradient_buffers == GradientBuffers::kOnDemand);
  CHECK_FALSE(hf.parallel.dp.gradient_as_bucket_view);
  // Its fp32 softmax is eager attention's: dropped under its default sdpa (flash), kept
  // when the scenario chooses eager attention.
  CHECK(hf.model.softmax_kernel == memsim::sim::SoftmaxKernel::kFused);
  const auto eager = read(
      "framework: hf\nmodel: {preset: llama2-7b, attention: eager}\nhardware: {gpu: a100-80gb}\n"
      "training: {seq_len: 2048}\n");
  CHECK(eager.variants[0].plan.model.softmax_kernel == memsim::sim::SoftmaxKernel::kFp32);
  // Said by the scenario itself, it needs eager attention.
  CHECK(memsim::testing::has_diagnostic(
      errors_of("model: {preset: llama2-7b, attention: flash, softmax_kernel: fp32}\n"
                "hardware: {gpu: a100-80gb}\ntraining: {seq_len: 2048}\n"),
      1, 62, "softmax_kernel = fp32 is eager attention's softmax"));

  const Plan torchtune = llama_under("torchtune");
  CHECK(torchtune.precision.recipe == memsim::strategies::PrecisionRecipe::kBf16);
  CHECK(torchtune.training.loss_chunks == 8);
  CHECK(torchtune.model.norm_kernel == NormKernel::kEager);

  const Plan titan = llama_under("torchtitan");
  CHECK(titan.parallel.dp.zero == 3);
  CHECK(titan.parallel.dp.sharding == memsim::strategies::Sharding::kFsdp2);
  const auto* sac = std::get_if<memsim::strategies::OpSelectiveCheckpointing>(
      &titan.training.chunk_passes.checkpointing);
  REQUIRE(sac != nullptr);
  CHECK(sac->matmul_every == 2);
  // The scenario's own policy, a word, replaces the profile's mapping.
  CHECK(std::holds_alternative<memsim::strategies::FullCheckpointing>(
      llama_under("torchtitan", "checkpointing: full\n").training.chunk_passes.checkpointing));

  const Plan deepspeed = llama_under("deepspeed");
  CHECK(deepspeed.parallel.dp.reduce_bucket_elements == 500'000'000);
  CHECK(deepspeed.training.gradient_buffers == GradientBuffers::kPersistent);
  CHECK(deepspeed.parallel.dp.gathering == memsim::strategies::Gathering::kModules);
  CHECK(deepspeed.parallel.dp.modules == memsim::strategies::ModuleGatheringLimits{});
}

TEST_CASE("the scenario's keys win over its framework's, shorthands included") {
  const Plan plan = read(
                        "framework: torchtune\nmodel: {preset: llama2-7b, norm_kernel: fused}\n"
                        "hardware: {gpu: a100-80gb}\ntraining: {seq_len: 2048}\n"
                        "precision: bf16-mixed\n")
                        .variants[0]
                        .plan;
  CHECK(plan.precision.recipe == memsim::strategies::PrecisionRecipe::kBf16Mixed);
  CHECK(plan.model.norm_kernel == NormKernel::kFused);
  CHECK(plan.training.loss_chunks == 8);  // what the scenario leaves, the profile still sets

  const Plan set = read(
                       "framework: megatron\nmodel: llama2-7b\nhardware: {gpu: a100-80gb}\n"
                       "training: {seq_len: 2048}\n",
                       {"precision.gradients=bf16", "framework=hf"})
                       .variants[0]
                       .plan;
  CHECK(set.precision.gradients == Dtype::kBf16);
  CHECK(set.model.norm_kernel == NormKernel::kEager);            // hf's, chosen by --set
  CHECK(set.parallel.dp.reduce_bucket_elements == 500'000'000);  // not megatron's
}

TEST_CASE("a variant that names another framework gets that profile, not the base's") {
  const auto scenario = read(
      "framework: megatron\nmodel: llama2-7b\nhardware: {gpu: a100-80gb}\n"
      "training: {seq_len: 2048}\ncompare:\n  - {name: titan, framework: torchtitan}\n");
  REQUIRE(scenario.variants.size() == 2);
  const Plan& titan = scenario.variants[1].plan;
  CHECK(titan.precision.gradients == std::nullopt);
  CHECK(titan.model.swiglu_kernel == SwiGluKernel::kEager);
  CHECK(titan.training.gradient_buffers == GradientBuffers::kOnDemand);
  CHECK(scenario.variants[0].plan.precision.gradients == Dtype::kFp32);
}

TEST_CASE("a profile's optimizer implementation applies only to optimizers that have it") {
  // hf's profile names fused; 8-bit Adam has it, Lion has only its single-tensor step: the
  // profile's word is dropped for Lion, not an error.
  const auto scenario = read(
      "framework: hf\nmodel: llama2-7b\nhardware: {gpu: a100-80gb}\n"
      "training: {seq_len: 2048, optimizer: adam8bit}\n"
      "compare: [{name: lion, training: {optimizer: lion}}]\n");
  REQUIRE(scenario.variants.size() == 2);
  CHECK(scenario.variants[0].plan.training.optimizer.implementation == StepImplementation::kFused);
  CHECK(scenario.variants[1].plan.training.optimizer.implementation == std::nullopt);
  // Written by the user, the same mismatch is an error at it.
  const auto errors = errors_of(
      "model: llama2-7b\nhardware: {gpu: a100-80gb}\n"
      "training: {seq_len: 2048, optimizer: {name: adam8bit, implementation: foreach}}\n");
  CHECK(memsim::testing::has_diagnostic(errors, 3, 71, "expected fused"));
}

TEST_CASE("an unknown framework is an error at its value, with the nearest name") {
  const auto errors = errors_of(
      "framework: megatorn\nmodel: llama2-7b\nhardware: {gpu: a100-80gb}\n"
      "training: {seq_len: 2048}\n");
  CHECK(memsim::testing::has_diagnostic(errors, 1, 12, "did you mean 'megatron'?"));
  const auto listed = errors_of(
      "framework: [hf]\nmodel: llama2-7b\nhardware: {gpu: a100-80gb}\ntraining: {seq_len: 2048}\n");
  CHECK(memsim::testing::has_diagnostic(listed, 1, 12, "expected generic, megatron"));
}

TEST_CASE("the framework key, docs/scenarios.md and docs/frameworks.md name every profile") {
  const std::string scenarios = file_text("docs/scenarios.md");
  const std::string frameworks = file_text("docs/frameworks.md");
  const memsim::scenarios::ScenarioKey* key = nullptr;
  for (const auto& k : memsim::scenarios::scenario_keys()) {
    if (k.key == "framework") key = &k;
  }
  REQUIRE(key != nullptr);
  for (const std::string& name : memsim::scenarios::framework_names()) {
    CAPTURE(name);
    CHECK(std::string(key->meaning).find(name) != std::string::npos);
    CHECK(scenarios.find("| `" + name + "` |") != std::string::npos);
    CHECK(frameworks.find("`framework: " + name + "`") != std::string::npos);
  }
}
