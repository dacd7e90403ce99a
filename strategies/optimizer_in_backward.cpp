// The optimizer in backward: each parameter steps as soon as its gradient is made and the
// gradient is freed there, as torchtune's OptimizerInBackward does (torchtune bd2a0fc,
// torchtune/modules/optim.py: one optimizer per parameter, stepped and zeroed by a
// post-accumulate-grad hook). The gradients' lifetime is the evaluation's
// (sim::GradientLifetime::kOpBackward, evaluation/stage_facts.cpp); this pass owns the key and
// what it needs.

#include <fmt/format.h>

#include "strategies/data_parallel.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

constexpr auto kInBackward = MEMSIM_PLAN_FIELD(training.optimizer_in_backward);

bool in_backward(const Plan& plan) {
  return plan.mode == Mode::kTraining && plan.training.optimizer_in_backward;
}

/// A step's gradients are whole only after its last backward: torchtune refuses gradient
/// accumulation with optimizer_in_bwd (recipes/full_finetune_single_device.py).
bool accumulates(const Plan& plan) {
  return in_backward(plan) && plan.microbatches() > 1;
}

/// DeepSpeed's ZeRO-1/2/3 and offload step the partitions after the backward; FSDP's
/// shards can step in it.
bool steps_after_backward(const Plan& plan) {
  const DataParallelism& dp = plan.parallel.dp;
  return in_backward(plan) &&
         ((dp.zero > 0 && !sharded_by_fsdp(dp)) || dp.offload != Offload::kNone);
}

}  // namespace

StrategyPass optimizer_in_backward_pass() {
  return {
      .name = "optimizer in backward",
      .keys = {flag_row("training.optimizer_in_backward",
                        "each parameter steps in the backward as its gradient is made, which "
                        "is freed there (torchtune's optimizer_in_bwd)",
                        kInBackward)},
      .checks = {{"training.optimizer_in_backward training.global_batch training.micro_batch",
                  "optimizer in backward with gradient accumulation", accumulates,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "training.optimizer_in_backward steps each parameter in its backward: "
                        "one microbatch a step, but global_batch = {} is {} microbatches of {} "
                        "on each of {} data-parallel ranks",
                        plan.training.global_batch, plan.microbatches(), plan.training.micro_batch,
                        plan.parallel.dp.degree);
                  }},
                 {"training.optimizer_in_backward parallel.zero parallel.offload",
                  "optimizer in backward under DeepSpeed's ZeRO", steps_after_backward,
                  [](const Plan&) -> std::string {
                    return "training.optimizer_in_backward needs the parameters stepped where "
                           "their gradients are made: plain data parallelism or FSDP "
                           "(sharding: fsdp2 or fsdp1), not DeepSpeed's ZeRO partitions or "
                           "offload";
                  }}},
  };
}

}  // namespace memsim::strategies
