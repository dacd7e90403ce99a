// Bad input is reported with file:line:col, every problem at once, and the program exits 2.

#include <tuple>

#include <doctest/doctest.h>

#include "scenarios/scenario.h"
#include "support/test_support.h"

namespace {

using memsim::scenarios::Diagnostic;
using memsim::scenarios::InputError;

const char* kValid = R"(name: tiny
model: {layers: 2, hidden: 64, heads: 4, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
)";

/// The diagnostics of reading `text` as scenario "bad.yaml" (fails the test if it reads).
std::vector<Diagnostic> errors_of(const std::string& text, std::vector<std::string> sets = {}) {
  return memsim::testing::diagnostics_of(
      [&] { memsim::testing::scenario_from_text(text, "bad.yaml", sets); });
}

using memsim::testing::has_diagnostic;
bool has(const std::vector<Diagnostic>& errors, int line, int column, const std::string& part) {
  return has_diagnostic(errors, line, column, part);
}

}  // namespace

TEST_CASE("the valid base reads") {
  const auto scenario =
      memsim::scenarios::read_scenario(memsim::scenarios::parse_yaml(kValid, "ok.yaml"), "ok.yaml");
  REQUIRE(scenario.variants.size() == 1);
  CHECK(scenario.variants[0].plan.model.kv_heads == 4);
}

TEST_CASE("YAML syntax errors point at the line and column") {
  const auto errors = errors_of("model: {layers: 2\nhardware: [a100\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].where.file == "bad.yaml");
  CHECK(errors[0].where.line >= 1);
  CHECK(errors[0].where.column >= 1);
}

TEST_CASE("an unknown key names the nearest known key") {
  std::string text = kValid;
  text += "paralel: {tp: 1}\n";
  auto errors = errors_of(text);
  CHECK(has(errors, 5, 1, "unknown key 'paralel'; did you mean 'parallel'?"));

  errors = errors_of(std::string(kValid) + "parallel: {tpp: 1}\n");
  CHECK(has(errors, 5, 12, "unknown key 'parallel.tpp'; did you mean 'parallel.tp'?"));

  // A key written in the wrong section: say where it belongs.
  errors = errors_of(std::string(kValid) + "seq_len: 4096\n");
  CHECK(has(errors, 5, 1, "did you mean 'training.seq_len'?"));

  errors = errors_of(std::string(kValid), {"parallel.tpp=2"});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].where.file == "--set parallel.tpp=2");
  CHECK(errors[0].message.find("did you mean 'parallel.tp'") != std::string::npos);
}

TEST_CASE(
    "GPU and model names are case-insensitive, take common short names, and list "
    "the candidates of an ambiguous one") {
  const auto gpu_of = [](const std::string& name) {
    return memsim::testing::scenario_from_text(std::string(kValid), "s.yaml",
                                               {"hardware.gpu=" + name})
        .variants[0]
        .plan.cluster.gpu->name;
  };
  CHECK(gpu_of("H100-80GB") == "h100-80gb");
  CHECK(gpu_of("h100") == "h100-80gb");  // an alias in hardware/gpus.yaml: H100 means SXM
  CHECK(gpu_of("H100 PCIe") == "h100-pcie-80gb");
  CHECK(gpu_of("4090") == "rtx4090-24gb");
  CHECK(gpu_of("l4") == "l4-24gb");  // a word of l4-24gb, only part of one in l40s-48gb
  auto errors = errors_of(std::string(kValid), {"hardware.gpu=a100"});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "GPU 'a100' is ambiguous: a100-40gb or a100-80gb");

  const auto model_of = [](const std::string& name) {
    return memsim::testing::scenario_from_text(std::string(kValid), "s.yaml", {"model=" + name})
        .variants[0]
        .plan.model.name;
  };
  CHECK(model_of("Llama-3-70B") == "llama3-70b");
  CHECK(model_of("QWEN2.5-32B") == "qwen2.5-32b");
  errors = errors_of(std::string(kValid), {"model=70b"});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "model '70b' is ambiguous: llama2-70b or llama3-70b");
}

TEST_CASE("past 100 problems, a file's problems are counted, not listed") {
  std::string text = std::string(kValid) + "parallel:\n";
  for (int i = 0; i < 150; ++i)
    text += "  unknown" + std::to_string(i) + ": 1\n";
  const auto errors = errors_of(text);
  REQUIRE(errors.size() == 101);
  CHECK(errors[0].message.find("unknown key 'parallel.unknown0'") == 0);
  CHECK(errors[100].message == "and 50 more problems, not shown");
}

TEST_CASE("zero and negative sizes are rejected where they are written") {
  auto errors = errors_of(R"(model: {layers: 0, hidden: 64, heads: 4, ffn: -256, vocab: 1000}
hardware: {gpu: a100-80gb, capacity: -5 GiB}
training: {seq_len: 0, micro_batch: -1}
)");
  CHECK(has(errors, 1, 17, "model.layers = 0: expected a positive whole number"));
  CHECK(has(errors, 1, 47, "model.ffn = -256: expected a positive whole number"));
  CHECK(has(errors, 2, 38, "hardware.capacity = -5 GiB"));
  CHECK(has(errors, 3, 21, "training.seq_len = 0"));
  CHECK(has(errors, 3, 37, "training.micro_batch = -1"));
  CHECK(errors.size() == 5);  // every problem at once
}

TEST_CASE("heads must divide hidden, kv_heads must divide heads") {
  auto errors = errors_of(R"(model: {layers: 2, hidden: 100, heads: 7, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
)");
  CHECK(has(errors, 1, 40, "model.heads = 7 does not divide hidden (100)"));

  errors = errors_of(R"(model: {layers: 2, hidden: 64, heads: 8, kv_heads: 3, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
)");
  CHECK(has(errors, 1, 52, "model.kv_heads = 3 does not divide heads (8)"));
}

TEST_CASE("kernel variants need their ops: an eager RMSNorm, a fused SwiGLU") {
  // GPT-2 has a layernorm (one kernel either way) and a GeLU MLP.
  const auto gpt2_with = [](const std::string& key) {
    return errors_of("model: {preset: gpt2-124m, " + key +
                     "}\nhardware: {gpu: a100-80gb}\ntraining: {seq_len: 128}\n");
  };
  CHECK(has(gpt2_with("norm_kernel: eager"), 1, 41,
            "model.norm_kernel = eager is an RMSNorm in PyTorch ops"));
  CHECK(has(gpt2_with("swiglu_kernel: fused"), 1, 43,
            "model.swiglu_kernel = fused needs ffn_type = swiglu"));
}

TEST_CASE("unknown presets, GPUs and choices suggest a spelling") {
  auto errors = errors_of(R"(model: llama2-7q
hardware: {gpu: a100-80gx}
training: {seq_len: 128, optimizer: adamx}
precision: bf16-mix
checkpointing: ful
)");
  CHECK(has(errors, 1, 8, "unknown model 'llama2-7q'; did you mean 'llama2-7b'?"));
  CHECK(has(errors, 2, 17, "unknown GPU 'a100-80gx'; did you mean 'a100-80gb'?"));
  CHECK(has(errors, 3, 37, "did you mean 'adamw'?"));
  CHECK(has(errors, 4, 12, "did you mean 'bf16-mixed'?"));
  CHECK(has(errors, 5, 16, "did you mean 'full'?"));
}

TEST_CASE("duplicate keys are errors, not silently overwritten") {
  const auto errors = errors_of("name: a\nname: b\n");
  CHECK(has(errors, 2, 1, "duplicate key 'name'"));
}

TEST_CASE("the program exits 2 with file:line:col on bad input") {
  const std::string path = memsim::testing::write_temp_file(
      "unknown_key.yaml", std::string(kValid) + "traning: {seq_len: 1}\n");
  const auto result = memsim::testing::run_memsim({"run", path});
  CHECK(result.exit_code == 2);
  CHECK(result.out.empty());  // never partial output
  CHECK(result.err.find(path + ":5:1: error: unknown key 'traning'; did you mean 'training'?") !=
        std::string::npos);

  const auto missing = memsim::testing::run_memsim({"check", "no/such/file.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("no/such/file.yaml: error: cannot read file") != std::string::npos);

  const std::string syntax = memsim::testing::write_temp_file("syntax.yaml", "model: [1, 2\n");
  const auto broken = memsim::testing::run_memsim({"check", syntax});
  CHECK(broken.exit_code == 2);
  CHECK(broken.err.find(syntax + ":") != std::string::npos);
  CHECK(broken.err.find(": error: ") != std::string::npos);
}

TEST_CASE("bad command lines exit 2") {
  CHECK(memsim::testing::run_memsim({"run"}).exit_code == 2);
  CHECK(memsim::testing::run_memsim({"frobnicate"}).exit_code == 2);
  CHECK(memsim::testing::run_memsim(
            {"run", "scenarios/llama2-7b-finetune-1gpu.yaml", "--format", "xml"})
            .exit_code == 2);
  const auto variant = memsim::testing::run_memsim(
      {"run", "scenarios/llama2-7b-finetune-1gpu.yaml", "--variant", "ful-ckpt"});
  CHECK(variant.exit_code == 2);
  CHECK(variant.err.find("did you mean 'full-ckpt'") != std::string::npos);
}

TEST_CASE("sizes too large for 64-bit arithmetic are bad input, not wrapped numbers") {
  // Each size within its limit, their product past 2^63 bytes.
  const std::string path = memsim::testing::write_temp_file(
      "huge.yaml", R"(model: {layers: 2, hidden: 1048576, heads: 16384, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 16777216, micro_batch: 16777216}
)");
  auto result = memsim::testing::run_memsim({"run", path});
  CHECK(result.exit_code == 2);
  CHECK(result.out.empty());
  CHECK(result.err.find("huge.yaml: error: the scenario's sizes are too large to simulate") !=
        std::string::npos);

  // A size over its own limit is refused at its key.
  const std::string wide = memsim::testing::write_temp_file(
      "wide.yaml", R"(model: {layers: 2, hidden: 16777216, heads: 16, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
)");
  result = memsim::testing::run_memsim({"run", wide});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("wide.yaml:1:28: error: model.hidden = 16777216 is more than memsim "
                        "simulates (1048576)") != std::string::npos);
}

namespace {

std::string cluster_scenario(const std::string& model, const std::string& hardware,
                             const std::string& parallel, const std::string& training = "") {
  return "model: " + model + "\nhardware: " + hardware + "\ntraining: {seq_len: 128" + training +
         "}\nparallel: " + parallel + "\n";
}

}  // namespace

TEST_CASE("inconsistent parallel layouts are errors at the key at fault") {
  // tp must divide the attention heads (qwen2.5-32b has 40; on 3 GPUs, and its 8 KV heads).
  auto errors =
      errors_of(cluster_scenario("qwen2.5-32b", "{gpu: a100-80gb, gpus_per_node: 3}", "{tp: 3}"));
  CHECK(has(errors, 4, 16, "parallel.tp = 3 does not divide attention heads (40)"));
  // ... and the MLP size.
  errors = errors_of(cluster_scenario("{layers: 2, hidden: 64, heads: 4, ffn: 250, vocab: 100}",
                                      "{gpu: a100-80gb, gpus_per_node: 4}", "{tp: 4}"));
  CHECK(has(errors, 4, 16, "parallel.tp = 4 does not divide the MLP size (250)"));
  // tp and kv_heads: one must divide the other.
  errors = errors_of(
      cluster_scenario("{layers: 2, hidden: 96, heads: 12, kv_heads: 6, ffn: 256, vocab: 100}",
                       "{gpu: a100-80gb, gpus_per_node: 4}", "{tp: 4}"));
  CHECK(has(errors, 4, 16, "parallel.tp = 4 and kv_heads = 6: one must divide the other"));
  // tp × pp × dp must be the cluster.
  errors = errors_of(cluster_scenario("llama2-7b", "{gpu: a100-80gb, nodes: 2, gpus_per_node: 4}",
                                      "{tp: 2, dp: 2}"));
  CHECK(has(errors, 4, 23, "parallel.tp × pp × dp = 2 × 1 × 2 = 4 but the cluster has 8 GPUs"));
  // The global batch must split into microbatches on every data-parallel rank.
  errors = errors_of(cluster_scenario("llama2-7b", "{gpu: a100-80gb, gpus_per_node: 4}",
                                      "{tp: 1, dp: 4}", ", micro_batch: 2, global_batch: 12"));
  CHECK(has(errors, 3, 56,
            "training.global_batch = 12 is not divisible by micro_batch × dp = 2 × 4"));
  // Offload needs ZeRO; parameter offload needs ZeRO-3.
  errors = errors_of(cluster_scenario("llama2-7b", "{gpu: a100-80gb, gpus_per_node: 4}",
                                      "{zero: 2, offload: optimizer+params}"));
  CHECK(has(errors, 4, 30, "needs zero: 3"));
  errors = errors_of(
      cluster_scenario("llama2-7b", "{gpu: a100-80gb, gpus_per_node: 4}", "{offload: optimizer}"));
  CHECK(has(errors, 4, 21, "needs ZeRO"));
  // FSDP shards all states or none, its options need it, HSDP's replicas split dp.
  const std::tuple<const char*, int, const char*> fsdp_cases[] = {
      {"{zero: 2, sharding: fsdp2}", 31, "parallel.zero = 2 with sharding: fsdp2"},
      {"{zero: 1, sharding: fsdp1}", 31, "parallel.zero = 1 with sharding: fsdp1"},
      {"{zero: 3, dp_replicate: 2}", 35, "parallel.dp_replicate (HSDP) applies to FSDP"},
      {"{zero: 3, sharding: fsdp2, dp_replicate: 3}", 52,
       "parallel.dp_replicate = 3 must divide dp = 4"},
      {"{zero: 1, reshard_after_forward: false}", 44, "reshard_after_forward applies to FSDP"},
      {"{zero: 2, reduce_dtype: fp32}", 35, "reduce_dtype is FSDP's"},
      {"{zero: 3, sharding: fsdp1, offload: optimizer}", 47,
       "parallel.offload with sharding: fsdp1"}};
  for (const auto& [parallel, column, message] : fsdp_cases) {
    CAPTURE(parallel);
    errors =
        errors_of(cluster_scenario("llama2-7b", "{gpu: a100-80gb, gpus_per_node: 4}", parallel));
    CHECK(has(errors, 4, column, message));
  }
}

TEST_CASE("ZeRO with one data-parallel rank is a warning, not an error") {
  const auto scenario = memsim::scenarios::read_scenario(
      memsim::scenarios::parse_yaml(
          cluster_scenario("llama2-7b", "{gpu: a100-80gb, gpus_per_node: 2}", "{tp: 2, zero: 1}"),
          "w.yaml"),
      "w.yaml");
  REQUIRE(scenario.warnings.size() == 1);
  CHECK(scenario.warnings[0].where.line == 4);
  CHECK(scenario.warnings[0].where.column == 25);
  CHECK(scenario.warnings[0].message == "parallel.zero = 1 with dp = 1 shards nothing");
  const std::string path = memsim::testing::write_temp_file(
      "warn.yaml",
      cluster_scenario("llama2-7b", "{gpu: a100-80gb, gpus_per_node: 2}", "{tp: 2, zero: 1}"));
  const auto result = memsim::testing::run_memsim({"check", path});
  CHECK(result.exit_code == 0);
  CHECK(result.err.find(path + ":4:25: warning: parallel.zero = 1 with dp = 1") !=
        std::string::npos);
}

TEST_CASE("inference scenarios: the mode's section is required, training-only keys are errors") {
  const char* serving = R"(mode: inference
model: {layers: 2, hidden: 64, heads: 4, ffn: 256, vocab: 1000}
hardware: {gpu: a100-80gb, gpus_per_node: 2}
inference: {batch: 2, prompt_len: 64}
)";
  const auto scenario = memsim::testing::scenario_from_text(serving, "ok.yaml");
  CHECK(scenario.variants[0].plan.mode == memsim::strategies::Mode::kInference);
  CHECK(scenario.variants[0].plan.parallel.dp.degree == 2);  // two replicas

  CHECK(has(errors_of(R"(mode: infer
model: llama2-7b
hardware: {gpu: a100-80gb}
training: {seq_len: 128}
)"),
            1, 7, "mode = infer: expected training or inference"));
  CHECK(has(errors_of(R"(mode: inference
model: llama2-7b
hardware: {gpu: a100-80gb}
)"),
            1, 1, "missing section 'inference'"));
  std::string text = serving;
  CHECK(has(errors_of(text + "parallel: {zero: 3}\n"), 5, 18,
            "parallel.zero does not apply in inference mode"));
  CHECK(has(errors_of(text, {"inference.weights=int3"}), 0, 0,
            "expected fp32, bf16, fp16, fp8, int8 or int4"));
  CHECK(has(errors_of(text, {"inference.memory_utilization=1.5"}), 0, 0,
            "inference.memory_utilization"));
  CHECK(has(errors_of(text, {"inference.prompt_len=0"}), 0, 0, "inference.prompt_len"));
}

TEST_CASE("compare variants may switch the mode; each reads its own section") {
  const char* both = R"(mode: inference
model: llama2-7b
hardware: {gpu: a100-80gb}
inference: {batch: 2, prompt_len: 64}
training: {seq_len: 128}
compare:
  - {name: train, mode: training}
)";
  const auto scenario = memsim::testing::scenario_from_text(both, "both.yaml");
  REQUIRE(scenario.variants.size() == 2);
  CHECK(scenario.variants[0].plan.mode == memsim::strategies::Mode::kInference);
  CHECK(scenario.variants[1].plan.mode == memsim::strategies::Mode::kTraining);
  CHECK(scenario.variants[1].plan.training.seq_len == 128);
}

TEST_CASE("a prompt prefilled in more passes than memsim walks is an error at the key") {
  const char* text = R"(mode: inference
model: llama2-7b
hardware: {gpu: a100-80gb}
inference: {prompt_len: 100000, prefill_chunk: 64}
)";
  CHECK(has(errors_of(text), 4, 48, "splits the 100000-token prompt into 1563 passes"));
}
