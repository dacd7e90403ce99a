#pragma once
/// The parameters one tensor-parallel rank holds, and their model states before data
/// parallelism shards them: weights, gradients, fp32 master weights, optimizer states.

#include <cstdint>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/memory_event.h"
#include "strategies/optimizer.h"
#include "strategies/precision.h"
#include "strategies/tensor_parallel.h"

namespace memsim::strategies {

/// One parameter tensor as one TP rank holds it.
struct RankParam {
  sim::OpId op = 0;
  int32_t layer = 0;
  ParamTensor shape;  ///< the slice this rank holds, padding included
  int64_t owned = 0;  ///< the model's own elements this rank accounts for (owned_param_elements)
  bool tied = false;  ///< a view of a parameter another op owns
  /// How many identical tensors this entry stands for (a stage's transformer layers can be
  /// summarised by one layer's entries counted once per layer).
  int64_t count = 1;
  int64_t elements() const { return shape.elements(); }
};

/// The parameters of `ops` on TP rank `tp_rank`, each counted `count` times. A tied view
/// of the embedding is a replica when `embedding_here` is false (a later pipeline stage).
std::vector<RankParam> rank_params(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops,
                                   const sim::DimSizes& full, const TensorParallelism& tp,
                                   int64_t tp_rank, bool embedding_here, int64_t count = 1);

/// Whether `ops` include the embedding (whose weights a tied LM head views).
bool has_embedding(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops);

/// Model states of `params` as one rank holds them without ZeRO: weights, master_weights,
/// gradients and optimizer categories (tied views excluded: their owner counts them).
sim::CategoryBytes unsharded_states(const std::vector<RankParam>& params,
                                    const Precision& precision, const OptimizerSettings& optimizer);

}  // namespace memsim::strategies
