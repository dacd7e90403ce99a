#pragma once
/// One rank's training step as the strategies planned it: what each tensor and op costs
/// on this rank, which ops it runs (its model chunks), what is recomputed, what stays
/// resident, and the ordered, timed steps of its schedule. The simulator walks it; it knows
/// nothing of how the numbers were chosen.

#include <cstdint>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/memory_event.h"
#include "sim/units.h"

namespace memsim::sim {

struct OpCost {
  Bytes parameter_gradients;  ///< made by its backward when gradients are allocated on demand
  Bytes forward_buffer;       ///< communication buffer live while its forward runs
  Bytes backward_buffer;      ///< communication buffer live while its backward runs
  double forward_s = 0.0;
  double backward_s = 0.0;
};

/// Memory held around each layer's ops while they run, indexed by layer + 1 (the embedding
/// is layer -1, the head and loss layer L): parameters gathered before a layer runs and
/// released after (ZeRO-3), and gradients a layer's backward makes in full before they are
/// reduced away (ZeRO-2/3). A run is a stretch of consecutive ops of one layer in a pass.
struct LayerResidency {
  std::vector<Bytes> gathered_weights;
  std::vector<Bytes> backward_gradients;
  int prefetch = 0;  ///< gather the weights of this many following runs ahead
  bool empty() const { return gathered_weights.empty() && backward_gradients.empty(); }
};

/// A contiguous run of ops (positions in forward order, inclusive) whose saved tensors are
/// dropped in forward and rebuilt by re-running the run's forward just before its
/// backward; the tensors it reads from outside are kept instead (activation checkpointing).
struct RecomputeSpan {
  int first = 0;
  int last = 0;
};

/// The ops of one model chunk: positions [first, last] in forward order. Tensors its ops
/// read from outside arrive at its start (received from the previous pipeline stage);
/// tensors it makes for outside are sent and freed.
struct ChunkSpan {
  int first = 0;
  int last = 0;
  /// Communication a forward or backward of the chunk waits for before computing (ZeRO-3's
  /// gathers where prefetching does not hide them).
  double forward_wait_s = 0.0;
  double backward_wait_s = 0.0;
};

enum class StepKind : uint8_t { kForward, kBackward };

/// One step of the rank's schedule: a chunk's forward or backward of one microbatch, not
/// started before `start_s` (the schedule's timing; 0 = as soon as the rank is free).
struct ScheduledStep {
  StepKind kind = StepKind::kForward;
  int32_t microbatch = 0;
  int32_t chunk = 0;
  double start_s = 0.0;
};

struct RankProgram {
  const LayerGraph* graph = nullptr;
  std::vector<ChunkSpan> chunks;         ///< the rank's model chunks, in model order
  std::vector<Bytes> tensor_bytes;       ///< per TensorId, on this rank
  std::vector<OpCost> op_costs;          ///< per OpId
  std::vector<RecomputeSpan> recompute;  ///< disjoint, in forward order
  CategoryBytes resident;                ///< held for the whole step: model states, overheads
  LayerResidency layers;                 ///< held around each layer's runs
  Bytes backward_buffer;                 ///< held through each backward (gradient bucket)
  bool gradients_on_demand = false;      ///< made in the first backward, freed after the step
  std::vector<ScheduledStep> steps;      ///< in the order the rank runs them
  double sync_s = 0.0;                   ///< exposed gradient synchronisation after the steps
  double optimizer_s = 0.0;
};

}  // namespace memsim::sim
