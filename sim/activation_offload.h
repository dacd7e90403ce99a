#pragma once
/// Which saved activations of a chunk move to host memory, when, and when they come back:
/// a saved tensor belongs to the layer whose backward first needs it; the activations of
/// the first `layers` transformer layers of the chunk leave the GPU once their layer's
/// forward (and every forward read of them) is done, and come back when the backward
/// reaches the layer `prefetch` after theirs (or starts, if there is none). As torchtune's
/// OffloadActivations (saved_tensors_hooks, prefetching on a side stream) and Megatron-LM's
/// CPU activation offloading do; the copies are taken to overlap compute.

#include <vector>

#include "sim/layer_graph.h"
#include "sim/rank_program.h"

namespace memsim::sim {

class OffloadSchedule {
 public:
  /// `kept[t]`: tensor t is saved from forward to backward; `first_need[t]`: the position of
  /// the op whose backward needs it first; `last_use[t]`: its last forward reader.
  OffloadSchedule(const LayerGraph& graph, ChunkSpan chunk, const ActivationOffload& offload,
                  const std::vector<bool>& kept, const std::vector<int>& first_need,
                  const std::vector<int>& last_use);

  /// Tensors that move to host memory once the forward op at `pos` ends.
  const std::vector<TensorId>& offloaded_after(int pos) const { return after_[pos - first_]; }
  /// Tensors that come back when the backward reaches the op at `pos` (the first of its
  /// layer the backward runs), before it runs (and before any recomputation).
  const std::vector<TensorId>& reloaded_at(int pos) const { return reload_[pos - first_]; }

 private:
  int first_;
  std::vector<std::vector<TensorId>> after_;   ///< by position in the chunk
  std::vector<std::vector<TensorId>> reload_;  ///< by position in the chunk
};

}  // namespace memsim::sim
