#include "scenarios/model_presets.h"

#include <doctest/doctest.h>

#include "sim/layer_graph.h"

namespace {

int64_t parameters_of(const std::string& name) {
  const auto* preset = memsim::scenarios::find_preset(name);
  REQUIRE(preset != nullptr);
  return memsim::sim::LayerGraph(preset->spec).parameter_count();
}

}  // namespace

TEST_CASE("every preset's parameter count, computed from its layer graph, is exact") {
  // reference/formulas.md §1: counts published with each model's Hugging Face card.
  CHECK(parameters_of("gpt2-124m") == 124'439'808);
  CHECK(parameters_of("llama2-7b") == 6'738'415'616);
  CHECK(parameters_of("llama2-13b") == 13'015'864'320);
  CHECK(parameters_of("llama2-70b") == 68'976'648'192);
  CHECK(parameters_of("llama3-8b") == 8'030'261'248);
  CHECK(parameters_of("llama3-70b") == 70'553'706'496);
  CHECK(parameters_of("qwen2.5-7b") == 7'615'616'512);
  CHECK(parameters_of("qwen2.5-32b") == 32'763'876'352);
  CHECK(parameters_of("gpt3-175b") == 174'604'259'328);
  // Beyond the reference table, from the models' cards and safetensors indexes:
  // Mistral-7B-v0.1 7,241,732,096; Llama-3.1-405B 405,853,388,800; Qwen2.5-72B
  // 72,706,203,648.
  CHECK(parameters_of("mistral-7b") == 7'241'732'096);
  CHECK(parameters_of("llama3.1-405b") == 405'853'388'800);
  CHECK(parameters_of("qwen2.5-72b") == 72'706'203'648);
}

TEST_CASE("aliases reach the same preset") {
  CHECK(memsim::scenarios::find_preset("deepseek-r1-distill-qwen-32b") ==
        memsim::scenarios::find_preset("qwen2.5-32b"));
  CHECK(memsim::scenarios::find_preset("no-such-model") == nullptr);
}

TEST_CASE("every preset is a consistent model") {
  for (const auto& preset : memsim::scenarios::model_presets()) {
    CAPTURE(preset.name);
    CHECK(memsim::sim::find_problems(preset.spec).empty());
  }
}

TEST_CASE("GPT-2 small parameters by hand") {
  // wte 50257·768 + wpe 1024·768 + 12 layers × (2 LayerNorms 4·768 + qkv 768·2304 + 2304
  // + proj 768·768 + 768 + fc 768·3072 + 3072 + proj 3072·768 + 768) + final LayerNorm 2·768
  const int64_t layer =
      4 * 768 + 768 * 2304 + 2304 + 768 * 768 + 768 + 768 * 3072 + 3072 + 3072 * 768 + 768;
  CHECK(parameters_of("gpt2-124m") == 50257 * 768 + 1024 * 768 + 12 * layer + 2 * 768);
}
