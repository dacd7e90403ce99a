#pragma once
/// One rank's training step as the strategies planned it: what each tensor and op costs
/// on this rank, which ops it runs (its model chunks), what is recomputed, what stays
/// resident, and the ordered, timed steps of its schedule. The simulator walks it; it knows
/// nothing of how the numbers were chosen.

#include <cstdint>
#include <functional>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/memory_event.h"
#include "sim/module_gathering.h"
#include "sim/quantity_index.h"
#include "sim/units.h"

namespace memsim::sim {

/// Seconds an op's forward and backward take on this rank.
struct OpTimes {
  double forward_s = 0.0;
  double backward_s = 0.0;
  /// The part of backward_s that computes the op's weight gradients: what a split
  /// backward's weight step runs (StepKind::kBackwardWeight).
  double weight_s = 0.0;
};

/// A contiguous run of ops (positions in forward order, inclusive) whose saved tensors are
/// dropped in forward and rebuilt by re-running the run's forward just before its
/// backward; the tensors it reads from outside are kept instead (activation checkpointing).
/// The ops at `reused` (positions in the run, ascending) keep what their forward makes
/// until the re-run, which reuses it instead of running them again (per-op selective
/// checkpointing).
struct RecomputeSpan {
  int first = 0;
  int last = 0;
  std::vector<int> reused{};
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

/// A tensor a chunk keeps from its forward to its backward: the position of the op whose
/// backward needs it first, and of its last forward reader.
struct KeptTensor {
  TensorId tensor = 0;
  int first_need = 0;
  int last_forward_use = 0;
};

/// A kept tensor that moves to host memory once the forward op at `leaves_after` ends, and
/// comes back when the backward reaches the op at `back_at` (before it, and before any
/// recomputation there); back_at >= first_need.
struct HostMove {
  TensorId tensor = 0;
  int leaves_after = 0;
  int back_at = 0;
  /// Instead of host memory, the tensor stays on the GPU as one tensor-parallel rank's
  /// share (QuantityIndex::share) and is gathered back whole (distributed checkpoints).
  bool share = false;
};

/// A strategy's choice of host moves for a chunk, from what it keeps.
using HostMovePlanner = std::function<std::vector<HostMove>(
    const LayerGraph& graph, ChunkSpan chunk, const std::vector<KeptTensor>& kept)>;

/// Where a buffer that a strategy holds around a rank's ops is live.
enum class HeldSpan : uint8_t {
  kBackwardPass,  ///< each backward pass of a chunk, from its first op to its last
  /// Each run of one layer's ops (consecutive ops of the layer in a pass), from `ahead` runs
  /// before it; still held when a run within `ahead` after it is of the same layer.
  kLayerRuns,
  /// Each run of one layer's ops in backward, from its first backward (not recomputed) op.
  kBackwardRuns,
  /// Each op's gathered parameters (QuantityIndex::gathered_parameters), as the coordinator
  /// of RankProgram::gathering gathers and releases them along the trace.
  kModuleTrace,
};

/// A buffer a strategy holds around the ops a rank runs, sized by one of the quantities
/// the index holds for strategies (QuantityIndex::held_of_layer for the run spans, one per
/// layer slot; held_single for a backward pass). Data parallelism registers three
/// (strategies/data_parallel.h): ZeRO-3's gathered parameters, ZeRO-2/3's full gradients of
/// a layer before they are reduced, and the gradient bucket.
struct HeldBuffer {
  HeldSpan span = HeldSpan::kBackwardPass;
  Category category = Category::kTemporary;
  /// The family (run spans) or single quantity (a pass) of the index; kModuleTrace's are
  /// the index's gathered parameters.
  int quantity = 0;
  int ahead = 0;  ///< kLayerRuns: following runs held ahead of the running one
  bool operator==(const HeldBuffer&) const = default;
};

/// What a step runs of one microbatch through a chunk. The zero-bubble schedules split a
/// backward in two (PyTorch's BACKWARD_INPUT and BACKWARD_WEIGHT actions,
/// torch/distributed/pipelining/schedules.py): the input gradients first, sent on to the
/// previous stage, the weight gradients later, where the pipeline would otherwise idle.
enum class StepKind : uint8_t { kForward, kBackward, kBackwardInput, kBackwardWeight };
inline constexpr int kStepKinds = 4;

/// Whether a step of `kind` makes weight gradients (a whole backward or a weight step).
constexpr bool makes_weight_gradients(StepKind kind) {
  return kind == StepKind::kBackward || kind == StepKind::kBackwardWeight;
}

/// When a rank's parameter gradients exist.
enum class GradientLifetime : uint8_t {
  kWholeStep,  ///< resident from the step's start (persistent buffers, kept shards)
  kToStepEnd,  ///< made by the step's first backward, freed after the optimizer step
  /// Made by an op's backward and freed as it ends, the optimizer having stepped their
  /// parameters there (optimizer in backward; one backward a step).
  kOpBackward,
};

/// One step of the rank's schedule: a chunk's forward or backward of one microbatch, not
/// started before `start_s` (the schedule's timing; 0 = as soon as the rank is free).
struct ScheduledStep {
  StepKind kind = StepKind::kForward;
  int32_t microbatch = 0;
  int32_t chunk = 0;
  double start_s = 0.0;
  bool operator==(const ScheduledStep&) const = default;
};

/// Sizes come from `sizes`, per quantity of `index`: what each tensor, op buffer and held
/// buffer takes on this rank. The held buffers (`held`) are live around the ops as their
/// spans say.
struct RankProgram {
  const LayerGraph* graph = nullptr;
  const QuantityIndex* index = nullptr;
  std::vector<Bytes> sizes;              ///< per quantity, on this rank
  std::vector<ChunkSpan> chunks;         ///< the rank's model chunks, in model order
  std::vector<OpTimes> op_times;         ///< per OpId
  std::vector<RecomputeSpan> recompute;  ///< disjoint, in forward order
  CategoryBytes resident;                ///< held for the whole step: model states, overheads
  std::vector<HeldBuffer> held;          ///< what strategies hold around the ops
  ModuleGathering gathering;             ///< what kModuleTrace buffers gather
  HostMovePlanner host_moves;            ///< none: everything kept stays on the GPU
  GradientLifetime gradients = GradientLifetime::kWholeStep;
  std::vector<ScheduledStep> steps;  ///< in the order the rank runs them
  /// The schedule splits backwards into input and weight steps: the recipes have both.
  bool split_backward = false;
  /// What a chunk sends to the next stage, and on the last stage the loss's input, stays
  /// until the chunk's backward ends (or its weight step, when split).
  bool keep_stage_outputs = false;
  double sync_s = 0.0;  ///< exposed gradient synchronisation after the steps
  double optimizer_s = 0.0;
  Bytes optimizer_workspace;  ///< allocated by the optimizer step while it runs
  /// Forward without autograd (serving's passes): nothing is kept for a backward and none
  /// runs, nor does the loss; no recomputation, no host moves.
  bool no_grad = false;

  Bytes size(QuantityId q) const { return sizes[q]; }
  Bytes tensor_bytes(TensorId t) const { return sizes[index->tensor(t)]; }
};

}  // namespace memsim::sim
