#include "evaluation/plan_context.h"

#include "evaluation/time_model.h"
#include "strategies/tensor_parallel.h"

namespace memsim::evaluation {

ContextInputs context_inputs(const TrainingPlan& plan, const Cluster& cluster) {
  return {plan.training.seq_len, plan.training.micro_batch, plan.parallel.tp, plan.precision,
          &cluster};
}

PlanContext::PlanContext(const ContextInputs& inputs, const sim::LayerGraph& graph,
                         const sim::TensorClasses& classes)
    : classes_(&classes) {
  const TensorParallelism& tp = inputs.tp;
  TensorParallelism unsplit = tp;
  unsplit.sequence_parallel = false;
  // The dimensions of each kind of layer, whole and on one rank.
  std::vector<sim::DimSizes> full;
  std::vector<sim::DimSizes> rank;
  for (int kind = 0; kind < graph.kind_count(); ++kind) {
    full.push_back(graph.kind_dims(graph.dims(inputs.seq_len, inputs.micro_batch), kind));
    rank.push_back(strategies::rank_dims(full.back(), tp));
  }
  for (int k = 0; k < classes.count(); ++k) {
    const sim::TensorSpec& spec = classes.spec(k);
    const sim::DimSizes& dims = rank[classes.kind(k)];
    const int64_t bytes = inputs.precision.bytes(spec.dtype);
    class_bytes_.push_back(sim::bytes_of(rank_activation_elements(spec.shape, dims, tp), bytes));
    class_whole_.push_back(
        sim::bytes_of(rank_activation_elements(spec.shape, dims, unsplit), bytes));
    class_share_.push_back(sim::Bytes(sim::ceil_div(class_bytes_.back().value(), tp.degree)));
  }
  boundary_ = sim::bytes_of(
      rank_activation_elements({sim::Dim::kSeq, sim::Dim::kBatch, sim::Dim::kHidden}, rank[0], tp),
      inputs.precision.activation_bytes());

  // Every transformer layer's ops cost what the first layer of its kind's do.
  for (sim::OpId op : graph.embedding_ops())
    model_forward_flops_ += forward_flops(graph.op(op), full[0]);
  for (int kind = 0; kind < graph.kind_count(); ++kind) {
    double layer = 0.0;
    for (sim::OpId op : graph.kind_ops(kind))
      layer += forward_flops(graph.op(op), full[kind]);
    model_forward_flops_ += layer * static_cast<double>(graph.kind_layers(kind));
  }
  for (sim::OpId op : graph.head_ops())
    model_forward_flops_ += forward_flops(graph.op(op), full[0]);

  const Cluster& cluster = *inputs.cluster;
  const double tp_bandwidth = group_bandwidth(cluster, 1, tp.degree);
  const auto whole = [&](sim::TensorId t) { return class_whole_[classes.of(t)]; };
  twin_times_.resize(graph.twins().size());
  twin_buffers_.resize(graph.twins().size());
  for (sim::OpId op : graph.twins()) {
    const int slot = graph.twin_slot(op);
    twin_buffers_[slot] = sequence_parallel_buffer(graph, graph.op(op), whole, tp);
    sim::OpTimes& times = twin_times_[slot];
    times.forward_s = compute_seconds(forward_flops(graph.op(op), rank[graph.op_kind(op)]),
                                      *cluster.gpu, cluster.compute_efficiency);
    times.backward_s = 2.0 * times.forward_s;
    // Of a matmul's backward, one matmul of its forward's size makes the weight gradient
    // (dW = dYᵀX; Qi et al. 2024, Zero Bubble Pipeline Parallelism, §2).
    const bool matmul = sim::op_info(graph.op(op).kind).flops == sim::FlopsRule::kMatmul;
    times.weight_s = matmul && !graph.op(op).params.empty() ? times.forward_s : 0.0;
    const OpSeconds comm = tensor_parallel_seconds(graph, op, whole, tp, tp_bandwidth);
    times.forward_s += comm.forward_s;
    times.backward_s += comm.backward_s;
  }
}

}  // namespace memsim::evaluation
