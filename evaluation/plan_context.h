#pragma once
/// Sizes and costs that every pipeline stage of a plan shares: the dimensions one rank sees,
/// the bytes of each kind of tensor, and what each op costs in communication buffers and
/// seconds. Ops of every transformer layer cost what their twin in the first layer of its
/// kind costs, so only the twins (the embedding's, each kind's first layer's and the
/// head's ops) are priced.

#include <cstdint>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/quantity_index.h"
#include "sim/rank_program.h"
#include "strategies/communication.h"
#include "strategies/plan.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// Everything a plan's context reads besides the model (its graph's): plans with equal
/// inputs share one context, so these are also its cache key. The cluster is held by
/// address: one stored copy per distinct cluster (sim::Interned) where inputs are kept.
struct ContextInputs {
  int64_t seq_len = 0;
  int64_t micro_batch = 0;
  TensorParallelism tp;
  Precision precision;
  const Cluster* cluster = nullptr;
  bool operator==(const ContextInputs&) const = default;
};
/// The inputs of `plan`'s context, its cluster `cluster` (the plan's, or an equal one).
ContextInputs context_inputs(const TrainingPlan& plan, const Cluster& cluster);

class PlanContext {
 public:
  PlanContext(const ContextInputs& inputs, const sim::LayerGraph& graph,
              const sim::TensorClasses& classes);

  /// Bytes of tensor class `k` on one rank, and before any sequence-parallel split.
  sim::Bytes class_bytes(int k) const { return class_bytes_[k]; }
  sim::Bytes class_whole_sequence(int k) const { return class_whole_[k]; }
  /// One tensor-parallel rank's share of class `k`: its bytes over the degree, rounded up.
  sim::Bytes class_share(int k) const { return class_share_[k]; }
  sim::Bytes tensor_bytes(sim::TensorId t) const { return class_bytes_[classes_->of(t)]; }
  /// An op's seconds, and the communication buffer live while its forward or its backward
  /// runs, by its twin slot (LayerGraph::twin_slot).
  const sim::OpTimes& twin_times(int slot) const { return twin_times_[slot]; }
  sim::Bytes twin_buffer(int slot) const { return twin_buffers_[slot]; }
  /// Bytes of one activation crossing between pipeline stages.
  sim::Bytes boundary_bytes() const { return boundary_; }
  /// Forward FLOPs of one microbatch through the whole model, unsharded.
  double model_forward_flops() const { return model_forward_flops_; }

 private:
  const sim::TensorClasses* classes_;
  std::vector<sim::Bytes> class_bytes_;
  std::vector<sim::Bytes> class_whole_;
  std::vector<sim::Bytes> class_share_;
  std::vector<sim::OpTimes> twin_times_;  ///< per twin slot
  std::vector<sim::Bytes> twin_buffers_;  ///< per twin slot
  sim::Bytes boundary_;
  double model_forward_flops_ = 0.0;
};

}  // namespace memsim::evaluation
