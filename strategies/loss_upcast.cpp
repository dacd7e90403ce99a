// Whether the loss upcasts the logits to fp32 before scoring them. Most frameworks do:
// torchtune's CEWithChunkedOutputLoss.compute_cross_entropy (logits.float()), torchtitan's
// cross_entropy_loss (pred.float()), Transformers' ForCausalLMLoss (logits.float()),
// Megatron-LM's vocab-parallel cross-entropy. LitGPT scores them as they are
// (litgpt/utils.py, chunked_cross_entropy with chunk_size 0: F.cross_entropy(logits,
// targets)). What each keeps is the layer graph's (sim::GraphOptions::loss_upcast).

#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

constexpr auto kUpcast = MEMSIM_PLAN_FIELD(training.loss_upcast);

void upcast_the_loss(const TrainingPlan& plan, sim::GraphOptions& options) {
  options.loss_upcast = plan.training.loss_upcast;
}

}  // namespace

StrategyPass loss_upcast_pass() {
  return {
      .name = "loss upcast",
      .keys = {flag_row("training.loss_upcast",
                        "the loss upcasts the logits to fp32 first (true), or scores the 16-bit "
                        "logits as they are (LitGPT)",
                        kUpcast)},
      .shape_graph = upcast_the_loss,
  };
}

}  // namespace memsim::strategies
