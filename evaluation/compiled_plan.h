#pragma once
/// A training plan compiled for simulation: the layer graph, and one rank program per
/// pipeline stage (the ranks of a stage walk the same program: tensor-parallel ranks hold
/// equal slices, data-parallel ranks equal shards), built by applying the strategies in one
/// fixed order:
///   1. pipeline partition: layers into chunks, chunks onto stages
///   2. tensor/sequence parallel sharding of every tensor and parameter
///   3. precision: element counts become bytes
///   4. model states of the stage's parameters
///   5. data parallel / ZeRO sharding and offload of the model states
///   6. checkpointing: recompute spans
///   7. schedule: the ordered steps of each stage, timed together
///   8. overheads: CUDA context, communication library, allocator reserve
/// Ranks are still reported one by one.

#include <cstdint>
#include <memory>
#include <vector>

#include "evaluation/stage_facts.h"
#include "sim/layer_graph.h"
#include "sim/quantity_index.h"
#include "sim/rank_program.h"
#include "strategies/plan.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// Where a rank sits; ranks are numbered Megatron-style: TP fastest, then DP, then PP.
struct RankPlacement {
  int64_t rank = 0;
  int64_t pp_stage = 0;
  int64_t tp_rank = 0;
  int64_t dp_rank = 0;
};

/// Where `rank` sits in `parallel`'s layout.
RankPlacement rank_placement(const Parallelism& parallel, int64_t rank);

class PlanContext;

/// The program one rank of `stage` walks, without its schedule's steps (which need every
/// stage's times) or its allocator reserve (which needs a walk).
sim::RankProgram stage_program(const TrainingPlan& plan, const sim::LayerGraph& graph,
                               const sim::QuantityIndex& index, const PlanContext& context,
                               const StageFacts& facts, int64_t stage);

class CompiledPlan {
 public:
  explicit CompiledPlan(TrainingPlan plan);
  ~CompiledPlan();

  const TrainingPlan& plan() const { return plan_; }
  const sim::LayerGraph& graph() const { return *graph_; }
  const sim::QuantityIndex& quantity_index() const { return *index_; }
  int64_t world_size() const { return plan_.cluster.world_size(); }
  RankPlacement placement(int64_t rank) const;
  /// The program rank `rank` walks (shared by the ranks of its stage).
  const sim::RankProgram& program(int64_t rank) const;
  /// Index of the program `rank` walks (its stage), for simulating each one once.
  size_t program_index(int64_t rank) const;
  size_t program_count() const;
  /// The rank's share of the model's parameters; over all ranks of one data-parallel
  /// replica (all ranks under ZeRO-3) these add up to the model's exact count.
  int64_t rank_parameters(int64_t rank) const;
  /// Host memory the rank's offloaded states take.
  sim::Bytes rank_cpu_bytes(int64_t rank) const;
  const OverheadParts& overheads(int64_t rank) const;
  /// Layers of each model chunk, in model order.
  const std::vector<int64_t>& chunk_layers() const { return chunk_layers_; }
  /// The idle share of the pipeline phase on the stage that idles most.
  double bubble_fraction() const { return bubble_fraction_; }
  /// FLOPs of one step that the model needs (forward and backward, no recomputation).
  double model_flops_per_step() const { return model_flops_; }

 private:
  struct Stage;

  TrainingPlan plan_;
  std::unique_ptr<sim::LayerGraph> graph_;
  std::unique_ptr<sim::QuantityIndex> index_;
  std::vector<int64_t> chunk_layers_;
  std::vector<Stage> stages_;
  double bubble_fraction_ = 0.0;
  double model_flops_ = 0.0;
};

}  // namespace memsim::evaluation
