#include "strategies/communication.h"

#include <algorithm>

namespace memsim::strategies {

namespace {

bool sharded(const sim::OpNode& op) {
  return std::any_of(op.params.begin(), op.params.end(), [](const sim::ParamSpec& p) {
    return p.shard != sim::ShardKind::kReplicated;
  });
}

/// An activation with no tensor-parallel dimension: whole (or sequence-split) on each rank.
bool unsplit_activation(const sim::TensorSpec& spec) {
  return spec.dtype == sim::DtypeClass::kActivation &&
         std::none_of(spec.shape.begin(), spec.shape.end(), sim::is_tensor_parallel_dim);
}

}  // namespace

double group_bandwidth(const Cluster& cluster, int64_t stride, int64_t size) {
  const bool one_node = stride * size <= cluster.gpus_per_node;
  return one_node ? cluster.gpu.intra_node_bytes_per_s : cluster.gpu.inter_node_bytes_per_s;
}

double all_reduce_s(sim::Bytes bytes, int64_t ranks, double bytes_per_s) {
  if (ranks <= 1) return 0.0;
  const auto n = static_cast<double>(ranks);
  return 2.0 * (n - 1.0) / n * static_cast<double>(bytes.value()) / bytes_per_s;
}

double all_gather_s(sim::Bytes bytes, int64_t ranks, double bytes_per_s) {
  if (ranks <= 1) return 0.0;
  const auto n = static_cast<double>(ranks);
  return (n - 1.0) / n * static_cast<double>(bytes.value()) / bytes_per_s;
}

void add_tensor_parallel_time(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops,
                              const std::vector<sim::Bytes>& whole_sequence,
                              const TensorParallelism& tp, double bytes_per_s,
                              std::vector<sim::OpCost>& costs) {
  if (tp.degree <= 1) return;
  const int64_t t = tp.degree;
  const bool sp = tp.sequence_parallel;
  std::vector<bool> gathered(graph.tensor_count(), false);
  for (sim::OpId id : ops) {
    const sim::OpNode& op = graph.op(id);
    if (!sharded(op)) continue;
    sim::OpCost& cost = costs[id];
    for (sim::TensorId in : op.inputs) {
      if (!unsplit_activation(graph.tensor(in).spec) || gathered[in]) continue;
      gathered[in] = true;  // the first sharded reader gathers it for all of them
      const sim::Bytes bytes = whole_sequence[in];
      if (sp) cost.forward_s += all_gather_s(bytes, t, bytes_per_s);
      cost.backward_s +=
          sp ? all_gather_s(bytes, t, bytes_per_s) : all_reduce_s(bytes, t, bytes_per_s);
    }
    for (sim::TensorId out : op.outputs) {
      if (!unsplit_activation(graph.tensor(out).spec)) continue;
      const sim::Bytes bytes = whole_sequence[out];
      cost.forward_s +=
          sp ? all_gather_s(bytes, t, bytes_per_s) : all_reduce_s(bytes, t, bytes_per_s);
      if (sp) cost.backward_s += all_gather_s(bytes, t, bytes_per_s);
    }
  }
}

}  // namespace memsim::strategies
