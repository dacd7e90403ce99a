#include "strategies/activation_offload.h"

namespace memsim::strategies {

namespace {

/// Each kept tensor of the chunk's first `offload.layers` transformer layers leaves once its
/// layer's forward (and every forward read of it) is done, and comes back when the backward
/// reaches the layer `offload.prefetch` after its own.
std::vector<sim::HostMove> plan_moves(const ActivationOffload& offload,
                                      const sim::LayerGraph& graph, sim::ChunkSpan chunk,
                                      const std::vector<sim::KeptTensor>& kept) {
  const auto order = graph.forward_order();
  const int64_t model_layers = graph.model().layers;
  auto layer_at = [&](int pos) { return graph.op(order[pos]).layer; };
  auto is_transformer = [&](int32_t layer) { return layer >= 0 && layer < model_layers; };
  int32_t first_layer = -1;
  for (int pos = chunk.first; pos <= chunk.last && first_layer < 0; ++pos) {
    if (is_transformer(layer_at(pos))) first_layer = layer_at(pos);
  }
  auto last_of_layer = [&](int pos) {
    while (pos < chunk.last && layer_at(pos + 1) == layer_at(pos))
      ++pos;
    return pos;
  };
  std::vector<sim::HostMove> moves;
  for (const sim::KeptTensor& k : kept) {
    const int32_t owner = layer_at(k.first_need);
    if (first_layer < 0 || !is_transformer(owner) || owner - first_layer >= offload.layers) {
      continue;
    }
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

}  // namespace

sim::HostMovePlanner host_move_planner(const ActivationOffload& offload) {
  if (offload.layers == 0) return {};
  return [offload](const sim::LayerGraph& graph, sim::ChunkSpan chunk,
                   const std::vector<sim::KeptTensor>& kept) {
    return plan_moves(offload, graph, chunk, kept);
  };
}

}  // namespace memsim::strategies
