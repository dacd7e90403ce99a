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

}  // namespace memsim::strategies
