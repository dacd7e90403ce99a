#pragma once
/// A training plan compiled for simulation: the layer graph, and one rank program per
/// distinct kind of rank, built by applying the strategies in one fixed order:
///   1. tensor/sequence parallel sharding of every tensor and parameter
///   2. precision: element counts become bytes
///   3. model states (weights, gradients, master weights, optimizer states)
///   4. checkpointing: recompute spans
///   5. schedule: microbatches per step
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
  size_t program_count() const { return programs_.size(); }
  /// Parameters the rank holds (elements, padding included).
  int64_t rank_parameters(int64_t rank) const;

 private:
  TrainingPlan plan_;
  std::unique_ptr<sim::LayerGraph> graph_;
  std::vector<sim::RankProgram> programs_;
  std::vector<int64_t> parameters_;  ///< per program
};

}  // namespace memsim::strategies
