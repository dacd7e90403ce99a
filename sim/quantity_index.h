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

/// The distinct (shape, dtype class, layer kind) of a graph's tensors: tensors of layers of
/// different kinds are sized with different dimensions. A caller that sizes some tensors
/// apart from others of their shape passes a group per TensorId: tensors of different groups
/// never share a class (none given: one group).
class TensorClasses {
 public:
  explicit TensorClasses(const LayerGraph& graph, std::span<const int> groups = {});
  int of(TensorId tensor) const { return class_of_[tensor]; }
  int count() const { return static_cast<int>(specs_.size()); }
  const TensorSpec& spec(int k) const { return specs_[k]; }
  int group(int k) const { return groups_[k]; }
  /// The kind of layer (LayerGraph::layer_kind) whose dimensions size class `k`.
  int kind(int k) const { return kinds_[k]; }

 private:
  std::vector<int> class_of_;
  std::vector<TensorSpec> specs_;
  std::vector<int> groups_;
  std::vector<int> kinds_;
};

using QuantityId = int32_t;

/// The quantities an index keeps for buffers strategies hold around a rank's ops
/// (HeldBuffer): families of one quantity per layer slot, and single quantities.
struct HeldQuantities {
  int per_slot = 0;
  int single = 0;
};

/// Where the quantities of a graph live: the tensor classes, then one tensor-parallel rank's
/// share of each (a kept tensor split over the ranks), then each twin op's buffer,
/// then the parameter gradients its backward makes, then those it frees as it ends (the
/// optimizer in backward), then those it adds to existing ones and those of them that wait
/// for the pass's end, then the parameters it gathers, then the held families, each with
/// one quantity per layer slot (LayerGraph::layer_slot: the embedding, each kind of transformer
/// layer, the head), then the single held quantities.
class QuantityIndex {
 public:
  /// `groups`: as TensorClasses takes them; `held`: what the strategies hold.
  explicit QuantityIndex(const LayerGraph& graph, std::span<const int> groups = {},
                         HeldQuantities held = {});

  const TensorClasses& classes() const { return classes_; }
  int count() const { return total_; }
  int twin_count() const { return twins_; }
  /// Quantities below this depend only on the plan's context (tensor classes, their
  /// shares and op buffers); the rest on the stage's model states.
  int context_count() const { return twins_base() + twins_; }

  QuantityId tensor(TensorId t) const { return classes_.of(t); }
  /// One tensor-parallel rank's share of class `k` (HostMove::share).
  QuantityId share(int k) const { return classes_.count() + k; }
  QuantityId tensor_share(TensorId t) const { return share(classes_.of(t)); }
  /// By twin slot (LayerGraph::twin_slot).
  QuantityId buffer(int slot) const { return twins_base() + slot; }
  QuantityId parameter_gradients(int slot) const { return twins_base() + twins_ + slot; }
  /// The gradients an op's backward frees as it ends, its parameters stepped there
  /// (GradientLifetime::kOpBackward).
  QuantityId freed_gradients(int slot) const { return twins_base() + 2 * twins_ + slot; }
  /// The gradients an op's backward makes anew and adds to those it finds (PyTorch's
  /// AccumulateGrad), held while it runs.
  QuantityId added_gradients(int slot) const { return twins_base() + 3 * twins_ + slot; }
  /// Of those, a shared weight's, which autograd's input buffer holds until the pass ends.
  QuantityId waiting_gradients(int slot) const { return twins_base() + 4 * twins_ + slot; }
  /// The parameters an op gathers when they are gathered module by module (ZeRO-3,
  /// sim/module_gathering.h).
  QuantityId gathered_parameters(int slot) const { return twins_base() + 5 * twins_ + slot; }
  /// Held family `family`'s quantity for layer slot `slot` (LayerGraph::layer_slot), or
  /// for layer `layer` (kEmbeddingLayer, a transformer layer, or `layers` for the head).
  QuantityId held_of_slot(int family, int slot) const {
    return twins_base() + 6 * twins_ + family * slots_ + slot;
  }
  QuantityId held_of_layer(int family, int32_t layer) const {
    return held_of_slot(family, slot_of_layer_[layer + 1]);
  }
  QuantityId held_single(int n) const { return held_of_slot(held_.per_slot, 0) + n; }

 private:
  int twins_base() const { return 2 * classes_.count(); }

  TensorClasses classes_;
  int twins_;
  int slots_;
  HeldQuantities held_;
  std::vector<int> slot_of_layer_;  ///< from the embedding (-1) to the head (L)
  int total_;
};

}  // namespace memsim::sim
