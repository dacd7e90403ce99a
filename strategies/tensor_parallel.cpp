#include "strategies/tensor_parallel.h"

#include <algorithm>

#include <fmt/format.h>

#include "sim/limits.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

using sim::Dim;

bool splits_heads(const sim::ModelSpec& model, int64_t t) {
  return model.heads % t == 0;
}
bool splits_kv_heads(const sim::ModelSpec& model, int64_t t) {
  return model.kv_heads % t == 0 || t % model.kv_heads == 0;
}
bool splits_ffn(const sim::ModelSpec& model, int64_t t) {
  return model.ffn_not_divided_by(t) == 0;
}
bool splits_model(const sim::ModelSpec& model, int64_t t) {
  return splits_heads(model, t) && splits_kv_heads(model, t) && splits_ffn(model, t);
}

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

namespace {

// The plan's fields the pass reads.
constexpr auto kDegree = MEMSIM_PLAN_FIELD(parallel.tp.degree);
constexpr auto kSequenceParallel = MEMSIM_PLAN_FIELD(parallel.tp.sequence_parallel);
constexpr auto kVocabMultiple = MEMSIM_PLAN_FIELD(parallel.tp.vocab_multiple);

int64_t degree(const Plan& plan) {
  return plan.parallel.tp.degree;
}

/// Whole attention heads and MLP columns per rank: Megatron-LM (core_r0.8.0)
/// megatron/core/transformer/attention.py `divide(num_attention_heads, world_size)` and
/// tensor_parallel/layers.py ColumnParallelLinear `divide(output_size, world_size)`, each
/// asserting the division is exact; sequence parallelism splits the sequence the same way.
/// KV heads: Megatron divides them too, while vLLM (v0.6, model_executor/layers/linear.py
/// QKVParallelLinear) gives each rank one replicated head when tp ≥ kv_heads; memsim accepts
/// both, as its KV-head rule (rank_dims) does.
std::vector<PassCheck> checks() {
  return {
      {"parallel.tp model.heads", "tp does not divide the attention heads",
       [](const Plan& p) { return !splits_heads(p.model, degree(p)); },
       [](const Plan& p) {
         return fmt::format("parallel.tp = {} does not divide attention heads ({})", degree(p),
                            p.model.heads);
       }},
      {"parallel.tp model.kv_heads", "tp and kv_heads: neither divides the other",
       [](const Plan& p) { return !splits_kv_heads(p.model, degree(p)); },
       [](const Plan& p) {
         return fmt::format("parallel.tp = {} and kv_heads = {}: one must divide the other",
                            degree(p), p.model.kv_heads);
       }},
      {"parallel.tp model.ffn", "tp does not divide the MLP size",
       [](const Plan& p) { return !splits_ffn(p.model, degree(p)); },
       [](const Plan& p) {
         return fmt::format("parallel.tp = {} does not divide the MLP size ({})", degree(p),
                            p.model.ffn_not_divided_by(degree(p)));
       }},
      {"parallel.sequence_parallel parallel.tp training.seq_len",
       "sequence parallelism needs tp to divide seq_len",
       [](const Plan& p) {
         return p.parallel.tp.sequence_parallel && p.training.seq_len % degree(p) != 0;
       },
       [](const Plan& p) {
         return fmt::format("sequence parallelism needs tp = {} to divide seq_len ({})", degree(p),
                            p.training.seq_len);
       }},
  };
}

}  // namespace

StrategyPass tensor_parallel_pass() {
  return {
      .name = "tensor parallelism",
      .keys = {integer_row("parallel.tp", "tensor parallel degree", kDegree, 1, sim::kMostGpus),
               flag_row("parallel.sequence_parallel",
                        "shard norms and dropout along the sequence (needs tp)", kSequenceParallel),
               integer_row("parallel.vocab_multiple",
                           "pad the vocabulary to a multiple of this times tp (128)",
                           kVocabMultiple, 1, 1 << 20)},
      .checks = checks(),
  };
}

}  // namespace memsim::strategies
