#include "strategies/serving.h"

#include <algorithm>

#include "sim/check.h"
#include "strategies/communication.h"
#include "strategies/data_parallel.h"
#include "strategies/model_states.h"
#include "strategies/pipeline.h"
#include "strategies/quantization.h"
#include "strategies/tensor_parallel.h"

namespace memsim::strategies {

using sim::Category;
using sim::Dim;
using sim::OpKind;

namespace {

bool is_embedding_table(OpKind kind) {
  return kind == OpKind::kEmbedding || kind == OpKind::kPositionEmbedding ||
         kind == OpKind::kLmHead;
}

/// One parameter of an op of `kind` on one TP rank, in its storage format.
sim::Bytes param_bytes(const sim::ParamSpec& param, OpKind kind, const sim::DimSizes& full,
                       const sim::DimSizes& dims, const Inference& inference) {
  const sim::DimSizes& sizes = param.shard == sim::ShardKind::kReplicated ? full : dims;
  const int64_t elements = sim::element_count(param.shape, sizes).count;
  if (is_embedding_table(kind) && param.shape.rank() >= 2) {
    // A row per token (or position): groups run along the hidden size.
    const int64_t rows = sizes[param.shape[0]];
    return sim::Bytes(
        matrix_bytes(inference.embedding_format(), rows, elements / rows, inference.group_size));
  }
  if (param.input_dims > 0) {
    int64_t inputs = 1;
    for (int i = 0; i < param.input_dims; ++i)
      inputs = sim::checked_mul(inputs, sizes[param.shape[i]]);
    return sim::Bytes(
        matrix_bytes(inference.weights, elements / inputs, inputs, inference.group_size));
  }
  return sim::bytes_of({elements}, unquantised_bytes(inference.weights));
}

}  // namespace

sim::Bytes op_weight_bytes(const ServingPlan& plan, const sim::OpNode& op, bool views) {
  const sim::DimSizes full =
      sim::with_layer_dims(plan.model, sim::model_dims(plan.model, 1, 1), op.layer);
  const sim::DimSizes dims = rank_dims(full, plan.parallel.tp);
  sim::Bytes bytes;
  for (const sim::ParamSpec& param : op.params) {
    if (param.tied && !views) continue;
    bytes += param_bytes(param, op.kind, full, dims, plan.inference);
  }
  return bytes;
}

int64_t inference_process_groups(const Parallelism& parallel) {
  Parallelism alone = parallel;
  alone.dp.degree = 1;
  return process_groups(alone);
}

int64_t cached_tokens(const Inference& inference, int64_t tokens) {
  if (inference.kv_block <= 0) return tokens;
  return (tokens + inference.kv_block - 1) / inference.kv_block * inference.kv_block;
}

sim::Bytes kv_bytes_per_token(const ServingPlan& plan, int64_t layers) {
  const sim::DimSizes dims = rank_dims(sim::model_dims(plan.model, 1, 1), plan.parallel.tp);
  const int64_t per_layer =
      2 * dims[Dim::kKvHeads] * dims[Dim::kHeadDim] * kv_format_info(plan.inference.kv_cache).bytes;
  return sim::Bytes(sim::checked_mul(per_layer, layers));
}

sim::Bytes inference_weight_bytes(const ServingPlan& plan, const sim::LayerGraph& graph,
                                  const std::vector<sim::OpId>& ops) {
  const bool embedding_here = has_embedding(graph, ops);
  sim::Bytes bytes;
  for (sim::OpId op : ops)
    bytes += op_weight_bytes(plan, graph.op(op), !embedding_here);
  return bytes;
}

PassShape decode_pass(const Inference& inference, int64_t step, int64_t cached_before) {
  const int64_t context = inference.prompt_len + step;
  return {static_cast<int32_t>(prefill_passes(inference) + step - 1),
          1,
          context,
          1,
          cached_before,
          cached_tokens(inference, context)};
}

std::vector<PassShape> inference_passes(const Inference& inference, int64_t decode_stride) {
  std::vector<PassShape> passes;
  const int64_t chunk =
      inference.prefill_chunk > 0 ? inference.prefill_chunk : inference.prompt_len;
  for (int64_t start = 0; start < inference.prompt_len; start += chunk) {
    const int64_t end = std::min(inference.prompt_len, start + chunk);
    const bool last = end == inference.prompt_len;
    // Only the prompt's last position samples a token; chunks before it sample nothing.
    const int64_t logits = inference.all_logits ? end - start : (last ? 1 : 0);
    passes.push_back({static_cast<int32_t>(passes.size()), end - start, end, logits,
                      cached_tokens(inference, start), cached_tokens(inference, end)});
  }
  const int64_t steps = inference.generate_len;
  if (steps == 0) return passes;
  const int64_t stride = std::min(decode_stride, steps);
  for (int64_t step = (steps - 1) % stride + 1; step <= steps; step += stride) {
    passes.push_back(decode_pass(inference, step, passes.empty() ? 0 : passes.back().cached_after));
  }
  return passes;
}

int32_t prefill_passes(const Inference& inference) {
  const int64_t chunk =
      inference.prefill_chunk > 0 ? inference.prefill_chunk : inference.prompt_len;
  return static_cast<int32_t>((inference.prompt_len + chunk - 1) / chunk);
}

}  // namespace memsim::strategies
