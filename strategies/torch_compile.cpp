// torch.compile: which parts of the model Inductor compiles, and so which graph the walk runs.
// In a compiled region AOTAutograd's partitioner decides what the forward keeps
// (torch/_functorch/partitioners.py, min_cut_rematerialization_partition, with the defaults
// of torch/_functorch/config.py: PyTorch 2.3 to 2.9). It never recomputes matmuls,
// attention kernels or random ops (should_ban_recomputation), nor a reduction whose output
// is 4x smaller than its input, nor a tensor that a non-fusible backward op such as a
// matmul's weight gradient reads (is_materialized_backwards); of the rest it keeps the
// cheapest cut. A compiled transformer layer therefore keeps what fused kernels keep: each
// norm's input, statistics and output, SwiGLU's gate, up and product (not silu(gate)), and
// eager attention's 16-bit scores in place of an fp32 softmax. A compiled loss keeps the
// 16-bit logits and a log-sum-exp per token, with no fp32 copy of the logits either way. The
// graph's kinds say this (sim::GraphOptions::compiled, sim/layer_graph.cpp); this pass owns
// the key.
//
// What the frameworks compile: torchtune each TransformerSelfAttentionLayer and the loss
// (torchtune/training/_compile.py, compile_model and compile_loss; torchtune 1814feb, where
// the chunked loss's compute_cross_entropy is compiled), torchtitan each TransformerBlock
// and, with compile.components' default ["model", "loss"], the loss
// (torchtitan/distributed/compile.py apply_compile, torchtitan/components/loss.py
// _maybe_compile; torchtitan b5bcd76). Neither compiles the embedding, the final norm or the
// LM head.

#include "sim/layer_graph.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

constexpr auto kCompiled = MEMSIM_PLAN_FIELD(training.compile);

void compile_the_graph(const TrainingPlan& plan, sim::GraphOptions& options) {
  options.compiled = plan.training.compile;
}

}  // namespace

StrategyPass torch_compile_pass() {
  return {
      .name = "torch.compile",
      .keys = {setting_row(
          "training.compile",
          "what torch.compile compiles: a list of layers (each transformer layer), loss "
          "(the upcast and cross-entropy); [] (the default) runs eagerly",
          {.read = SettingKey::Read::kWordSet,
           .words = {{"layers", sim::kCompileLayers}, {"loss", sim::kCompileLoss}},
           .copy = [](Plan& to, const Plan& from) { kCompiled(to) = kCompiled(from); },
           .number = [](const Plan& p) { return static_cast<double>(kCompiled(p)); },
           .set_integer = [](Plan& p, int64_t v) { kCompiled(p) = static_cast<uint8_t>(v); }})},
      .shape_graph = compile_the_graph,
  };
}

}  // namespace memsim::strategies
