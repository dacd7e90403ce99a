#pragma once
/// What one pipeline stage holds and spends that does not depend on its ops one by one:
/// its model states as the strategy passes shape them (strategies::stage_states: ZeRO,
/// offload, gradient synchronisation), its overheads and its optimizer step's time. Computed from
/// one layer's parameters counted once per layer, so a stage of 80 layers costs what a stage of one
/// does.

#include <cstdint>
#include <vector>

#include "evaluation/pipeline_timing.h"
#include "sim/layer_graph.h"
#include "sim/memory_event.h"
#include "strategies/data_parallel.h"
#include "strategies/pipeline.h"
#include "strategies/plan.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// What the `overhead` category of a rank is made of.
struct OverheadParts {
  sim::Bytes cuda_context;
  sim::Bytes communication;  ///< NCCL buffers of the rank's process groups
  int64_t process_groups = 0;
  sim::Bytes allocator_reserve;
};

struct StageFacts {
  StageStates states;
  sim::GradientLifetime gradients = sim::GradientLifetime::kWholeStep;
  /// A backward that finds a weight's gradient made adds a fresh one to it, holding both
  /// (GradientAccumulation::kInPlace, on a rank that keeps its gradients whole).
  bool accumulates_in_place = false;
  sim::CategoryBytes resident;  ///< states and overheads, the allocator reserve not yet
  OverheadParts overheads;      ///< the allocator reserve not yet
  double optimizer_s = 0.0;
};

/// Everything a stage's facts read besides its parameters and extent: equal for every
/// stage of a plan, and with them the facts' cache key. The optimizer's settings and the
/// cluster are held by address (see ContextInputs).
struct FactsInputs {
  Parallelism parallel;
  Precision precision;
  const OptimizerSettings* optimizer = nullptr;
  GradientBuffers gradient_buffers = GradientBuffers::kPersistent;
  bool optimizer_in_backward = false;
  GradientAccumulation gradient_accumulation = GradientAccumulation::kFused;
  const Cluster* cluster = nullptr;
  Overheads overheads;
  bool operator==(const FactsInputs&) const = default;
};
/// What the plan's stages may do with gradients beyond keeping them all step: make them in
/// the first backward (PyTorch's .grad, FSDP2's shards) and free them after the step, or
/// free each as its backward ends (optimizer in backward). A stage whose strategy keeps
/// them (ZeRO-2's shards) keeps them all step even when the plan asks for them on demand.
sim::GradientLifetime plan_gradient_lifetime(const FactsInputs& inputs);

/// The inputs of `plan`'s stage facts, with `optimizer` and `cluster` (the plan's, or equal).
FactsInputs facts_inputs(const TrainingPlan& plan, const OptimizerSettings& optimizer,
                         const Cluster& cluster);

/// What a stage carries: its transformer layers of each kind, and whether the embedding or
/// the head.
struct StageExtent {
  std::vector<int64_t> layers;  ///< per kind (sim::LayerGraph::kind_count)
  bool embedding = false;
  bool head = false;
  bool operator==(const StageExtent&) const = default;
};
StageExtent stage_extent(const sim::LayerGraph& graph, const std::vector<ChunkShape>& shapes);

/// One TP rank's parameters of the embedding's ops, of one transformer layer's of each kind
/// and of the head's. Without the embedding on the stage, a tied LM head holds a replica.
struct ParamGroups {
  std::vector<RankParam> embedding;
  std::vector<std::vector<RankParam>> layer;  ///< per kind
  std::vector<RankParam> head;
};
ParamGroups param_groups(const sim::LayerGraph& graph, const TensorParallelism& tp,
                         bool embedding_here);

StageFacts stage_facts(const FactsInputs& inputs, const sim::LayerGraph& graph,
                       const StageExtent& extent, const ParamGroups& groups);

/// The stage's communication around its layers (StageStates::forward_communication_s and
/// backward_communication_s), shared evenly by its chunks; what overlapping does not hide
/// behind a chunk's compute it waits for. Sets each chunk's waits and adds them to its times.
void add_layer_communication(const StageStates& states, std::vector<sim::ChunkSpan>& chunks,
                             std::vector<ChunkTimes>& times);

class PlanContext;

/// Seconds for one activation to cross between pipeline stages.
double pipeline_transfer_s(const TrainingPlan& plan, const PlanContext& context);

/// FLOPs of one step that the model needs: forward and backward (3 × forward) of every op,
/// whole, for every microbatch of every data-parallel replica; no recomputation.
double model_flops_per_step(const TrainingPlan& plan, const PlanContext& context);

/// The memory-allocator reserve for a stage whose walk peaks `dynamic` above its resident
/// state: a share of it, rounded up.
sim::Bytes allocator_reserve(const PlanCore& plan, sim::Bytes dynamic);

}  // namespace memsim::evaluation
