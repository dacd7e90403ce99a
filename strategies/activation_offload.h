#pragma once
/// Activation offload: saved activations move to host memory after their layer's forward
/// and come back before their backward. A saved tensor belongs to the layer whose backward
/// needs it first. Sources:
/// - Megatron-Core's TransformerConfig.cpu_offloading_num_layers
///   (megatron/core/transformer/transformer_config.py) with Transformer Engine's
///   AsyncDoubleBufferGroupOffloadHandler (transformer_engine/pytorch/cpu_offload.py): a
///   layer's activations are offloaded when its forward commits, and the group below is
///   reloaded while a group's backward runs: `layers: N, prefetch: 1`.
/// - torchtune's OffloadActivations (torchtune/training/_activation_offloading.py, read at
///   commit 05cda5e): every saved tensor of 1,024 bytes or more leaves as it is saved (the
///   last 5 stay on the GPU until their copy ends) and comes back when its backward node
///   unpacks it: closest is `layers: all, prefetch: 0`, at layer rather than op granularity.
/// The copies are taken to overlap compute: their PCIe time is not added.

#include <cstdint>

#include "sim/rank_program.h"

namespace memsim::strategies {

struct ActivationOffload {
  /// The first this many transformer layers of each chunk (0: none; kEveryLayer: all).
  int64_t layers = 0;
  /// A layer's activations come back when the backward reaches the layer this many after
  /// it (or starts, if that layer is not in the chunk).
  int64_t prefetch = 1;
  bool operator==(const ActivationOffload&) const = default;
};
inline constexpr int64_t kEveryLayer = int64_t{1} << 40;

/// The host moves `offload` makes; an empty planner when it offloads nothing.
sim::HostMovePlanner host_move_planner(const ActivationOffload& offload);

}  // namespace memsim::strategies
