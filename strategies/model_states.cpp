#include "strategies/model_states.h"

#include <algorithm>

namespace memsim::strategies {

std::vector<RankParam> rank_params(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops,
                                   const sim::DimSizes& full, const TensorParallelism& tp,
                                   int64_t tp_rank) {
  const sim::DimSizes dims = rank_dims(full, tp);
  // A tied LM head is a view of the embedding when both are here; on a pipeline stage
  // without the embedding it holds a replica (Megatron-LM keeps one on the last stage and
  // all-reduces its gradient with the first), counted in memory but owned by the first.
  const bool embedding_here = std::any_of(ops.begin(), ops.end(), [&](sim::OpId id) {
    return graph.op(id).kind == sim::OpKind::kEmbedding;
  });
  std::vector<RankParam> params;
  for (sim::OpId id : ops) {
    const sim::OpNode& node = graph.op(id);
    for (const sim::ParamSpec& param : node.params) {
      const sim::DimSizes& sizes = param.shard == sim::ShardKind::kReplicated ? full : dims;
      const int64_t elements = sim::element_count(param.shape, sizes).count;
      // As a matrix (first dimension × the rest) or a vector, for factored optimizers.
      ParamTensor shape{elements, 0};
      if (param.shape.rank() >= 2)
        shape = {sizes[param.shape[0]], elements / sizes[param.shape[0]]};
      params.push_back({id, node.layer, shape, owned_param_elements(param, full, tp, tp_rank),
                        param.tied && embedding_here});
    }
  }
  return params;
}

sim::CategoryBytes unsharded_states(const std::vector<RankParam>& params,
                                    const Precision& precision,
                                    const OptimizerSettings& optimizer) {
  using sim::Category;
  sim::CategoryBytes states;
  for (const RankParam& param : params) {
    if (param.tied) continue;
    const sim::Elements n{param.elements()};
    states[Category::kWeights] += sim::bytes_of(n, precision.weight_bytes());
    states[Category::kMasterWeights] += sim::bytes_of(n, precision.master_bytes());
    states[Category::kGradients] += sim::bytes_of(n, precision.gradient_bytes());
    states[Category::kOptimizer] +=
        optimizer_state_bytes(optimizer, param.shape, precision.state_bytes());
  }
  return states;
}

}  // namespace memsim::strategies
