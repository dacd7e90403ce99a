#include "sim/activation_offload.h"

#include <algorithm>

#include "sim/check.h"

namespace memsim::sim {

OffloadSchedule::OffloadSchedule(const LayerGraph& graph, ChunkSpan chunk,
                                 const ActivationOffload& offload, const std::vector<bool>& kept,
                                 const std::vector<int>& first_need,
                                 const std::vector<int>& last_use)
    : first_(chunk.first), after_(chunk.last - chunk.first + 1),
      reload_(chunk.last - chunk.first + 1) {
  if (offload.layers == 0) return;
  const auto order = graph.forward_order();
  const int64_t model_layers = graph.model().layers;
  auto layer_at = [&](int pos) { return graph.op(order[pos]).layer; };
  auto is_transformer = [&](int32_t layer) { return layer >= 0 && layer < model_layers; };
  int32_t first_layer = -1;
  for (int pos = chunk.first; pos <= chunk.last && first_layer < 0; ++pos) {
    if (is_transformer(layer_at(pos))) first_layer = layer_at(pos);
  }
  if (first_layer < 0) return;  // no transformer layer in the chunk
  // The last forward op of each layer in the chunk, and the first its backward runs.
  auto last_of_layer = [&](int pos) {
    while (pos < chunk.last && layer_at(pos + 1) == layer_at(pos))
      ++pos;
    return pos;
  };
  for (TensorId t = 0; t < static_cast<TensorId>(kept.size()); ++t) {
    if (!kept[t] || first_need[t] < chunk.first || first_need[t] > chunk.last) continue;
    const int32_t owner = layer_at(first_need[t]);
    if (!is_transformer(owner) || owner - first_layer >= offload.layers) continue;
    const int leaves = last_of_layer(std::max(first_need[t], last_use[t]));
    after_[leaves - first_].push_back(t);
    // Back when the backward reaches layer owner + prefetch (its last op in forward order),
    // or when the chunk's backward starts if that layer is not in the chunk.
    int back = chunk.last;
    for (int pos = chunk.last; pos >= chunk.first; --pos) {
      if (layer_at(pos) == owner + offload.prefetch) {
        back = pos;
        break;
      }
    }
    MEMSIM_CHECK(back >= first_need[t]);
    reload_[back - first_].push_back(t);
  }
}

}  // namespace memsim::sim
