#pragma once
/// The model as a graph of ops (nodes) and the tensors between them (edges), built with
/// Boost.Graph behind this interface. Forward is a topological walk of the ops, backward
/// the reverse walk. Op-specific facts come from the op table; the graph records which
/// concrete tensors each op consumes, produces, saves and uses as working memory.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/model_spec.h"
#include "sim/op_table.h"
#include "sim/units.h"

namespace memsim::sim {

using OpId = int32_t;
using TensorId = int32_t;

/// Layer index of ops before the first transformer layer (embedding, positions).
inline constexpr int32_t kEmbeddingLayer = -1;

/// Sizes of the symbolic dimensions for one configuration.
struct DimSizes {
  std::array<int64_t, kDimCount> size{};
  int64_t operator[](Dim dim) const { return size[static_cast<size_t>(dim)]; }
  int64_t& operator[](Dim dim) { return size[static_cast<size_t>(dim)]; }
};

/// The model's dimensions with `seq` tokens per sequence and `batch` sequences.
DimSizes model_dims(const ModelSpec& spec, int64_t seq, int64_t batch);

/// `dims` with the dimensions of transformer layer `layer` where ModelSpec::layer_kinds sets
/// its own; the embedding's and the head's are the model's.
DimSizes with_layer_dims(const ModelSpec& spec, DimSizes dims, int32_t layer);

/// Elements of `shape` with every dimension whole (no parallel sharding).
Elements element_count(const Shape& shape, const DimSizes& dims);

enum class TensorRole : uint8_t {
  kOutput,             ///< consumed by later ops (or the loss)
  kOwn,                ///< made by an op only for its backward (masks, statistics)
  kForwardWorkspace,   ///< live while the op's forward runs
  kBackwardWorkspace,  ///< live while the op's backward runs
};

struct TensorNode {
  std::string name;  ///< e.g. "layers.3.attention_eager.softmax_output"
  TensorSpec spec;
  OpId producer;
  TensorRole role;
  bool requires_grad;  ///< a gradient flows back through it
};

struct OpNode {
  OpKind kind;
  int32_t layer;     ///< kEmbeddingLayer, 0..layers-1, or `layers` for the head and loss
  std::string name;  ///< e.g. "layers.3.q_proj"
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  std::vector<TensorId> saved;  ///< what the op table says it keeps for backward
  std::vector<TensorId> forward_workspace;
  std::vector<TensorId> backward_workspace;
  std::vector<ParamSpec> params;  ///< the op's own parameters (conditions applied)
  /// Tensors kept alive until its forward ends though it does not read them: what the
  /// framework's code holds (a list of chunks the loss takes one by one).
  std::vector<TensorId> held;
};

/// The parts of the model torch.compile compiles (bits of GraphOptions::compiled).
enum CompiledParts : uint8_t { kCompileLayers = 1, kCompileLoss = 2 };

/// How the framework computes what the model defines, where that changes the graph.
struct GraphOptions {
  /// The LM head and loss run on this many chunks of each sequence, one after another
  /// (torchtune's chunked output and CEWithChunkedOutputLoss); 1: the whole sequence.
  int64_t loss_chunks = 1;
  /// What torch.compile compiles: each transformer layer, the loss, both or neither
  /// (strategies/torch_compile.cpp).
  uint8_t compiled = 0;
  /// The forward runs under torch.autocast over fp32 parameters (strategies/precision.cpp).
  bool autocast = false;
  /// The residual stream is fp32 (the fp32 recipe, or autocast over fp32 parameters).
  bool fp32_stream = false;
  /// The loss upcasts the logits to fp32 first (strategies/loss_upcast.cpp).
  bool loss_upcast = true;
  bool operator==(const GraphOptions&) const = default;
};

class LayerGraph {
 public:
  explicit LayerGraph(const ModelSpec& spec, const GraphOptions& options = {});
  ~LayerGraph();
  LayerGraph(LayerGraph&&) noexcept;
  LayerGraph& operator=(LayerGraph&&) noexcept;

  const ModelSpec& model() const;
  /// The sizes of every dimension for `seq` tokens per sequence and `batch` sequences.
  DimSizes dims(int64_t seq, int64_t batch) const;
  /// Ops in forward order: a topological order of the graph, ties broken by program order.
  std::span<const OpId> forward_order() const;
  /// Where `op` stands in forward_order().
  int position(OpId op) const;
  const OpNode& op(OpId op) const;
  int op_count() const;
  const TensorNode& tensor(TensorId tensor) const;
  int tensor_count() const;
  /// Ops that read `tensor` in forward, in forward order.
  std::span<const OpId> consumers(TensorId tensor) const;
  /// The model's exact parameter count (a tied LM head shares the embedding).
  int64_t parameter_count() const;
  /// The first and last transformer layer among the ops at forward positions [first, last]
  /// (the embedding and head left out); last < first when there is none.
  struct LayerRange {
    int32_t first = 0;
    int32_t last = -1;
    bool has(int32_t layer) const { return first <= layer && layer <= last; }
  };
  LayerRange transformer_layers(int first, int last) const;
  /// Kinds of transformer layer: layers of equal dimensions are one kind. Kind 0 has the
  /// model's own dimensions (ModelSpec::layer_kinds sets others), which the embedding's and
  /// the head's ops also use; it may have no layers.
  int kind_count() const;
  /// The kind of transformer layer `layer`; 0 for the embedding and the head.
  int layer_kind(int32_t layer) const;
  int op_kind(OpId id) const { return layer_kind(op(id).layer); }
  /// How many transformer layers are of `kind`, and among layers [first, last].
  int64_t kind_layers(int kind) const;
  int64_t kind_layers(int kind, int64_t first, int64_t last) const;
  /// `dims` with the dimensions of layers of `kind`.
  DimSizes kind_dims(DimSizes dims, int kind) const;
  /// Per-layer quantities come in slots: 0 the embedding, 1 + kind a transformer layer of
  /// that kind, kind_count() + 1 the head.
  int layer_slots() const { return kind_count() + 2; }
  int layer_slot(int32_t layer) const;
  /// The same op in the first layer of its kind for an op of a transformer layer (layers of
  /// a kind are built alike), the op itself otherwise.
  OpId layer_twin(OpId op) const;
  /// Ops of the embedding (layer -1), of the first transformer layer of `kind`, and of the
  /// head (layer L).
  std::span<const OpId> embedding_ops() const;
  std::span<const OpId> kind_ops(int kind) const;
  std::span<const OpId> head_ops() const;
  /// The twins (the embedding's, each kind's first layer's and the head's ops, in that
  /// order), and where an op's twin stands among them.
  std::span<const OpId> twins() const;
  int twin_slot(OpId op) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memsim::sim
