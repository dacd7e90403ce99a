#pragma once
/// Data parallelism with ZeRO (Rajbhandari et al. 2020) and offload: what one rank keeps
/// of its model states on the GPU and in host memory, and what it gathers or reduces
/// around each layer.
///
/// ZeRO partitions a flat buffer of the rank's parameters into `dp` equal parts, padding
/// the buffer to a multiple of `dp` as DeepSpeed and FSDP do: every rank holds
/// ⌈n / dp⌉ elements, and the last ranks hold the padding.

#include <cstdint>
#include <vector>

#include "sim/memory_event.h"
#include "strategies/model_states.h"
#include "strategies/plan.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

/// What data parallelism holds around a rank's ops (sim::HeldBuffer), as quantities of the
/// program's index: per layer slot, ZeRO-3's gathered parameters and ZeRO-2/3's full
/// gradients of a layer before they are reduced; once, the gradient bucket.
enum HeldFamily : int { kGatheredParameters, kLayerGradients };
enum HeldSingle : int { kGradientBucket };
inline constexpr sim::HeldQuantities kHeldQuantities{2, 1};

/// The buffers: the bucket through each backward pass; a layer's gathered parameters
/// around its runs, `prefetch` runs ahead (or, `by_module`, each op's as the program's
/// module gathering plans them); its full gradients from its backward's first op to the
/// run's end. Sizes of zero (no ZeRO-3, ZeRO-0/1) hold nothing.
std::vector<sim::HeldBuffer> held_buffers(int prefetch, bool by_module);

/// ZeRO-3 gathering module by module: DeepSpeed's coordinator (strategies/module_gathering.cpp).
inline bool gathers_modules(const DataParallelism& dp) {
  return dp.zero == 3 && dp.sharding == Sharding::kZero && dp.gathering == Gathering::kModules;
}

/// ZeRO-3 as DeepSpeed shards it keeps tensors under the persistence threshold whole on
/// every rank (stage3_param_persistence_threshold; FSDP has no such threshold).
inline bool stays_whole(const RankParam& p, const DataParallelism& dp) {
  return dp.sharding == Sharding::kZero && p.elements() < dp.persistence_threshold;
}

/// What a rank gathers module by module under `plan` (nothing unless gathers_modules).
sim::ModuleGathering module_gathering(const TrainingPlan& plan, const sim::LayerGraph& graph);

/// Layers whose gathered parameters a rank holds ahead of the running one: ZeRO-3's
/// prefetch (FSDP's backward prefetch, DeepSpeed's stage3_prefetch_bucket_size); other
/// stages, and FSDP keeping what it gathered, gather nothing per layer.
inline int gathered_ahead(const DataParallelism& dp) {
  const bool per_layer = dp.zero == 3 && !gathers_modules(dp) &&
                         (dp.sharding == Sharding::kZero || dp.reshard_after_forward);
  return static_cast<int>(per_layer ? dp.prefetch_layers : 0);
}

/// PyTorch's FSDP, either version, shards the states (ZeRO-3, strategies/fsdp.cpp). It makes
/// each parameter's gradient shard when its unit's gradients are first reduced, and
/// optimizer.zero_grad() drops it (set_to_none, PyTorch's default since 2.0).
inline bool sharded_by_fsdp(const DataParallelism& dp) {
  return dp.zero == 3 && dp.sharding != Sharding::kZero;
}

/// What a rank keeps of `states` (whole_states, its `elements` its own parameters) when
/// FSDP shards them (strategies/fsdp.cpp).
void shard_like_fsdp(const StageInputs& in, int64_t elements, StageStates& states);

/// The rank's share of the model's parameters: under ZeRO-3 its part of the flat buffer of
/// what its TP rank owns (padding excluded), otherwise all that its TP rank owns.
int64_t owned_parameters(const std::vector<RankParam>& params, const DataParallelism& dp,
                         int64_t dp_rank);

}  // namespace memsim::strategies
