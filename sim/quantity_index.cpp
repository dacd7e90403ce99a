#include "sim/quantity_index.h"

#include <algorithm>

#include "sim/check.h"

namespace memsim::sim {

namespace {

bool same_spec(const TensorSpec& a, const TensorSpec& b) {
  return a.dtype == b.dtype && a.shape.rank() == b.shape.rank() &&
         std::equal(a.shape.begin(), a.shape.end(), b.shape.begin());
}

}  // namespace

TensorClasses::TensorClasses(const LayerGraph& graph, std::span<const int> groups) {
  MEMSIM_CHECK(groups.empty() || static_cast<int>(groups.size()) == graph.tensor_count());
  class_of_.reserve(graph.tensor_count());
  for (TensorId t = 0; t < graph.tensor_count(); ++t) {
    const TensorSpec& spec = graph.tensor(t).spec;
    const int group = groups.empty() ? 0 : groups[t];
    const int kind = graph.op_kind(graph.tensor(t).producer);
    int k = 0;
    while (k < count() && !(same_spec(specs_[k], spec) && groups_[k] == group && kinds_[k] == kind))
      ++k;
    if (k == count()) {
      specs_.push_back(spec);
      groups_.push_back(group);
      kinds_.push_back(kind);
    }
    class_of_.push_back(k);
  }
}

QuantityIndex::QuantityIndex(const LayerGraph& graph, std::span<const int> groups,
                             HeldQuantities held)
    : classes_(graph, groups),
      twins_(static_cast<int>(graph.twins().size())),
      slots_(graph.layer_slots()),
      held_(held) {
  const auto layers = static_cast<int32_t>(graph.model().layers);
  for (int32_t layer = kEmbeddingLayer; layer <= layers; ++layer)
    slot_of_layer_.push_back(graph.layer_slot(layer));
  total_ = held_single(held.single);
}

}  // namespace memsim::sim
