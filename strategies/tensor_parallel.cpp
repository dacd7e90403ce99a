#include "strategies/tensor_parallel.h"

#include <algorithm>

namespace memsim::strategies {

using sim::Dim;

int64_t padded_vocab(int64_t vocab, const TensorParallelism& tp) {
  if (tp.degree == 1) return vocab;
  return sim::round_up(vocab, sim::checked_mul(tp.vocab_multiple, tp.degree));
}

sim::DimSizes rank_dims(const sim::DimSizes& full, const TensorParallelism& tp) {
  sim::DimSizes dims = full;
  const int64_t t = tp.degree;
  dims[Dim::kHeads] = full[Dim::kHeads] / t;
  dims[Dim::kKvHeads] = std::max<int64_t>(1, full[Dim::kKvHeads] / t);
  dims[Dim::kFfn] = full[Dim::kFfn] / t;
  dims[Dim::kVocab] = padded_vocab(full[Dim::kVocab], tp) / t;
  return dims;
}

sim::Elements rank_activation_elements(const sim::Shape& shape, const sim::DimSizes& dims,
                                       const TensorParallelism& tp) {
  const bool split_elsewhere = std::any_of(shape.begin(), shape.end(), sim::is_tensor_parallel_dim);
  int64_t count = 1;
  for (Dim dim : shape) {
    int64_t size = dims[dim];
    if (dim == Dim::kSeq && tp.sequence_parallel && !split_elsewhere) size /= tp.degree;
    count = sim::checked_mul(count, size);
  }
  return {count};
}

sim::Elements rank_param_elements(const sim::ParamSpec& param, const sim::DimSizes& full,
                                  const sim::DimSizes& dims) {
  const sim::DimSizes& sizes = param.shard == sim::ShardKind::kReplicated ? full : dims;
  return sim::element_count(param.shape, sizes);
}

namespace {

/// The dimension tensor parallelism splits in a shape, if any.
const Dim* split_dim(const sim::Shape& shape) {
  for (const Dim& dim : shape) {
    if (sim::is_tensor_parallel_dim(dim)) return &dim;
  }
  return nullptr;
}

bool sequence_split(const sim::TensorSpec& spec) {
  const auto dims = spec.shape;
  return split_dim(dims) == nullptr && std::find(dims.begin(), dims.end(), Dim::kSeq) != dims.end();
}

}  // namespace

int64_t owned_param_elements(const sim::ParamSpec& param, const sim::DimSizes& full,
                             const TensorParallelism& tp, int64_t tp_rank) {
  if (param.tied) return 0;
  const int64_t whole = sim::element_count(param.shape, full).count;
  const Dim* dim = split_dim(param.shape);
  if (param.shard == sim::ShardKind::kReplicated || dim == nullptr || tp.degree == 1) {
    return param.shard == sim::ShardKind::kReplicated && tp_rank != 0 ? 0 : whole;
  }
  const int64_t t = tp.degree;
  const int64_t size = full[*dim];
  int64_t owned = size / t;
  if (*dim == Dim::kVocab) {
    const int64_t rows = padded_vocab(size, tp) / t;
    owned = std::clamp<int64_t>(size - tp_rank * rows, 0, rows);
  } else if (*dim == Dim::kKvHeads && t > size) {
    owned = tp_rank % (t / size) == 0 ? 1 : 0;
  }
  return whole / size * owned;
}

sim::Bytes sequence_parallel_buffer(const sim::LayerGraph& graph, const sim::OpNode& op,
                                    const std::function<sim::Bytes(sim::TensorId)>& whole_sequence,
                                    const TensorParallelism& tp) {
  if (!tp.sequence_parallel || tp.degree == 1) return {};
  const bool sharded = std::any_of(op.params.begin(), op.params.end(), [](const auto& p) {
    return p.shard != sim::ShardKind::kReplicated;
  });
  if (!sharded) return {};
  sim::Bytes buffer;
  for (const auto* group : {&op.inputs, &op.outputs}) {
    for (sim::TensorId t : *group) {
      if (sequence_split(graph.tensor(t).spec)) buffer = std::max(buffer, whole_sequence(t));
    }
  }
  return buffer;
}

}  // namespace memsim::strategies
