// The op table against what eager PyTorch saves for backward, measured with
// saved_tensors_hooks by tools/calibration/measure_saved_tensors.py (torch 1.13, CPU) and
// recorded in tests/fixtures/pytorch_saved_tensors.json. Differences are named, not hidden:
// - CPU LayerNorm keeps its mean and 1/std in the input dtype; CUDA keeps them in fp32, as
//   memsim does (4 bytes per token each);
// - the division by √d saves a 0-dim scalar that memsim ignores;
// - HF LLaMA's eager attention keeps the fp32 softmax output besides its bf16 copy, which
//   memsim models with model.softmax_kernel: fp32 (4as²b more than Megatron's fused
//   softmax); RoPE's cos/sin tables, computed once per forward, are left out;
// - in torch 1.13 mean's backward keeps its input (MeanBackward1.self): HF's eager RMSNorm
//   then also keeps its fp32 squares. PyTorch 2's mean_backward needs only sizes
//   (tools/autograd/derivatives.yaml, mean.dim), as memsim models.

#include <fstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "sim/microbatch_recipe.h"
#include "support/test_support.h"

namespace {

nlohmann::json fixture_case(const std::string& name) {
  std::ifstream in(memsim::testing::source_path("tests/fixtures/pytorch_saved_tensors.json"));
  const auto doc = nlohmann::json::parse(in);
  for (const auto& c : doc["cases"]) {
    if (c["name"] == name) return c;
  }
  FAIL("no fixture case " << name);
  return {};
}

memsim::sim::ModelSpec gpt2_block(double dropout) {
  memsim::sim::ModelSpec m;
  m.name = "gpt2-block";
  m.layers = 1;
  m.hidden = 64;
  m.heads = 4;
  m.kv_heads = 4;
  m.ffn = 256;
  m.vocab = 1000;
  m.ffn_type = memsim::sim::FfnType::kGelu;
  m.norm = memsim::sim::NormType::kLayerNorm;
  m.bias = true;
  m.positions = memsim::sim::PositionType::kLearned;
  m.max_positions = 64;
  m.dropout = dropout;
  return m;
}

memsim::sim::ModelSpec llama_block() {
  memsim::sim::ModelSpec m;
  m.name = "llama-block";
  m.layers = 1;
  m.hidden = 64;
  m.heads = 4;
  m.kv_heads = 2;
  m.ffn = 176;
  m.vocab = 1000;
  m.ffn_type = memsim::sim::FfnType::kSwiGlu;
  m.norm = memsim::sim::NormType::kRmsNorm;
  return m;
}

int64_t layer_bytes(const memsim::sim::ModelSpec& model, int64_t s, int64_t b) {
  const auto w = memsim::testing::walk(memsim::testing::one_gpu_plan(model, s, b));
  return memsim::testing::forward_activation_bytes(w.timeline, 0);
}

}  // namespace

TEST_CASE("a GPT-2 block saves what PyTorch saves (bf16, dropout with one-byte masks)") {
  const auto c = fixture_case("gpt2_block_bfloat16_gelu_dropout0.1_native");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"];
  const int64_t measured = c["total_saved_bytes"];
  const int64_t cpu_statistics = c["decomposition"]["o_sb_bytes"];
  const int64_t scalars = c["decomposition"]["other_bytes"];
  const int64_t cuda_statistics = 2 * 2 * 4 * s * b;  // two norms × (mean, 1/std) × fp32
  CHECK(layer_bytes(gpt2_block(0.1), s, b) ==
        measured - cpu_statistics - scalars + cuda_statistics);
}

TEST_CASE("without dropout nothing is saved for it (p = 0 returns its input)") {
  const auto c = fixture_case("gpt2_block_bfloat16_gelu_dropout0.0_F");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"];
  const int64_t measured = c["total_saved_bytes"];
  const int64_t expected = measured - c["decomposition"]["o_sb_bytes"].get<int64_t>() -
                           c["decomposition"]["other_bytes"].get<int64_t>() + 16 * s * b;
  CHECK(layer_bytes(gpt2_block(0.0), s, b) == expected);
}

TEST_CASE(
    "a LLaMA block (fused RMSNorm, GQA expanded by repeat_kv, SwiGLU) saves what PyTorch saves") {
  const auto c = fixture_case("llama_layer_bfloat16_fused_rmsnorm");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"], a = c["dims"]["a"];
  const int64_t measured = c["total_saved_bytes"];
  const int64_t rope_tables = c["decomposition"]["other_bytes"];
  auto model = llama_block();
  model.softmax_kernel = memsim::sim::SoftmaxKernel::kFp32;  // HF's softmax(dtype=float32)
  CHECK(layer_bytes(model, s, b) == measured - rope_tables);
  // Megatron's fused softmax keeps only its bf16 output.
  const int64_t fp32_softmax = 4 * a * s * s * b;
  CHECK(layer_bytes(llama_block(), s, b) == measured - rope_tables - fp32_softmax);
}

TEST_CASE("a LLaMA block with Hugging Face's eager RMSNorm saves what PyTorch saves") {
  const auto c = fixture_case("llama_layer_bfloat16_hf_rmsnorm");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"], h = c["dims"]["h"];
  const int64_t measured = c["total_saved_bytes"];
  const int64_t rope_tables = c["decomposition"]["other_bytes"];
  const int64_t squares_kept_by_torch_1_13 = 2 * 4 * s * b * h;  // one per norm
  auto model = llama_block();
  model.norm_kernel = memsim::sim::NormKernel::kEager;
  model.softmax_kernel = memsim::sim::SoftmaxKernel::kFp32;
  CHECK(layer_bytes(model, s, b) == measured - rope_tables - squares_kept_by_torch_1_13);
  // Per norm: the fp32 copy, the fp32 squares (1.13 only), the fp32 1/rms, the bf16 copy.
  const auto& norm = c["per_module"]["input_layernorm"];
  CHECK(norm["bytes"].get<int64_t>() == (4 + 4 + 2) * s * b * h + 4 * s * b);
}

TEST_CASE("Hugging Face's eager RMSNorm holds what PyTorch holds while it runs") {
  const auto c = fixture_case("llama_layer_bfloat16_hf_rmsnorm");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"], h = c["dims"]["h"];
  const int64_t sbh = s * b * h;
  const auto& measured = c["norm_peak_transient"];
  auto model = llama_block();
  model.norm_kernel = memsim::sim::NormKernel::kEager;
  const memsim::evaluation::CompiledPlan compiled(memsim::testing::one_gpu_plan(model, s, b));
  const auto& program = compiled.program(0);
  const auto recipe = memsim::sim::compile_recipe(program, 0);
  auto made_at_start = [&](const std::vector<memsim::sim::RecipeOp>& ops) {
    for (const auto& op : ops) {
      if (compiled.graph().op(op.op).kind != memsim::sim::OpKind::kNormEager) continue;
      int64_t made = 0;
      for (uint32_t i = op.begin; i < op.split; ++i)
        made += memsim::sim::delta_bytes(recipe.deltas[i], program.sizes).value();
      return made;
    }
    FAIL("no eager norm");
    return int64_t{0};
  };
  // Forward: its output, what it keeps and its working memory, all made as it starts: the
  // measured peak less the fp32 squares that torch 1.13's mean keeps.
  CHECK(made_at_start(recipe.forward) == measured["forward_peak_bytes"].get<int64_t>() - 4 * sbh);
  // Backward: the five fp32 temporaries (its input's gradient adds to the residual stream's,
  // made before). Measured at its fullest: the fp32 copy it keeps, the five, the norm's
  // output (held by the caller) and a bf16 partial sum of the weight's gradient.
  const int64_t five = measured["backward_peak_bytes"].get<int64_t>() - 4 * sbh - 2 * sbh - 2 * h;
  CHECK(five == 5 * 4 * sbh);
  CHECK(made_at_start(recipe.backward) == five);
}

TEST_CASE("the loss saves fp32 log-probabilities and labels; its backward holds three fp32 s·b·V") {
  const auto c = fixture_case("loss_head_bfloat16");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"], V = c["dims"]["V"];
  const auto& loss = c["per_module"]["loss_head/cross_entropy"];
  // Measured: log_softmax output (fp32 s·b·V), int64 labels, and a 4-byte total_weight.
  const int64_t measured_saved = loss["bytes"].get<int64_t>() - 4;

  auto model = gpt2_block(0.0);
  model.vocab = V;
  const memsim::evaluation::CompiledPlan compiled(memsim::testing::one_gpu_plan(model, s, b));
  const auto& graph = compiled.graph();
  const auto& program = compiled.program(0);
  int64_t saved = 0;
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op) {
    if (graph.op(op).kind != memsim::sim::OpKind::kCrossEntropy) continue;
    for (auto t : graph.op(op).saved)
      saved += program.tensor_bytes(t).value();
  }
  CHECK(saved == measured_saved);

  // Backward of the loss (the first op the backward runs): it makes two fp32 s·b·V tensors
  // while the saved one is alive; PyTorch's backward peak holds the same three.
  const auto recipe = memsim::sim::compile_recipe(program, 0);
  const auto& first = recipe.backward.front();
  int64_t made = 0;
  for (uint32_t i = first.begin; i < first.split; ++i)
    made += memsim::sim::delta_bytes(recipe.deltas[i], program.sizes).value();
  const auto& peak = c["peak_transient"]["backward_peak_live"];
  CHECK(peak.size() == 3);
  CHECK(made + measured_saved - 8 * s * b == peak[0]["bytes"].get<int64_t>() * 3);
}

TEST_CASE("under autocast over fp32 parameters a LLaMA block saves what PyTorch saves") {
  const auto c = fixture_case("llama_layer_autocast_bf16_hf_rmsnorm");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"], h = c["dims"]["h"];
  const int64_t measured = c["total_saved_bytes"];
  const auto& rope = c["per_module"]["self_attn/rope"];
  const int64_t squares_kept_by_torch_1_13 = 2 * 4 * s * b * h;
  auto model = llama_block();
  model.norm_kernel = memsim::sim::NormKernel::kEager;
  model.softmax_kernel = memsim::sim::SoftmaxKernel::kFp32;
  auto plan = memsim::testing::one_gpu_plan(model, s, b);
  plan.precision.recipe = memsim::strategies::PrecisionRecipe::kAmpBf16;
  const auto w = memsim::testing::walk(plan);
  CHECK(memsim::testing::forward_activation_bytes(w.timeline, 0) ==
        measured - rope["bytes"].get<int64_t>() - squares_kept_by_torch_1_13);
}

TEST_CASE(
    "a LLaMA block with LitGPT's RMSNorm (the weight applied in fp32) saves what PyTorch saves") {
  const auto c = fixture_case("llama_layer_bfloat16_litgpt_rmsnorm");
  const int64_t s = c["dims"]["s"], b = c["dims"]["b"], h = c["dims"]["h"];
  const int64_t measured = c["total_saved_bytes"];
  const int64_t rope_tables = c["per_module"]["self_attn/rope"]["bytes"];
  const int64_t squares_kept_by_torch_1_13 = 2 * 4 * s * b * h;
  auto model = llama_block();
  model.norm_kernel = memsim::sim::NormKernel::kEagerFp32Weight;
  model.softmax_kernel = memsim::sim::SoftmaxKernel::kFp32;
  CHECK(layer_bytes(model, s, b) == measured - rope_tables - squares_kept_by_torch_1_13);
  // Per norm, 2 bytes a hidden element more than Hugging Face's: the normalised copy in fp32.
  const auto hf = fixture_case("llama_layer_bfloat16_hf_rmsnorm");
  CHECK(measured - hf["total_saved_bytes"].get<int64_t>() == 2 * (2 * s * b * h + 4 * h));
}
