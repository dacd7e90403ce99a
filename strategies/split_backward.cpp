// The split backward of PyTorch's zero-bubble schedules (strategies/schedules.cpp): each
// backward runs as an input step, which keeps the whole autograd graph of its microbatch, and
// a later weight step, which frees it (sim/microbatch_recipe.cpp). The schedule key is the
// pipeline's; this pass refuses what memsim does not model with it, or PyTorch refuses.

#include <variant>

#include <fmt/format.h>

#include "strategies/data_parallel.h"
#include "strategies/schedules.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

bool splits(const Plan& plan) {
  const ScheduleInfo* schedule = find_schedule(plan.parallel.pp.schedule);
  return plan.mode == Mode::kTraining && schedule != nullptr && schedule->split_backward;
}

/// torch.utils.checkpoint re-runs a region's forward once per backward call (its frames are
/// keyed by the graph task), so the input and the weight step would each recompute.
bool with_checkpointing(const Plan& plan) {
  return !std::holds_alternative<NoCheckpointing>(plan.training.chunk_passes.checkpointing) &&
         splits(plan);
}

bool with_activation_offload(const Plan& plan) {
  return plan.training.chunk_passes.activation_offload.layers != 0 && splits(plan);
}

/// PyTorch's pipelining runtime unshards a whole stage while it runs and reduces its
/// gradients after its last weight step (schedules.py, _add_unshard_reshard and
/// _add_reduce_grad), unlike the per-layer gathers memsim models for ZeRO-3 and FSDP.
bool with_sharded_gradients(const Plan& plan) {
  return plan.parallel.dp.zero >= 2 && splits(plan);
}

/// PyTorch refuses the split backward with compiled stages (schedules.py,
/// _check_torch_compile_compatibility).
bool with_compile(const Plan& plan) {
  return plan.training.compile != 0 && splits(plan);
}

/// PyTorch's V-shaped schedules run exactly two stages per rank (schedules.py: "ZBV requires
/// exactly 2 stages per rank").
bool v_without_two_chunks(const Plan& plan) {
  if (plan.parallel.pp.virtual_stages == 2 || plan.mode != Mode::kTraining) return false;
  const ScheduleInfo* schedule = find_schedule(plan.parallel.pp.schedule);
  return schedule != nullptr && schedule->v_shape;
}

/// ScheduleDualPipeV needs at least as many microbatches as stages (2p).
bool too_few_microbatches(const Plan& plan) {
  if (plan.mode != Mode::kTraining || plan.microbatches() >= plan.parallel.pp.chunks())
    return false;
  const ScheduleInfo* schedule = find_schedule(plan.parallel.pp.schedule);
  return schedule != nullptr && schedule->fills_every_chunk;
}

std::string not_modelled(const Plan& plan, const char* what, const char* why) {
  return fmt::format("parallel.schedule = {} with {}: {}", plan.parallel.pp.schedule, what, why);
}

}  // namespace

StrategyPass split_backward_pass() {
  return {
      .name = "split backward",
      .checks =
          {{"parallel.schedule checkpointing", "a split backward with activation checkpointing",
            with_checkpointing,
            [](const Plan& plan) {
              return not_modelled(plan, "checkpointing",
                                  "torch.utils.checkpoint recomputes a region in both the input "
                                  "and the weight step, which memsim does not model yet");
            }},
           {"parallel.schedule training.activation_offload",
            "a split backward with activation offload", with_activation_offload,
            [](const Plan& plan) {
              return not_modelled(plan, "training.activation_offload",
                                  "activations coming back for two steps are not modelled yet");
            }},
           {"parallel.schedule parallel.zero parallel.sharding",
            "a split backward with sharded gradients", with_sharded_gradients,
            [](const Plan& plan) {
              return not_modelled(plan, "ZeRO-2/3 or FSDP",
                                  "PyTorch's pipelining unshards a whole stage while it runs "
                                  "and reduces its gradients after its last weight step, "
                                  "which memsim does not model yet");
            }},
           {"parallel.schedule parallel.virtual_stages", "a V-shaped schedule without two chunks",
            v_without_two_chunks,
            [](const Plan& plan) {
              return fmt::format(
                  "parallel.schedule = {} runs two chunks per stage in a V: virtual_stages = {} "
                  "must be 2",
                  plan.parallel.pp.schedule, plan.parallel.pp.virtual_stages);
            }},
           {"parallel.schedule training.global_batch training.micro_batch parallel.pp",
            "dualpipev with fewer microbatches than chunks", too_few_microbatches,
            [](const Plan& plan) {
              return fmt::format(
                  "parallel.schedule = {} needs at least pp × virtual_stages = {} microbatches, "
                  "but global_batch = {} is {} of {} on each of {} data-parallel ranks",
                  plan.parallel.pp.schedule, plan.parallel.pp.chunks(), plan.training.global_batch,
                  plan.microbatches(), plan.training.micro_batch, plan.parallel.dp.degree);
            }},
           {"parallel.schedule training.compile", "a split backward with torch.compile",
            with_compile,
            [](const Plan& plan) {
              return not_modelled(plan, "training.compile",
                                  "PyTorch refuses compiled stages with the split backward "
                                  "(torch/distributed/pipelining/schedules.py, "
                                  "_check_torch_compile_compatibility)");
            }}},
  };
}

}  // namespace memsim::strategies
