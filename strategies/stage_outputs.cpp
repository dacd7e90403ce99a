// What a pipeline stage keeps of its forward's output after sending it on. PyTorch's pipelining
// keeps each microbatch's stage outputs for its backward (torch/distributed/pipelining/
// stage.py at commit 00722e6, forward_one_chunk: fwd_cache holds output_tuple until
// backward_one_chunk, or with a split backward until the weight step's backward_state), the
// last stage's being the model's output, the logits the loss reads. DeepSpeed's pipeline engine
// does too (deepspeed/runtime/pipe/engine.py at edaa722, _exec_forward_pass keeps
// pipe_buffers['outputs'] until _exec_backward_pass). Megatron-LM frees an output's data once
// sent (megatron/core/pipeline_parallel/schedules.py at d98e8a6, deallocate_output_tensor;
// megatron/training/argument_utils.py sets deallocate_pipeline_outputs). The recipe keeps them
// (sim/microbatch_recipe.cpp); this pass owns the key.

#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

void keep_the_outputs(const RecipeSettings& settings, sim::RankProgram& program) {
  // Without stages the frameworks run the model as a module, which keeps nothing of the kind
  // (torchtitan's trainer drops the logits before the backward: `del pred`).
  program.keep_stage_outputs = settings.passes.keep_stage_outputs && settings.pipelined;
}

}  // namespace

StrategyPass stage_outputs_pass() {
  return {
      .name = "stage outputs",
      .keys = {flag_row("parallel.keep_stage_outputs",
                        "a pipeline stage keeps what it sends on (the last stage the logits) "
                        "until its backward: PyTorch's pipelining and DeepSpeed (false: "
                        "Megatron-LM frees it once sent)",
                        MEMSIM_PLAN_FIELD(training.chunk_passes.keep_stage_outputs))},
      .shape_chunks = keep_the_outputs,
  };
}

}  // namespace memsim::strategies
