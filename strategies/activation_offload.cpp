// Activation offload: saved activations move to host memory after their layer's forward
// and come back before their backward. A saved tensor belongs to the layer whose backward
// needs it first. Sources:
// - Megatron-Core's TransformerConfig.cpu_offloading_num_layers
//   (megatron/core/transformer/transformer_config.py) with Transformer Engine's
//   AsyncDoubleBufferGroupOffloadHandler (transformer_engine/pytorch/cpu_offload.py): a
//   layer's activations are offloaded when its forward commits, and the group below is
//   reloaded while a group's backward runs: `layers: N, prefetch: 1`.
// - torchtune's OffloadActivations (torchtune/training/_activation_offloading.py, read at
//   commit 05cda5e): every saved tensor of 1,024 bytes or more leaves as it is saved (the
//   last 5 stay on the GPU until their copy ends) and comes back when its backward node
//   unpacks it: closest is `layers: all, prefetch: 0`, at layer rather than op granularity.
// The copies are taken to overlap compute: their PCIe time is not added.

#include "sim/limits.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

/// Each kept tensor of the chunk's first `offload.layers` transformer layers leaves once its
/// layer's forward (and every forward read of it) is done, and comes back when the backward
/// reaches the layer `offload.prefetch` after its own.
std::vector<sim::HostMove> plan_moves(const ActivationOffload& offload,
                                      const sim::LayerGraph& graph, sim::ChunkSpan chunk,
                                      const std::vector<sim::KeptTensor>& kept) {
  const auto order = graph.forward_order();
  auto layer_at = [&](int pos) { return graph.op(order[pos]).layer; };
  const sim::LayerGraph::LayerRange layers = graph.transformer_layers(chunk.first, chunk.last);
  auto last_of_layer = [&](int pos) {
    while (pos < chunk.last && layer_at(pos + 1) == layer_at(pos))
      ++pos;
    return pos;
  };
  std::vector<sim::HostMove> moves;
  for (const sim::KeptTensor& k : kept) {
    const int32_t owner = layer_at(k.first_need);
    if (!layers.has(owner) || owner - layers.first >= offload.layers) continue;
    // The backward reaches layer owner + prefetch at its last op in forward order.
    int back = chunk.last;
    for (int pos = chunk.last; pos >= chunk.first; --pos) {
      if (layer_at(pos) == owner + offload.prefetch) {
        back = pos;
        break;
      }
    }
    moves.push_back({k.tensor, last_of_layer(std::max(k.first_need, k.last_forward_use)), back});
  }
  return moves;
}

void offload_kept_activations(const RecipeSettings& settings, sim::RankProgram& program) {
  const ActivationOffload offload = settings.passes.activation_offload;
  if (offload.layers == 0) return;
  program.host_moves = [offload](const sim::LayerGraph& graph, sim::ChunkSpan chunk,
                                 const std::vector<sim::KeptTensor>& kept) {
    return plan_moves(offload, graph, chunk, kept);
  };
}

// The plan's fields the pass reads.
constexpr auto kOffload = MEMSIM_PLAN_FIELD(training.chunk_passes.activation_offload);
constexpr auto kLayers = [](auto& p) -> auto& {
  return kOffload(p).layers;
};
constexpr auto kPrefetch = [](auto& p) -> auto& {
  return kOffload(p).prefetch;
};

}  // namespace

StrategyPass activation_offload_pass() {
  return {
      .name = "activation offload",
      .keys = {mapping_row("training.activation_offload",
                           "none | all | {layers, prefetch}: saved activations to host memory",
                           kOffload,
                           {{"none", [](Plan& p) { kOffload(p) = {}; }},
                            {"all",
                             [](Plan& p) {
                               kOffload(p) = {kEveryLayer, 1};
                             }}}),
               integer_row("training.activation_offload.layers",
                           "the first this many transformer layers of each chunk, or all", kLayers,
                           0, sim::kMostLayers, {{"all", kEveryLayer}}),
               integer_row("training.activation_offload.prefetch",
                           "layers ahead of the backward that a layer's activations come back (1)",
                           kPrefetch, 0, sim::kMostLayers)},
      .shape_chunks = offload_kept_activations,
  };
}

}  // namespace memsim::strategies
