/// ZeRO-3 as DeepSpeed gathers it: each module's parameters as it runs, the next ones of
/// the step's trace prefetched, and those used again soon kept (sim/module_gathering.h
/// replays the coordinator; DeepSpeed edaa722,
/// deepspeed/runtime/zero/partitioned_param_coordinator.py). FSDP gathers whole units
/// instead, a layer at a time (parallel.gather: layers, strategies/data_parallel.cpp).

#include <fmt/format.h>

#include "strategies/data_parallel.h"
#include "strategies/model_states.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

sim::ModuleGathering module_gathering(const TrainingPlan& plan, const sim::LayerGraph& graph) {
  const DataParallelism& dp = plan.parallel.dp;
  if (!gathers_modules(dp)) return {};
  const ModuleGatheringLimits& limits = dp.modules;
  sim::ModuleGathering gathering{
      {limits.prefetch_bucket, limits.max_live, limits.max_reuse_distance},
      std::vector<int64_t>(graph.twins().size(), 0)};
  // A module gathers its parameters, a tied head the embedding's weight; what stays whole
  // is never gathered. Each op's elements are the same in every layer of its kind.
  const sim::DimSizes full = sim::model_dims(graph.model(), 1, 1);
  for (const sim::OpId op : graph.twins()) {
    for (const RankParam& p : rank_params(graph, {op}, full, plan.parallel.tp, 0, true)) {
      if (!stays_whole(p, dp)) gathering.elements[graph.twin_slot(op)] += p.elements();
    }
  }
  return gathering;
}

namespace {

constexpr auto kGathering = MEMSIM_PLAN_FIELD(parallel.dp.gathering);
constexpr auto kPrefetchBucket = MEMSIM_PLAN_FIELD(parallel.dp.modules.prefetch_bucket);
constexpr auto kMaxLive = MEMSIM_PLAN_FIELD(parallel.dp.modules.max_live);
constexpr auto kReuseDistance = MEMSIM_PLAN_FIELD(parallel.dp.modules.max_reuse_distance);

bool modules_with_fsdp(const Plan& plan) {
  const DataParallelism& dp = plan.parallel.dp;
  return dp.gathering == Gathering::kModules && dp.zero == 3 && dp.sharding != Sharding::kZero;
}

/// DeepSpeed's pipeline engine refuses ZeRO-2 and 3 (deepspeed/runtime/pipe/engine.py,
/// PipelineEngine.__init__: zero_optimization_stage() < ZeroStageEnum.gradients), and one
/// microbatch's trace is what the coordinator replays.
bool modules_with_pipeline(const Plan& plan) {
  return gathers_modules(plan.parallel.dp) && plan.parallel.pp.stages > 1;
}

}  // namespace

StrategyPass module_gathering_pass() {
  constexpr int64_t kMost = int64_t{1} << 40;
  return {
      .name = "ZeRO-3 module gathering",
      .keys = {choice_row<Gathering>(
                   "parallel.gather",
                   "ZeRO-3 gathers parameters a layer at a time (layers) or each module's as "
                   "it runs, as DeepSpeed's coordinator does (modules)",
                   kGathering,
                   {{gathering_name(Gathering::kLayers), static_cast<int64_t>(Gathering::kLayers)},
                    {gathering_name(Gathering::kModules),
                     static_cast<int64_t>(Gathering::kModules)}}),
               integer_row("parallel.prefetch_bucket",
                           "gathering modules: parameter elements prefetched ahead "
                           "(stage3_prefetch_bucket_size, 5e7)",
                           kPrefetchBucket, 0, kMost),
               integer_row("parallel.max_live_parameters",
                           "gathering modules: no prefetch past this many gathered elements "
                           "(stage3_max_live_parameters, 1e9)",
                           kMaxLive, 0, kMost),
               integer_row("parallel.max_reuse_distance",
                           "gathering modules: a module's parameters stay gathered when used "
                           "again within this many elements (stage3_max_reuse_distance, 1e9)",
                           kReuseDistance, 0, kMost)},
      .checks = {{"parallel.gather parallel.sharding parallel.zero",
                  "module gathering is DeepSpeed's", modules_with_fsdp,
                  [](const Plan&) -> std::string {
                    return "parallel.gather = modules is DeepSpeed's parameter coordinator; FSDP "
                           "gathers a unit (a layer) at a time: use sharding: zero, or gather: "
                           "layers";
                  }},
                 {"parallel.pp parallel.zero parallel.gather", "module gathering has no pipeline",
                  modules_with_pipeline,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "parallel.gather = modules with pp = {}: DeepSpeed's pipeline engine "
                        "does not run ZeRO-3; use pp: 1, or gather: layers",
                        plan.parallel.pp.stages);
                  }}},
  };
}

}  // namespace memsim::strategies
