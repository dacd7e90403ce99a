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
/// during its backward and live then (Megatron's --recompute-method uniform). With `layers`,
/// only a chunk's first `layers` transformer layers are so checkpointed and the others keep
/// everything (Megatron's --recompute-method block, in groups of one).
struct FullCheckpointing {
  int64_t every = 1;
  int64_t layers = kAllLayers;
  /// Each tensor-parallel rank keeps its share of a group's input, gathered whole before
  /// the group's recomputation (Megatron-LM's distribute_saved_activations, DeepSpeed's
  /// partition_activations).
  bool distribute = false;
  static constexpr int64_t kAllLayers = int64_t{1} << 40;
  bool operator==(const FullCheckpointing&) const = default;
};
/// Groups of ⌈√L⌉ layers (Chen et al. 2016): about √L kept inputs and √L rebuilt layers.
struct SqrtCheckpointing {
  bool operator==(const SqrtCheckpointing&) const = default;
};

/// The ops whose outputs per-op selective checkpointing keeps (a set of these bits).
enum SavedOps : uint8_t { kSaveMatmuls = 1, kSaveAttention = 2 };

/// Per-op selective checkpointing, as PyTorch runs it (torch/utils/checkpoint.py,
/// create_selective_checkpoint_contexts) under torchtitan's policy
/// (torchtitan/distributed/activation_checkpoint.py, SelectiveAC; torchtitan b5bcd76): a
/// checkpointed layer keeps its input and the outputs of the chosen ops, and its backward
/// re-runs the rest of the layer, reusing those outputs instead of running their ops again.
struct OpSelectiveCheckpointing {
  uint8_t save = kSaveMatmuls | kSaveAttention;
  /// Of a layer's matmuls, the outputs kept are the 1st, (1 + n)th, ...: torchtitan keeps
  /// every second (n = 2) and recomputes the others.
  int64_t matmul_every = 1;
  /// The n-th, 2n-th, ... layers of each model chunk are checkpointed, the others keep
  /// everything: torchtitan's layer-wise option, with nothing saved, at n > 1 (it counts a
  /// rank's layers across its chunks; alike without interleaving).
  int64_t every = 1;
  bool operator==(const OpSelectiveCheckpointing&) const = default;
};

using CheckpointPolicy = std::variant<NoCheckpointing, SelectiveCheckpointing, FullCheckpointing,
                                      SqrtCheckpointing, OpSelectiveCheckpointing>;

std::string describe(const CheckpointPolicy& policy);

/// The recompute spans of `policy` over the layers [first_layer, last_layer] of `graph`.
std::vector<sim::RecomputeSpan> recompute_spans(const sim::LayerGraph& graph,
                                                const CheckpointPolicy& policy, int32_t first_layer,
                                                int32_t last_layer);

}  // namespace memsim::strategies
