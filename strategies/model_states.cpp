#include "strategies/model_states.h"

#include <algorithm>

#include "sim/check.h"

namespace memsim::strategies {

bool has_embedding(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops) {
  return std::any_of(ops.begin(), ops.end(),
                     [&](sim::OpId id) { return graph.op(id).kind == sim::OpKind::kEmbedding; });
}

// A tied LM head is a view of the embedding when both are on the rank; on a pipeline stage
// without the embedding it holds a replica (Megatron-LM keeps one on the last stage and
// all-reduces its gradient with the first), counted in memory but owned by the first.
std::vector<RankParam> rank_params(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops,
                                   const sim::DimSizes& full, const TensorParallelism& tp,
                                   int64_t tp_rank, bool embedding_here, int64_t count) {
  // The dimensions of each kind of layer, whole and on this rank.
  std::vector<sim::DimSizes> kind_full;
  std::vector<sim::DimSizes> kind_rank;
  for (int kind = 0; kind < graph.kind_count(); ++kind) {
    kind_full.push_back(graph.kind_dims(full, kind));
    kind_rank.push_back(rank_dims(kind_full.back(), tp));
  }
  std::vector<RankParam> params;
  for (sim::OpId id : ops) {
    const sim::OpNode& node = graph.op(id);
    const int kind = graph.op_kind(id);
    for (const sim::ParamSpec& param : node.params) {
      const sim::DimSizes& sizes =
          param.shard == sim::ShardKind::kReplicated ? kind_full[kind] : kind_rank[kind];
      const int64_t elements = sim::element_count(param.shape, sizes).count;
      // As a matrix (first dimension × the rest) or a vector, for factored optimizers.
      ParamTensor shape{elements, 0};
      if (param.shape.rank() >= 2) {
        shape = {sizes[param.shape[0]], elements / sizes[param.shape[0]]};
      }
      params.push_back({id, node.layer, shape,
                        owned_param_elements(param, kind_full[kind], tp, tp_rank),
                        param.tied && embedding_here, count});
    }
  }
  return params;
}

sim::CategoryBytes unsharded_states(const std::vector<RankParam>& params,
                                    const Precision& precision,
                                    const OptimizerSettings& optimizer) {
  using sim::Category;
  const OptimizerInfo* info = find_optimizer(optimizer.name);
  MEMSIM_CHECK(info != nullptr);
  const int64_t state_bytes = precision.state_bytes();
  int64_t elements = 0;
  sim::Bytes optimizer_bytes;
  for (const RankParam& param : params) {
    if (param.tied) continue;
    elements = sim::checked_add(elements, sim::checked_mul(param.elements(), param.count));
    optimizer_bytes += info->state_bytes(param.shape, state_bytes, optimizer) * param.count;
  }
  sim::CategoryBytes states;
  states[Category::kWeights] = sim::bytes_of({elements}, precision.weight_bytes());
  states[Category::kMasterWeights] = sim::bytes_of({elements}, precision.master_bytes());
  states[Category::kGradients] = sim::bytes_of({elements}, precision.gradient_bytes());
  states[Category::kOptimizer] = optimizer_bytes;
  return states;
}

int64_t largest_param(const std::vector<RankParam>& params) {
  int64_t largest = 0;
  for (const RankParam& p : params) {
    if (!p.tied) largest = std::max(largest, p.elements());
  }
  return largest;
}

StageStates whole_states(const std::vector<RankParam>& params, const sim::LayerGraph& graph,
                         const Precision& precision, const OptimizerSettings& optimizer) {
  StageStates states;
  states.gpu = unsharded_states(params, precision, optimizer);
  int64_t elements = 0;
  for (const RankParam& p : params) {
    if (!p.tied) elements = sim::checked_add(elements, sim::checked_mul(p.elements(), p.count));
  }
  states.step_workspace =
      optimizer_step_workspace(optimizer, elements, largest_param(params), precision.state_bytes());
  states.gathered.assign(graph.layer_slots(), sim::Bytes{});
  states.gathered_per_twin.assign(graph.twins().size(), sim::Bytes{});
  states.gradients.assign(graph.layer_slots(), sim::Bytes{});
  states.gradients_per_twin.assign(graph.twins().size(), sim::Bytes{});
  for (const RankParam& p : params) {
    if (!p.tied) {
      states.gradients_per_twin[graph.twin_slot(p.op)] +=
          sim::bytes_of({p.elements()}, precision.gradient_bytes());
    }
  }
  // Made on demand, a tied embedding's gradient comes with the LM head's backward, the
  // first to reach the shared weight: PyTorch's AccumulateGrad makes .grad there and adds
  // the embedding's share to it later (torch/csrc/autograd/functions/accumulate_grad.h).
  for (const RankParam& head : params) {
    if (!head.tied) continue;
    for (const RankParam& owner : params) {
      if (graph.op(owner.op).kind != sim::OpKind::kEmbedding) continue;
      const sim::Bytes grad = sim::bytes_of({head.elements()}, precision.gradient_bytes());
      states.gradients_per_twin[graph.twin_slot(owner.op)] -= grad;
      states.gradients_per_twin[graph.twin_slot(head.op)] += grad;
      states.shared_gradient_slot = graph.twin_slot(head.op);
    }
  }
  return states;
}

double StageStates::sync_s(double window) const {
  return (overlaps_compute ? std::max(0.0, reduce_s - window) : reduce_s) + gather_after_s +
         offload_s;
}

}  // namespace memsim::strategies
