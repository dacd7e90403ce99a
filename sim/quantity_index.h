#pragma once
/// Every size a stage program allocates, as one flat vector of quantities: each kind of
/// tensor (tensors of one shape and dtype class are the same size under every
/// configuration), each twin op's communication buffer and the parameter gradients its
/// backward makes, the gathered parameters and full gradients of each kind of layer, and
/// the gradient bucket. Recipes name quantities, never bytes, so one compiled recipe serves
/// the byte walk (sizes looked up as it goes) and the symbolic profile (sums of quantities)
/// alike, and pricing a configuration is filling in one vector.

#include <span>
#include <vector>

#include "sim/layer_graph.h"

namespace memsim::sim {

/// The distinct (shape, dtype class) pairs of a graph's tensors. A caller that sizes some
/// tensors apart from others of their shape passes a group per TensorId: tensors of
/// different groups never share a class (none given: one group).
class TensorClasses {
 public:
  explicit TensorClasses(const LayerGraph& graph, std::span<const int> groups = {});
  int of(TensorId tensor) const { return class_of_[tensor]; }
  int count() const { return static_cast<int>(specs_.size()); }
  const TensorSpec& spec(int k) const { return specs_[k]; }
  int group(int k) const { return groups_[k]; }

 private:
  std::vector<int> class_of_;
  std::vector<TensorSpec> specs_;
  std::vector<int> groups_;
};

using QuantityId = int32_t;

/// Where the quantities of a graph live: the tensor classes, then each twin op's buffer,
/// then its parameter gradients, then the gathered parameters and full gradients of the
/// embedding, a transformer layer and the head, then the gradient bucket.
class QuantityIndex {
 public:
  /// `groups`: as TensorClasses takes them.
  explicit QuantityIndex(const LayerGraph& graph, std::span<const int> groups = {});

  const TensorClasses& classes() const { return classes_; }
  int count() const { return total_; }
  /// Quantities below this depend only on the plan's context (tensor classes and op
  /// buffers); the rest on the stage's model states.
  int context_count() const { return classes_.count() + twins_; }

  QuantityId tensor(TensorId t) const { return classes_.of(t); }
  /// By twin slot (LayerGraph::twin_slot).
  QuantityId buffer(int slot) const { return classes_.count() + slot; }
  QuantityId parameter_gradients(int slot) const { return classes_.count() + twins_ + slot; }
  /// By layer kind: 0 embedding, 1 transformer layer, 2 head.
  QuantityId gathered_of_kind(int kind) const { return classes_.count() + 2 * twins_ + kind; }
  QuantityId layer_gradients_of_kind(int kind) const { return gathered_of_kind(3) + kind; }
  QuantityId bucket() const { return gathered_of_kind(6); }
  /// By layer index (kEmbeddingLayer, a transformer layer, or `layers` for the head).
  QuantityId gathered(int32_t layer) const { return gathered_of_kind(layer_kind(layer)); }
  QuantityId layer_gradients(int32_t layer) const {
    return layer_gradients_of_kind(layer_kind(layer));
  }

 private:
  int layer_kind(int32_t layer) const;

  TensorClasses classes_;
  int twins_;
  int64_t layers_;
  int total_;
};

}  // namespace memsim::sim
