#pragma once
/// ZeRO-3's parameters gathered module by module along a microbatch's trace, as DeepSpeed's
/// parameter coordinator gathers them (deepspeed/runtime/zero/partitioned_param_coordinator.py,
/// DeepSpeed edaa722): the trace is every run of a module with parameters (here an op with
/// gathered parameters) in the order the forward and the backward run them, recomputation
/// included. Before a module runs, its parameters are gathered if they are not, then the
/// next parameters of the trace are prefetched (`_fetch_sub_module_impl`); after it runs, its
/// parameters are released unless their next use is near (`__params_to_release`).

#include <cstdint>
#include <span>
#include <vector>

#include "sim/layer_graph.h"

namespace memsim::sim {

/// The coordinator's limits, in parameter elements.
struct GatheringLimits {
  /// Prefetched ahead after each fetch, at most (stage3_prefetch_bucket_size; 0: none).
  int64_t prefetch_bucket = 0;
  /// A prefetch stops where gathered elements would pass this (stage3_max_live_parameters).
  int64_t max_live = 0;
  /// A module's parameters stay gathered when the trace uses them again before this many
  /// elements of other uses pass (stage3_max_reuse_distance).
  int64_t max_reuse_distance = 0;
  bool operator==(const GatheringLimits&) const = default;
};

/// What a rank gathers module by module (RankProgram::gathering).
struct ModuleGathering {
  GatheringLimits limits;
  /// Per twin slot (LayerGraph::twin_slot): the elements its op gathers; empty: the rank
  /// gathers nothing module by module.
  std::vector<int64_t> elements;
  bool gathers() const { return !elements.empty(); }
  bool operator==(const ModuleGathering&) const = default;
};

struct RecipeOp;

/// Around one op of a pass: the ops whose parameters are gathered before it runs, and
/// those released after it.
struct GatherEvents {
  std::vector<OpId> gathered;
  std::vector<OpId> released;
};

/// The events around each op of a microbatch's forward and backward pass.
struct ModuleGathers {
  std::vector<GatherEvents> forward;
  std::vector<GatherEvents> backward;
};

/// Replays the coordinator over the trace of `forward` then `backward` (a compiled
/// recipe's passes; recomputations that reuse kept outputs run nothing and are left out).
/// Nothing is gathered at the start, nor left gathered at the end.
ModuleGathers plan_module_gathers(const ModuleGathering& gathering, const LayerGraph& graph,
                                  std::span<const RecipeOp> forward,
                                  std::span<const RecipeOp> backward);

}  // namespace memsim::sim
