#pragma once
/// Sizes and costs that every pipeline stage of a plan shares: the dimensions one rank sees,
/// the bytes of each kind of tensor, and what each op costs in communication buffers and
/// seconds. Ops of every transformer layer cost what their twin in layer 0 costs, so only
/// the embedding's, layer 0's and the head's ops are priced.

#include <cstdint>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/rank_program.h"
#include "strategies/communication.h"
#include "strategies/training_plan.h"

namespace memsim::strategies {

/// The distinct (shape, dtype class) pairs of a graph's tensors: tensors of one class have
/// the same size under every configuration.
class TensorClasses {
 public:
  explicit TensorClasses(const sim::LayerGraph& graph);
  int of(sim::TensorId tensor) const { return class_of_[tensor]; }
  int count() const { return static_cast<int>(specs_.size()); }
  const sim::TensorSpec& spec(int k) const { return specs_[k]; }

 private:
  std::vector<int> class_of_;
  std::vector<sim::TensorSpec> specs_;
};

class PlanContext {
 public:
  PlanContext(const TrainingPlan& plan, const sim::LayerGraph& graph, const TensorClasses& classes);

  const sim::DimSizes& full_dims() const { return full_; }
  const sim::DimSizes& rank_dims() const { return dims_; }
  /// Bytes of tensor class `k` on one rank, and before any sequence-parallel split.
  sim::Bytes class_bytes(int k) const { return class_bytes_[k]; }
  sim::Bytes class_whole_sequence(int k) const { return class_whole_[k]; }
  sim::Bytes tensor_bytes(sim::TensorId t) const { return class_bytes_[classes_->of(t)]; }
  /// An op's communication buffers and seconds (its parameter gradients are the stage's).
  const sim::OpCost& op_cost(sim::OpId op) const { return twin_costs_[graph_->twin_slot(op)]; }
  /// The same by twin slot (LayerGraph::twin_slot).
  const sim::OpCost& twin_cost(int slot) const { return twin_costs_[slot]; }
  /// Bytes of one activation crossing between pipeline stages.
  sim::Bytes boundary_bytes() const { return boundary_; }
  /// Forward FLOPs of one microbatch through the whole model, unsharded.
  double model_forward_flops() const { return model_forward_flops_; }

 private:
  const sim::LayerGraph* graph_;
  const TensorClasses* classes_;
  sim::DimSizes full_;
  sim::DimSizes dims_;
  std::vector<sim::Bytes> class_bytes_;
  std::vector<sim::Bytes> class_whole_;
  std::vector<sim::OpCost> twin_costs_;  ///< per twin slot
  sim::Bytes boundary_;
  double model_forward_flops_ = 0.0;
};

}  // namespace memsim::strategies
