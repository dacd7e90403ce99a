#include "sim/layer_graph.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <string>
#include <utility>

#include <boost/graph/adjacency_list.hpp>
#include <fmt/format.h>

#include "sim/check.h"

namespace memsim::sim {

namespace {

struct EdgeProperties {
  TensorId tensor;
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS,
                                    boost::no_property, EdgeProperties>;

}  // namespace

struct LayerGraph::Impl {
  ModelSpec model;
  GraphOptions options;
  Graph graph;
  std::vector<OpNode> ops;
  std::vector<TensorNode> tensors;
  std::vector<std::vector<OpId>> consumers;
  std::vector<OpId> forward_order;
  std::vector<int> position;
  std::vector<OpId> embedding_ops, head_ops, twins;
  std::vector<std::vector<OpId>> kind_ops;  ///< per kind: its first layer's ops
  std::vector<int> twin_slot;               ///< per OpId: the slot of its twin
  std::vector<int32_t> kind_of_layer;       ///< per transformer layer
  std::vector<int64_t> kind_ffn;            ///< per kind: its MLP width
  std::vector<int32_t> first_of_kind;       ///< per kind: its first layer (-1: none)
  std::vector<int64_t> layers_of_kind;
  std::vector<OpId> layer_first_op;  ///< per transformer layer: its first op's id

  Impl(ModelSpec spec, const GraphOptions& graph_options)
      : model(std::move(spec)), options(graph_options) {
    assign_kinds();
  }

  /// Kind 0 has the model's own width; each other width met, in layer order, is a kind.
  void assign_kinds() {
    kind_ffn = {model.ffn};
    for (int64_t layer = 0; layer < model.layers; ++layer) {
      const int64_t ffn = model.ffn_of_layer(layer);
      const auto found = std::find(kind_ffn.begin(), kind_ffn.end(), ffn);
      kind_of_layer.push_back(static_cast<int32_t>(found - kind_ffn.begin()));
      if (found == kind_ffn.end()) kind_ffn.push_back(ffn);
    }
    first_of_kind.assign(kind_ffn.size(), -1);
    layers_of_kind.assign(kind_ffn.size(), 0);
    for (int32_t layer = 0; layer < model.layers; ++layer) {
      const int32_t kind = kind_of_layer[layer];
      if (first_of_kind[kind] < 0) first_of_kind[kind] = layer;
      ++layers_of_kind[kind];
    }
  }

  TensorId add_tensor(std::string name, const TensorSpec& spec, OpId producer, TensorRole role,
                      bool requires_grad) {
    tensors.push_back({std::move(name), spec, producer, role, requires_grad});
    consumers.emplace_back();
    return static_cast<TensorId>(tensors.size() - 1);
  }

  /// Adds one op of `kind` reading `inputs`; returns its outputs.
  std::vector<TensorId> add_op(OpKind kind, int32_t layer, const std::string& prefix,
                               std::vector<TensorId> inputs) {
    const OpKindInfo& info = op_info(kind);
    MEMSIM_CHECK(static_cast<int>(inputs.size()) == info.inputs);
    const OpContext context{
        .compiled_layer = compiled_layers() && layer >= 0 && layer < model.layers,
        .autocast = options.autocast,
        .fp32_stream = options.fp32_stream};
    const auto applies_here = [&](Condition when) { return applies(when, model, context); };
    const auto id = static_cast<OpId>(ops.size());
    MEMSIM_CHECK(static_cast<OpId>(boost::add_vertex(graph)) == id);
    OpNode node{kind, layer, prefix + info.name, std::move(inputs), {}, {}, {}, {}, {}, {}};
    for (TensorId input : node.inputs) {
      boost::add_edge(tensors[input].producer, id, EdgeProperties{input}, graph);
      consumers[input].push_back(id);
    }
    const bool differentiable = kind != OpKind::kInput;
    for (const TensorSpec& out : info.outputs) {
      const bool grad =
          differentiable && out.dtype != DtypeClass::kMask && out.dtype != DtypeClass::kIndex;
      node.outputs.push_back(
          add_tensor(node.name + "." + out.name, out, id, TensorRole::kOutput, grad));
    }
    for (const SavedSpec& saved : info.saved) {
      if (!applies_here(saved.when)) continue;
      switch (saved.source) {
        case SavedSpec::Source::kInput:
          node.saved.push_back(node.inputs.at(saved.index));
          break;
        case SavedSpec::Source::kOutput:
          node.saved.push_back(node.outputs.at(saved.index));
          break;
        case SavedSpec::Source::kOwn:
          node.saved.push_back(
              add_tensor(node.name + "." + saved.own.name, saved.own, id, TensorRole::kOwn, false));
          break;
      }
    }
    for (const TensorSpec& ws : info.forward_workspace) {
      if (!applies_here(ws.when)) continue;
      node.forward_workspace.push_back(
          add_tensor(node.name + "." + ws.name, ws, id, TensorRole::kForwardWorkspace, false));
    }
    for (const TensorSpec& ws : info.backward_workspace) {
      if (!applies_here(ws.when)) continue;
      node.backward_workspace.push_back(
          add_tensor(node.name + "." + ws.name, ws, id, TensorRole::kBackwardWorkspace, false));
    }
    for (const ParamSpec& param : info.params) {
      if (applies_here(param.when)) node.params.push_back(param);
    }
    std::vector<TensorId> outputs = node.outputs;
    ops.push_back(std::move(node));
    return outputs;
  }

  bool compiled_layers() const { return (options.compiled & kCompileLayers) != 0; }

  TensorId add_op1(OpKind kind, int32_t layer, const std::string& prefix,
                   std::vector<TensorId> inputs) {
    return add_op(kind, layer, prefix, std::move(inputs)).at(0);
  }

  /// Dropout's output is in its input's dtype: the residual stream's after the embedding,
  /// the matmuls' after a projection.
  TensorId maybe_dropout(TensorId x, int32_t layer, const std::string& prefix) {
    if (model.dropout <= 0.0) return x;
    const TensorId out = add_op1(OpKind::kDropout, layer, prefix, {x});
    tensors[out].spec.dtype = tensors[x].spec.dtype;
    return out;
  }

  void build() {
    const auto io = add_op(OpKind::kInput, kEmbeddingLayer, "", {});
    const TensorId ids = io.at(0);
    const TensorId labels = io.at(1);
    TensorId x = add_op1(OpKind::kEmbedding, kEmbeddingLayer, "", {ids});
    if (model.positions == PositionType::kLearned) {
      x = add_op1(OpKind::kPositionEmbedding, kEmbeddingLayer, "", {x});
    }
    x = maybe_dropout(x, kEmbeddingLayer, "embedding.");
    const OpKind attention = model.attention == AttentionImpl::kEager  ? OpKind::kAttentionEager
                             : model.attention == AttentionImpl::kSdpa ? OpKind::kAttentionSdpa
                                                                       : OpKind::kAttentionFlash;
    // In a compiled layer Inductor fuses a norm's PyTorch ops and the SwiGLU product into one
    // kernel each way, and its partitioner keeps what the fused kernels keep: a norm's input,
    // its statistics (reductions are not recomputed) and its output (a matmul reads it in
    // backward, so it is materialised there anyway); SwiGLU's gate, up and product, not
    // silu(gate) (strategies/compile.cpp).
    const OpKind eager_norm = model.norm_kernel == NormKernel::kEagerFp32Weight
                                  ? OpKind::kNormEagerFp32Weight
                                  : OpKind::kNormEager;
    const bool fused_norm = model.norm_kernel == NormKernel::kFused || compiled_layers();
    const OpKind norm = fused_norm ? OpKind::kNorm : eager_norm;
    const bool fused_swiglu = model.swiglu_kernel == SwiGluKernel::kFused || compiled_layers();
    for (int32_t layer = 0; layer < model.layers; ++layer) {
      layer_first_op.push_back(static_cast<OpId>(ops.size()));
      const std::string p = fmt::format("layers.{}.", layer);
      const TensorId h1 = add_op1(norm, layer, p + "attention_", {x});
      const TensorId q = add_op1(OpKind::kQProj, layer, p, {h1});
      const TensorId k = add_op1(OpKind::kKProj, layer, p, {h1});
      const TensorId v = add_op1(OpKind::kVProj, layer, p, {h1});
      const TensorId context = add_op1(attention, layer, p, {q, k, v});
      TensorId out = add_op1(OpKind::kOutProj, layer, p, {context});
      out = maybe_dropout(out, layer, p + "attention_");
      x = add_op1(OpKind::kResidualAdd, layer, p + "attention_", {x, out});
      const TensorId h2 = add_op1(norm, layer, p + "mlp_", {x});
      TensorId inner = 0;
      if (model.ffn_type == FfnType::kGelu) {
        inner = add_op1(OpKind::kGelu, layer, p, {add_op1(OpKind::kMlpUp, layer, p, {h2})});
      } else {
        const TensorId gate = add_op1(OpKind::kMlpGate, layer, p, {h2});
        const TensorId up = add_op1(OpKind::kMlpUp, layer, p, {h2});
        inner = fused_swiglu ? add_op1(OpKind::kSwiGluFused, layer, p, {gate, up})
                             : add_op1(OpKind::kGluMul, layer, p,
                                       {add_op1(OpKind::kSilu, layer, p, {gate}), up});
      }
      out = add_op1(OpKind::kMlpDown, layer, p, {inner});
      out = maybe_dropout(out, layer, p + "mlp_");
      x = add_op1(OpKind::kResidualAdd, layer, p + "mlp_", {x, out});
    }
    const auto head_layer = static_cast<int32_t>(model.layers);
    // The final norm is not in a compiled layer: frameworks compile each transformer block.
    const OpKind final_norm = model.norm_kernel == NormKernel::kFused ? OpKind::kFinalNorm
                              : model.norm_kernel == NormKernel::kEager
                                  ? OpKind::kFinalNormEager
                                  : OpKind::kFinalNormEagerFp32Weight;
    add_loss(add_op1(final_norm, head_layer, "", {x}), labels, head_layer);
  }

  /// The LM head and the loss, on the whole sequence or on chunks of it. The 16-bit logits
  /// stay until the loss returns: the model's forward holds them while the loss upcasts its
  /// fp32 copy, as in torchtune v0.6.1 (measured in PyTorch: 10 bytes per logit at the
  /// loss's forward peak, tests/fixtures/pytorch_chunked_loss.json) and Hugging Face
  /// transformers from 4.46 (*ForCausalLM.forward keeps `logits`; loss/loss_utils.py
  /// ForCausalLMLoss upcasts). transformers up to 4.45 rebound `logits = logits.float()` in
  /// the forward, freeing them once copied: a framework difference not yet modelled. Chunked, as
  /// torchtune v0.6.1 runs it: TransformerDecoder.chunked_output projects every chunk
  /// first and returns the list; CEWithChunkedOutputLoss upcasts and scores the chunks one
  /// by one (the recipe then `del logits`). A compiled loss, or one on the 16-bit logits,
  /// is one op per chunk, without the upcast. The output weight is one parameter: the last
  /// chunk's projection, whose backward runs first, carries it.
  void add_loss(TensorId hidden, TensorId labels, int32_t layer) {
    const int64_t chunks = options.loss_chunks;
    auto prefix = [&](int64_t c) { return chunks == 1 ? "" : "chunk" + std::to_string(c) + "."; };
    std::vector<TensorId> logits;
    for (int64_t c = 0; c < chunks; ++c) {
      const OpKind projection = chunks == 1 ? OpKind::kLmHead : OpKind::kLmHeadChunk;
      logits.push_back(add_op1(projection, layer, prefix(c), {hidden}));
      if (c + 1 < chunks) share_the_weight(ops.back());
    }
    for (int64_t c = 0; c < chunks; ++c) {
      if ((options.compiled & kCompileLoss) != 0 || !options.loss_upcast) {
        const bool compiled = (options.compiled & kCompileLoss) != 0;
        add_op(compiled ? OpKind::kCrossEntropyCompiled : OpKind::kCrossEntropy16Bit, layer,
               prefix(c), {logits[c], labels});
        continue;
      }
      const TensorId logits_fp32 = add_op1(OpKind::kUpcastLogits, layer, prefix(c), {logits[c]});
      add_op(OpKind::kCrossEntropy, layer, prefix(c), {logits_fp32, labels});
    }
    ops.back().held = logits;
  }

  /// A chunk's projection other than the last: the last carries the output weight. Its
  /// backward still makes a whole weight gradient, which autograd's engine then adds to the
  /// one the chunks share (torch/csrc/autograd/input_buffer.cpp, InputBuffer::accumulate: in
  /// place when it holds the last reference, from PyTorch 2.0, pytorch/pytorch#88339; torch
  /// 1.13 made a third, tools/calibration/measure_chunked_loss.py).
  void share_the_weight(OpNode& chunk) {
    chunk.params.clear();
    // Nor does it cast the weight again under autocast: the cast is cached.
    std::erase_if(chunk.saved, [&](TensorId t) { return tensors[t].spec.weight_copy; });
    const TensorSpec gradient{
        "weight_gradient", {Dim::kVocab, Dim::kHidden}, DtypeClass::kActivation};
    const auto id = static_cast<OpId>(ops.size() - 1);
    chunk.backward_workspace.push_back(add_tensor(chunk.name + ".weight_gradient", gradient, id,
                                                  TensorRole::kBackwardWorkspace, false));
  }

  /// Kahn's algorithm over the Boost graph with the smallest op id first, so the order
  /// is topological and otherwise follows program order (as PyTorch would run it).
  void sort_topologically() {
    const auto n = boost::num_vertices(graph);
    std::vector<size_t> pending(n);
    std::priority_queue<OpId, std::vector<OpId>, std::greater<>> ready;
    for (size_t v = 0; v < n; ++v) {
      pending[v] = boost::in_degree(v, graph);
      if (pending[v] == 0) ready.push(static_cast<OpId>(v));
    }
    while (!ready.empty()) {
      const OpId v = ready.top();
      ready.pop();
      forward_order.push_back(v);
      for (auto [it, end] = boost::out_edges(v, graph); it != end; ++it) {
        const auto target = boost::target(*it, graph);
        if (--pending[target] == 0) ready.push(static_cast<OpId>(target));
      }
    }
    MEMSIM_CHECK(forward_order.size() == n);  // the graph is acyclic
    position.resize(n);
    for (size_t i = 0; i < n; ++i)
      position[forward_order[i]] = static_cast<int>(i);
    kind_ops.resize(kind_ffn.size());
    for (OpId op : forward_order) {
      const int32_t layer = ops[op].layer;
      if (layer < 0) embedding_ops.push_back(op);
      if (layer >= model.layers) head_ops.push_back(op);
      if (layer >= 0 && layer < model.layers && first_of_kind[kind_of_layer[layer]] == layer)
        kind_ops[kind_of_layer[layer]].push_back(op);
    }
    twins = embedding_ops;
    for (const std::vector<OpId>& layer_ops : kind_ops)
      twins.insert(twins.end(), layer_ops.begin(), layer_ops.end());
    twins.insert(twins.end(), head_ops.begin(), head_ops.end());
    std::vector<int> slot_of_twin(n, -1);
    for (size_t i = 0; i < twins.size(); ++i)
      slot_of_twin[twins[i]] = static_cast<int>(i);
    twin_slot.resize(n);
    for (size_t op = 0; op < n; ++op)
      twin_slot[op] = slot_of_twin[twin_of(static_cast<OpId>(op))];
  }

  OpId twin_of(OpId op) const {
    const int32_t layer = ops[op].layer;
    if (layer < 0 || layer >= model.layers) return op;
    const int32_t first = first_of_kind[kind_of_layer[layer]];
    return op - layer_first_op[layer] + layer_first_op[first];
  }
};

DimSizes model_dims(const ModelSpec& spec, int64_t seq, int64_t batch) {
  DimSizes dims;
  dims[Dim::kSeq] = seq;
  dims[Dim::kBatch] = batch;
  dims[Dim::kHidden] = spec.hidden;
  dims[Dim::kHeads] = spec.heads;
  dims[Dim::kKvHeads] = spec.kv_heads;
  dims[Dim::kHeadDim] = spec.effective_head_dim();
  dims[Dim::kFfn] = spec.ffn;
  dims[Dim::kVocab] = spec.vocab;
  dims[Dim::kPositions] = spec.max_positions;
  dims[Dim::kKeySeq] = seq;
  dims[Dim::kHeadSeq] = seq;
  return dims;
}

DimSizes with_layer_dims(const ModelSpec& spec, DimSizes dims, int32_t layer) {
  dims[Dim::kFfn] = spec.ffn_of_layer(layer);
  return dims;
}

Elements element_count(const Shape& shape, const DimSizes& dims) {
  int64_t count = 1;
  for (Dim dim : shape)
    count = checked_mul(count, dims[dim]);
  return {count};
}

LayerGraph::LayerGraph(const ModelSpec& spec, const GraphOptions& options)
    : impl_(std::make_unique<Impl>(spec, options)) {
  MEMSIM_CHECK(options.loss_chunks >= 1);
  impl_->build();
  impl_->sort_topologically();
}
LayerGraph::~LayerGraph() = default;
LayerGraph::LayerGraph(LayerGraph&&) noexcept = default;
LayerGraph& LayerGraph::operator=(LayerGraph&&) noexcept = default;

const ModelSpec& LayerGraph::model() const {
  return impl_->model;
}

DimSizes LayerGraph::dims(int64_t seq, int64_t batch) const {
  DimSizes dims = model_dims(impl_->model, seq, batch);
  dims[Dim::kHeadSeq] = seq / impl_->options.loss_chunks;
  return dims;
}
std::span<const OpId> LayerGraph::forward_order() const {
  return impl_->forward_order;
}
int LayerGraph::position(OpId op) const {
  return impl_->position.at(op);
}
const OpNode& LayerGraph::op(OpId op) const {
  return impl_->ops.at(op);
}
int LayerGraph::op_count() const {
  return static_cast<int>(impl_->ops.size());
}
const TensorNode& LayerGraph::tensor(TensorId tensor) const {
  return impl_->tensors.at(tensor);
}
int LayerGraph::tensor_count() const {
  return static_cast<int>(impl_->tensors.size());
}
std::span<const OpId> LayerGraph::consumers(TensorId tensor) const {
  return impl_->consumers.at(tensor);
}

int LayerGraph::kind_count() const {
  return static_cast<int>(impl_->kind_ffn.size());
}
int LayerGraph::layer_kind(int32_t layer) const {
  if (layer < 0 || layer >= impl_->model.layers) return 0;
  return impl_->kind_of_layer[layer];
}
int64_t LayerGraph::kind_layers(int kind) const {
  return impl_->layers_of_kind.at(kind);
}
int64_t LayerGraph::kind_layers(int kind, int64_t first, int64_t last) const {
  int64_t count = 0;
  for (int64_t layer = std::max<int64_t>(first, 0); layer <= last && layer < impl_->model.layers;
       ++layer)
    count += impl_->kind_of_layer[layer] == kind ? 1 : 0;
  return count;
}
DimSizes LayerGraph::kind_dims(DimSizes dims, int kind) const {
  return with_layer_dims(impl_->model, dims, impl_->first_of_kind.at(kind));
}
int LayerGraph::layer_slot(int32_t layer) const {
  if (layer < 0) return 0;
  return layer >= impl_->model.layers ? kind_count() + 1 : 1 + impl_->kind_of_layer[layer];
}

OpId LayerGraph::layer_twin(OpId op) const {
  MEMSIM_CHECK(op >= 0 && op < op_count());
  return impl_->twin_of(op);
}

std::span<const OpId> LayerGraph::embedding_ops() const {
  return impl_->embedding_ops;
}
std::span<const OpId> LayerGraph::kind_ops(int kind) const {
  return impl_->kind_ops.at(kind);
}
std::span<const OpId> LayerGraph::head_ops() const {
  return impl_->head_ops;
}
LayerGraph::LayerRange LayerGraph::transformer_layers(int first, int last) const {
  const auto layers = static_cast<int32_t>(impl_->model.layers);
  LayerRange range{layers, -1};
  for (int pos = first; pos <= last; ++pos) {
    const int32_t layer = op(forward_order()[pos]).layer;
    if (layer < 0 || layer >= layers) continue;  // the embedding or the head
    range.first = std::min(range.first, layer);
    range.last = std::max(range.last, layer);
  }
  return range;
}

std::span<const OpId> LayerGraph::twins() const {
  return impl_->twins;
}
int LayerGraph::twin_slot(OpId op) const {
  return impl_->twin_slot[op];
}

int64_t LayerGraph::parameter_count() const {
  const DimSizes model = model_dims(impl_->model, 1, 1);
  int64_t total = 0;
  for (const OpNode& node : impl_->ops) {
    const DimSizes dims = kind_dims(model, layer_kind(node.layer));
    for (const ParamSpec& param : node.params) {
      if (!param.tied) total = checked_add(total, element_count(param.shape, dims).count);
    }
  }
  return total;
}

}  // namespace memsim::sim
