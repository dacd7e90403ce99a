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
  return (spec.dtype == sim::DtypeClass::kActivation || spec.dtype == sim::DtypeClass::kStream) &&
         std::none_of(spec.shape.begin(), spec.shape.end(), sim::is_tensor_parallel_dim);
}

}  // namespace

double group_bandwidth(const Cluster& cluster, int64_t stride, int64_t size) {
  const bool one_node = stride * size <= cluster.gpus_per_node;
  return one_node ? cluster.gpu->intra_node_bytes_per_s : cluster.gpu->inter_node_bytes_per_s;
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

OpSeconds tensor_parallel_seconds(const sim::LayerGraph& graph, sim::OpId id,
                                  const std::function<sim::Bytes(sim::TensorId)>& whole_sequence,
                                  const TensorParallelism& tp, double bytes_per_s) {
  OpSeconds seconds;
  const sim::OpNode& op = graph.op(id);
  if (tp.degree <= 1 || !sharded(op)) return seconds;
  const int64_t t = tp.degree;
  const bool sp = tp.sequence_parallel;
  for (sim::TensorId in : op.inputs) {
    if (!unsplit_activation(graph.tensor(in).spec)) continue;
    // The first sharded reader gathers it for all of them.
    const auto readers = graph.consumers(in);
    const auto first = std::find_if(readers.begin(), readers.end(),
                                    [&](sim::OpId r) { return sharded(graph.op(r)); });
    if (*first != id) continue;
    const sim::Bytes bytes = whole_sequence(in);
    if (sp) seconds.forward_s += all_gather_s(bytes, t, bytes_per_s);
    seconds.backward_s +=
        sp ? all_gather_s(bytes, t, bytes_per_s) : all_reduce_s(bytes, t, bytes_per_s);
  }
  for (sim::TensorId out : op.outputs) {
    if (!unsplit_activation(graph.tensor(out).spec)) continue;
    const sim::Bytes bytes = whole_sequence(out);
    seconds.forward_s +=
        sp ? all_gather_s(bytes, t, bytes_per_s) : all_reduce_s(bytes, t, bytes_per_s);
    if (sp) seconds.backward_s += all_gather_s(bytes, t, bytes_per_s);
  }
  return seconds;
}

int64_t process_groups(const Parallelism& parallel) {
  return (parallel.tp.degree > 1 ? 1 : 0) + (parallel.dp.degree > 1 ? 1 : 0) +
         (parallel.pp.stages > 1 ? 1 : 0);
}

}  // namespace memsim::strategies
