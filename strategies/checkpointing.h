#pragma once
/// Activation checkpointing: which ops' saved tensors are dropped in forward and rebuilt
/// in backward. Policies turn into recompute spans the simulator walks.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/rank_program.h"

namespace memsim::strategies {

/// Keep everything the op table saves.
struct NoCheckpointing {
  bool operator==(const NoCheckpointing&) const = default;
};
/// Korthikanti et al. 2022 §5: recompute the attention core (scores, softmax, dropout),
/// keeping its inputs Q, K, V. Nothing to drop under FlashAttention, which already
/// recomputes them.
struct SelectiveCheckpointing {
  bool operator==(const SelectiveCheckpointing&) const = default;
};
/// Keep only the input of every group of `every` layers; a group's activations are rebuilt
/// during its backward and live then (Megatron's --recompute-method uniform).
struct FullCheckpointing {
  int64_t every = 1;
  bool operator==(const FullCheckpointing&) const = default;
};
/// Groups of ⌈√L⌉ layers (Chen et al. 2016): about √L kept inputs and √L rebuilt layers.
struct SqrtCheckpointing {
  bool operator==(const SqrtCheckpointing&) const = default;
};

using CheckpointPolicy =
    std::variant<NoCheckpointing, SelectiveCheckpointing, FullCheckpointing, SqrtCheckpointing>;

std::string describe(const CheckpointPolicy& policy);

/// The recompute spans of `policy` over the layers [first_layer, last_layer] of `graph`.
std::vector<sim::RecomputeSpan> recompute_spans(const sim::LayerGraph& graph,
                                                const CheckpointPolicy& policy, int32_t first_layer,
                                                int32_t last_layer);

}  // namespace memsim::strategies
