#pragma once
/// Activation offload: saved activations move to host memory after their layer's forward
/// and come back before their backward, as torchtune's OffloadActivations
/// (torchtune/training/_activation_offloading.py: saved_tensors_hooks, prefetching on a
/// side stream) and Megatron-LM's CPU activation offloading
/// (megatron/core/transformer/cpu_offload.py, --cpu-offloading-num-layers) do. A saved
/// tensor belongs to the layer whose backward needs it first; the copies are taken to
/// overlap compute (their PCIe time is not added).

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
