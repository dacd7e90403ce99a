#pragma once
/// A training plan compiled for simulation: the layer graph, and one rank program per
/// distinct kind of rank, built by applying the strategies in one fixed order:
///   1. tensor/sequence parallel sharding of every tensor and parameter
///   2. precision: element counts become bytes
///   3. model states of the rank's parameters
///   4. data parallel / ZeRO sharding and offload of the model states
///   5. checkpointing: recompute spans
///   6. schedule: microbatches per step
///   7. overheads: CUDA context, communication library, allocator reserve
/// Ranks that would walk identical programs share one (they are still reported one by one).

#include <cstdint>
#include <memory>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/rank_program.h"
#include "strategies/training_plan.h"

namespace memsim::strategies {

/// Where a rank sits; ranks are numbered Megatron-style: TP fastest, then DP, then PP.
struct RankPlacement {
  int64_t rank = 0;
  int64_t pp_stage = 0;
  int64_t tp_rank = 0;
  int64_t dp_rank = 0;
};

/// What the `overhead` category of a rank is made of.
struct OverheadParts {
  sim::Bytes cuda_context;
  sim::Bytes communication;  ///< NCCL buffers of the rank's process groups
  int64_t process_groups = 0;
  sim::Bytes allocator_reserve;
};

class CompiledPlan {
 public:
  explicit CompiledPlan(TrainingPlan plan);

  const TrainingPlan& plan() const { return plan_; }
  const sim::LayerGraph& graph() const { return *graph_; }
  int64_t world_size() const { return plan_.cluster.world_size(); }
  RankPlacement placement(int64_t rank) const;
  /// The program rank `rank` walks (shared by ranks that walk the same one).
  const sim::RankProgram& program(int64_t rank) const;
  /// Index of the program `rank` walks, for simulating each distinct program once.
  size_t program_index(int64_t rank) const;
  size_t program_count() const { return kinds_.size(); }
  /// The rank's share of the model's parameters; over all ranks of one data-parallel
  /// replica (all ranks under ZeRO-3) these add up to the model's exact count.
  int64_t rank_parameters(int64_t rank) const;
  /// Host memory the rank's offloaded states take.
  sim::Bytes rank_cpu_bytes(int64_t rank) const;
  const OverheadParts& overheads(int64_t rank) const;

 private:
  struct RankKind {
    sim::RankProgram program;
    sim::Bytes cpu;
    OverheadParts overheads;
  };

  TrainingPlan plan_;
  std::unique_ptr<sim::LayerGraph> graph_;
  std::vector<RankKind> kinds_;
};

}  // namespace memsim::strategies
