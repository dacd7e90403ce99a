// How a backward adds a weight's gradient to one that already exists: from the second
// microbatch of a step on, or into a persistent buffer. PyTorch's AccumulateGrad
// (torch/csrc/autograd/functions/accumulate_grad.h, accumulateGrad) steals the first
// gradient as .grad and adds every later one in place (variable_grad += new_grad): the
// matmul's backward makes the new gradient whole first, so both exist while it runs.
// Megatron-LM's gradient_accumulation_fusion (on by default, megatron/training/arguments.py)
// has the weight-gradient GEMM accumulate into main_grad instead. The stage prices the
// transient (evaluation/stage_facts.cpp: only a rank that keeps its gradients whole; ZeRO-2/3
// and FSDP hold a layer's whole gradients anyway); this pass owns the key.

#include "strategies/strategy_pass.h"

namespace memsim::strategies {

StrategyPass gradient_accumulation_pass() {
  return {
      .name = "gradient accumulation",
      .keys = {choice_row<GradientAccumulation>(
          "training.gradient_accumulation",
          "fused (the matmul accumulates into the gradient: Megatron-LM) | in_place (a fresh "
          "gradient is made, then added: PyTorch's AccumulateGrad)",
          MEMSIM_PLAN_FIELD(training.gradient_accumulation),
          {{"fused", static_cast<int64_t>(GradientAccumulation::kFused)},
           {"in_place", static_cast<int64_t>(GradientAccumulation::kInPlace)}})},
  };
}

}  // namespace memsim::strategies
