#include "strategies/plan_context.h"

#include <tuple>

#include "strategies/tensor_parallel.h"
#include "strategies/time_model.h"

namespace memsim::strategies {

namespace {

bool same_spec(const sim::TensorSpec& a, const sim::TensorSpec& b) {
  return a.dtype == b.dtype && a.shape.rank() == b.shape.rank() &&
         std::equal(a.shape.begin(), a.shape.end(), b.shape.begin());
}

}  // namespace

TensorClasses::TensorClasses(const sim::LayerGraph& graph) {
  class_of_.reserve(graph.tensor_count());
  for (sim::TensorId t = 0; t < graph.tensor_count(); ++t) {
    const sim::TensorSpec& spec = graph.tensor(t).spec;
    int k = 0;
    while (k < count() && !same_spec(specs_[k], spec))
      ++k;
    if (k == count()) specs_.push_back(spec);
    class_of_.push_back(k);
  }
}

PlanContext::PlanContext(const TrainingPlan& plan, const sim::LayerGraph& graph,
                         const TensorClasses& classes)
    : graph_(&graph), classes_(&classes) {
  const TensorParallelism& tp = plan.parallel.tp;
  full_ = sim::model_dims(plan.model, plan.training.seq_len, plan.training.micro_batch);
  dims_ = strategies::rank_dims(full_, tp);
  TensorParallelism unsplit = tp;
  unsplit.sequence_parallel = false;
  for (int k = 0; k < classes.count(); ++k) {
    const sim::TensorSpec& spec = classes.spec(k);
    const int64_t bytes = plan.precision.bytes(spec.dtype);
    class_bytes_.push_back(sim::bytes_of(rank_activation_elements(spec.shape, dims_, tp), bytes));
    class_whole_.push_back(
        sim::bytes_of(rank_activation_elements(spec.shape, dims_, unsplit), bytes));
  }
  boundary_ = sim::bytes_of(
      rank_activation_elements({sim::Dim::kSeq, sim::Dim::kBatch, sim::Dim::kHidden}, dims_, tp),
      plan.precision.activation_bytes());

  // Every transformer layer's ops cost what layer 0's do.
  double layer = 0.0;
  for (sim::OpId op : graph.first_layer_ops())
    layer += forward_flops(graph.op(op), full_);
  for (sim::OpId op : graph.embedding_ops())
    model_forward_flops_ += forward_flops(graph.op(op), full_);
  model_forward_flops_ += layer * static_cast<double>(plan.model.layers);
  for (sim::OpId op : graph.head_ops())
    model_forward_flops_ += forward_flops(graph.op(op), full_);

  const Cluster& cluster = plan.cluster;
  const double tp_bandwidth = group_bandwidth(cluster, 1, tp.degree);
  const auto whole = [&](sim::TensorId t) { return class_whole_[classes.of(t)]; };
  twin_costs_.resize(graph.twins().size());
  for (sim::OpId op : graph.twins()) {
    {
      sim::OpCost& cost = twin_costs_[graph.twin_slot(op)];
      cost.forward_buffer = sequence_parallel_buffer(graph, graph.op(op), whole, tp);
      cost.backward_buffer = cost.forward_buffer;
      cost.forward_s = compute_seconds(forward_flops(graph.op(op), dims_), cluster.gpu,
                                       cluster.compute_efficiency);
      cost.backward_s = 2.0 * cost.forward_s;
      const OpSeconds comm = tensor_parallel_seconds(graph, op, whole, tp, tp_bandwidth);
      cost.forward_s += comm.forward_s;
      cost.backward_s += comm.backward_s;
    }
  }
}

}  // namespace memsim::strategies
