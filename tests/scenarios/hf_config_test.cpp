#include "scenarios/hf_config.h"

#include <doctest/doctest.h>

#include "sim/layer_graph.h"
#include "support/test_support.h"

namespace {

int64_t parameters_of_config(const std::string& file) {
  const auto spec =
      memsim::scenarios::read_hf_config(memsim::testing::source_path("tests/fixtures/hf/" + file));
  return memsim::sim::LayerGraph(spec).parameter_count();
}

int64_t parameters_of_preset(const std::string& name) {
  return memsim::sim::LayerGraph(memsim::testing::preset(name)).parameter_count();
}

}  // namespace

TEST_CASE("config.json files give the same parameter counts as the presets") {
  CHECK(parameters_of_config("llama2-7b.json") == parameters_of_preset("llama2-7b"));
  CHECK(parameters_of_config("llama3-70b.json") == parameters_of_preset("llama3-70b"));
  CHECK(parameters_of_config("qwen2.5-32b.json") == parameters_of_preset("qwen2.5-32b"));
  CHECK(parameters_of_config("mistral-7b.json") == parameters_of_preset("mistral-7b"));
  CHECK(parameters_of_config("gpt2.json") == parameters_of_preset("gpt2-124m"));
  CHECK(parameters_of_config("qwen2.5-32b.json") == 32'763'876'352);  // formulas.md §1
}

TEST_CASE("config.json fields map onto the model spec") {
  const auto qwen = memsim::scenarios::read_hf_config(
      memsim::testing::source_path("tests/fixtures/hf/qwen2.5-32b.json"));
  CHECK(qwen.kv_heads == 8);
  CHECK(qwen.qkv_bias);
  CHECK_FALSE(qwen.bias);
  CHECK(qwen.ffn_type == memsim::sim::FfnType::kSwiGlu);
  const auto gpt2 = memsim::scenarios::read_hf_config(
      memsim::testing::source_path("tests/fixtures/hf/gpt2.json"));
  CHECK(gpt2.tied_embeddings);
  CHECK(gpt2.ffn == 3072);  // n_inner absent: 4 × n_embd
  CHECK(gpt2.dropout == doctest::Approx(0.1));
}

TEST_CASE("bad config.json files are input errors that point into the file") {
  using memsim::scenarios::InputError;
  const std::string broken = memsim::testing::write_temp_file("broken.json", "{\n  \"a\": 1,\n}\n");
  try {
    memsim::scenarios::read_hf_config(broken);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(e.diagnostics()[0].where.line == 3);
  }
  const std::string typed = memsim::testing::write_temp_file(
      "typed.json",
      "{\"model_type\": \"llama\",\n \"hidden_size\": \"big\", \"num_hidden_layers\": 2}\n");
  try {
    memsim::scenarios::read_hf_config(typed);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(e.diagnostics()[0].where.line == 2);
    CHECK(e.diagnostics()[0].message.find("hidden_size") != std::string::npos);
  }
  const std::string family =
      memsim::testing::write_temp_file("bert.json", "{\"model_type\": \"bert\"}\n");
  CHECK_THROWS_AS(memsim::scenarios::read_hf_config(family), InputError);
  CHECK_THROWS_AS(memsim::scenarios::read_hf_config("/no/such/config.json"), InputError);
}

TEST_CASE("sizes past memsim's limits are refused at their key, before any default is derived") {
  // GPT-2's n_inner defaults to 4 × n_embd: an n_embd near 2^63 must be an error at
  // n_embd, not an overflow (found by fuzzing).
  const std::string huge = memsim::testing::write_temp_file(
      "huge.json",
      "{\"model_type\": \"gpt2\",\n \"n_embd\": 7682222222222222222, \"n_head\": 12,\n"
      " \"n_layer\": 34, \"n_positions\": 1024, \"vocab_size\": 7}\n");
  try {
    memsim::scenarios::read_hf_config(huge);
    FAIL("expected an InputError");
  } catch (const memsim::scenarios::InputError& e) {
    CHECK(e.diagnostics()[0].where.line == 2);
    CHECK(e.diagnostics()[0].message.find("n_embd") != std::string::npos);
  }
}
