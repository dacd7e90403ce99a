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

/// Bytes for one layer of each layer slot (sim::LayerGraph::layer_slot): the embedding
/// (layer -1), each kind of transformer layer, the head with the loss (layer L).
using PerLayerSlot = std::vector<sim::Bytes>;

/// What one rank of a pipeline stage holds of its parameters' model states through the
/// step, what it holds around its layers, and what its gradients cost after the last
/// backward. Strategies shape it (StrategyPass::shape_stage) from whole_states.
struct StageStates {
  sim::CategoryBytes gpu;  ///< resident on the GPU for the whole step
  sim::Bytes cpu;          ///< in host memory (offload), this rank's share
  /// Bytes gathered around each layer's runs (ZeRO-3).
  PerLayerSlot gathered;
  /// Per twin slot: bytes each op gathers (ZeRO-3 gathering module by module).
  std::vector<sim::Bytes> gathered_per_twin;
  /// Gradients a layer's backward makes in full before they are reduced to this rank's
  /// share (ZeRO-2/3, or any offload).
  PerLayerSlot gradients;
  /// Gradients each op's backward makes when they are allocated on demand (per twin slot).
  std::vector<sim::Bytes> gradients_per_twin;
  /// The twin slot of an LM head that shares the embedding's weight on this rank (-1: none).
  /// Its backward makes the shared gradient, which the embedding's backward adds to: stepped
  /// in backward, the parameter steps only then.
  int shared_gradient_slot = -1;
  sim::Bytes reduce_bucket;  ///< held through each backward
  /// DDP's buckets when gradients are not views of them: a copy of every gradient, held
  /// from construction on whether gradients are made on demand or not. Part of gpu.
  sim::Bytes bucket_copies;
  /// What the optimizer step allocates on the GPU while it runs (strategies/optimizer.h).
  sim::Bytes step_workspace;
  bool gradients_resident_in_full = true;  ///< the rank keeps every gradient whole
  /// Gradients (gradients_per_twin) are made by the first backward whatever the plan's
  /// GradientBuffers (FSDP2's shards).
  bool gradients_made_in_backward = false;
  double reduce_s = 0.0;        ///< gradient reduction after the last backward
  double gather_after_s = 0.0;  ///< all-gather of the updated parameters
  double offload_s = 0.0;       ///< the shards' trips over PCIe
  /// Communication around the stage's layers in one forward and one backward of a
  /// microbatch (ZeRO-3's gathers, and its reduce-scatters in backward), which the
  /// stage's chunks share evenly.
  double forward_communication_s = 0.0;
  double backward_communication_s = 0.0;
  bool overlaps_compute = false;  ///< communication runs beside compute where it can

  /// Synchronisation exposed after the steps; the reduction overlaps `window` seconds of
  /// the last microbatch's backward when communication overlaps compute.
  double sync_s(double window) const;
};

/// The largest of `params` (tied views excluded), in elements.
int64_t largest_param(const std::vector<RankParam>& params);

/// The states of `params` with no strategy applied: the rank holds them all on the GPU,
/// every gradient whole from the step's start, nothing gathered or synchronised, and the
/// optimizer steps all of them.
StageStates whole_states(const std::vector<RankParam>& params, const sim::LayerGraph& graph,
                         const Precision& precision, const OptimizerSettings& optimizer);

}  // namespace memsim::strategies
