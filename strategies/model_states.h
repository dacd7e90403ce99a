#pragma once
/// Model states on one rank: weights, gradients, fp32 master weights and optimizer states
/// of the parameters the rank holds, from the op table's parameter shapes.

#include <cstdint>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/memory_event.h"
#include "strategies/optimizer.h"
#include "strategies/precision.h"

namespace memsim::strategies {

struct ModelStates {
  sim::CategoryBytes bytes;                  ///< weights, master_weights, gradients, optimizer
  int64_t parameters = 0;                    ///< elements held (padding included)
  std::vector<sim::Bytes> gradients_per_op;  ///< per OpId
};

/// States of the parameters of every op in `ops`, each tensor sized by `full` dims when
/// replicated and by the rank's `dims` when sharded.
ModelStates model_states(const sim::LayerGraph& graph, const std::vector<sim::OpId>& ops,
                         const sim::DimSizes& full, const sim::DimSizes& dims,
                         const Precision& precision, const OptimizerSettings& optimizer);

}  // namespace memsim::strategies
