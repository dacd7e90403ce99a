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
#include "strategies/training_plan.h"

namespace memsim::strategies {

struct ShardedStates {
  sim::CategoryBytes gpu;  ///< resident on the GPU for the whole step
  sim::Bytes cpu;          ///< in host memory (offload), this rank's share
  /// ZeRO-3: bytes all-gathered around each layer's runs (index layer + 1).
  std::vector<sim::Bytes> gathered_per_layer;
  /// Gradients a layer's backward makes in full before they are reduced to this rank's
  /// shard (ZeRO-2/3, or any offload); index layer + 1.
  std::vector<sim::Bytes> gradients_per_layer;
  /// Gradients each op's backward makes when they are allocated on demand (per OpId).
  std::vector<sim::Bytes> gradients_per_op;
  sim::Bytes reduce_bucket;                ///< held through each backward
  bool gradients_resident_in_full = true;  ///< the rank keeps every gradient (ZeRO-0/1)
};

/// Shards the states of `params` (one TP rank's, layers 0..layers-1 plus embedding and head)
/// for data-parallel rank `dp_rank`.
ShardedStates shard_states(const std::vector<RankParam>& params, int64_t layers, int op_count,
                           const DataParallelism& dp, const Precision& precision,
                           const OptimizerSettings& optimizer);

/// The rank's share of the model's parameters: under ZeRO-3 its part of the flat buffer of
/// what its TP rank owns (padding excluded), otherwise all that its TP rank owns.
int64_t owned_parameters(const std::vector<RankParam>& params, const DataParallelism& dp,
                         int64_t dp_rank);

}  // namespace memsim::strategies
