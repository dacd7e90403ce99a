#include "strategies/model_states.h"

#include "strategies/tensor_parallel.h"

namespace memsim::strategies {

namespace {

/// The tensor as a matrix (first dimension × the rest) or a vector.
ParamTensor as_matrix(const sim::ParamSpec& param, const sim::DimSizes& full,
                      const sim::DimSizes& dims) {
  const sim::DimSizes& sizes = param.shard == sim::ShardKind::kReplicated ? full : dims;
  const int64_t elements = sim::element_count(param.shape, sizes).count;
  if (param.shape.rank() < 2) return {elements, 0};
  const int64_t rows = sizes[param.shape[0]];
  return {rows, elements / rows};
}

}  // namespace

ModelStates model_states(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops,
                         const sim::DimSizes& full, const sim::DimSizes& dims,
                         const Precision& precision, const OptimizerSettings& optimizer) {
  using sim::Category;
  ModelStates states;
  states.gradients_per_op.assign(graph.op_count(), sim::Bytes{});
  for (sim::OpId id : ops) {
    for (const sim::ParamSpec& param : graph.op(id).params) {
      const sim::Elements n = rank_param_elements(param, full, dims);
      states.parameters = sim::checked_add(states.parameters, n.count);
      states.bytes[Category::kWeights] += sim::bytes_of(n, precision.weight_bytes());
      states.bytes[Category::kMasterWeights] += sim::bytes_of(n, precision.master_bytes());
      const sim::Bytes gradients = sim::bytes_of(n, precision.gradient_bytes());
      states.bytes[Category::kGradients] += gradients;
      states.gradients_per_op[id] += gradients;
      states.bytes[Category::kOptimizer] +=
          optimizer_state_bytes(optimizer, as_matrix(param, full, dims), precision.state_bytes());
    }
  }
  return states;
}

}  // namespace memsim::strategies
