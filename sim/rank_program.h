#pragma once
/// One rank's training step as the strategies planned it: what each tensor and op costs
/// on this rank, what is recomputed, what stays resident, how many microbatches run.
/// The simulator walks it; it knows nothing of how the numbers were chosen.

#include <cstdint>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/memory_event.h"
#include "sim/units.h"

namespace memsim::sim {

struct OpCost {
  Bytes parameter_gradients;  ///< made by its backward when gradients are allocated on demand
  double forward_s = 0.0;
  double backward_s = 0.0;
};

/// A contiguous run of ops (positions in forward order, inclusive) whose saved tensors are
/// dropped in forward and rebuilt by re-running the run's forward just before its
/// backward; the tensors it reads from outside are kept instead (activation checkpointing).
struct RecomputeSpan {
  int first = 0;
  int last = 0;
};

struct RankProgram {
  const LayerGraph* graph = nullptr;
  std::vector<Bytes> tensor_bytes;       ///< per TensorId, on this rank
  std::vector<OpCost> op_costs;          ///< per OpId
  std::vector<RecomputeSpan> recompute;  ///< disjoint, in forward order
  CategoryBytes resident;                ///< held for the whole step: model states, overheads
  bool gradients_on_demand = false;      ///< made in the first backward, freed after the step
  int64_t microbatches = 1;
  double optimizer_s = 0.0;
};

}  // namespace memsim::sim
