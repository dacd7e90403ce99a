#pragma once
/// Tensor (and sequence) parallelism, Megatron-LM style: what one rank of a TP group
/// holds of every parameter and activation. Heads, KV heads, the MLP inner size and the
/// (padded) vocabulary are split t ways; with sequence parallelism, tensors that carry no
/// split dimension (the residual stream, norms, dropout masks) are split along the sequence.

#include <cstdint>
#include <functional>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/op_table.h"

namespace memsim::strategies {

struct TensorParallelism {
  int64_t degree = 1;
  bool sequence_parallel = false;
  /// Megatron's --make-vocab-size-divisible-by: with t > 1 the vocabulary is padded to a
  /// multiple of this times t so that every rank holds an equal slice.
  int64_t vocab_multiple = 128;
  bool operator==(const TensorParallelism&) const = default;
};

/// Whether t ways split the model: its attention heads, its KV heads (or t is a multiple of
/// them, each rank keeping a replica of one) and every layer's MLP width. The layouts
/// tensor parallelism refuses otherwise (its pass's checks) and `parallel.tp: auto` in
/// sweeps both ask this.
bool splits_heads(const sim::ModelSpec& model, int64_t t);
bool splits_kv_heads(const sim::ModelSpec& model, int64_t t);
bool splits_ffn(const sim::ModelSpec& model, int64_t t);
bool splits_model(const sim::ModelSpec& model, int64_t t);

/// The vocabulary as the embedding and LM head allocate it under `tp`.
int64_t padded_vocab(int64_t vocab, const TensorParallelism& tp);

/// One TP rank's slice of each dimension: heads, KV heads (at least one: with t > kv_heads
/// each rank keeps a replica of one KV head), MLP inner size and padded vocabulary divided
/// by t; everything else whole.
sim::DimSizes rank_dims(const sim::DimSizes& full, const TensorParallelism& tp);

/// Elements of an activation of `shape` on one TP rank. `dims` come from rank_dims().
sim::Elements rank_activation_elements(const sim::Shape& shape, const sim::DimSizes& dims,
                                       const TensorParallelism& tp);

/// Elements of a parameter on one TP rank: replicated parameters are whole; column-, row-
/// and vocab-parallel ones hold their slice. `dims` come from rank_dims().
sim::Elements rank_param_elements(const sim::ParamSpec& param, const sim::DimSizes& full,
                                  const sim::DimSizes& dims);

/// Of `param`'s own elements (padding excluded), how many TP rank `tp_rank` accounts for:
/// its slice of a sharded tensor (its rows of the real vocabulary; when t > kv_heads, each
/// KV head counted on the first rank of the ranks that replicate it), and a replicated
/// tensor on TP rank 0 only. Over a TP group these add up to the tensor's size.
int64_t owned_param_elements(const sim::ParamSpec& param, const sim::DimSizes& full,
                             const TensorParallelism& tp, int64_t tp_rank);

/// With sequence parallelism, a TP-sharded layer all-gathers its sequence-split input (a
/// column-parallel linear, the LM head) or reduce-scatters its full output (a row-parallel
/// linear, the embedding): the full tensor is a communication buffer while it runs, in
/// forward and again in backward (Korthikanti et al. 2022, §4.2.2). Bytes per op, or 0.
sim::Bytes sequence_parallel_buffer(const sim::LayerGraph& graph, const sim::OpNode& op,
                                    const std::function<sim::Bytes(sim::TensorId)>& whole_sequence,
                                    const TensorParallelism& tp);

}  // namespace memsim::strategies
