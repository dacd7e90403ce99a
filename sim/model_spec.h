#pragma once
/// The architecture of a decoder-only transformer, as dimensions and choices; the layer
/// graph is built from it. No YAML here: scenarios/ fills it from presets, explicit keys
/// or a Hugging Face config.json.

#include <cstdint>
#include <string>
#include <vector>

namespace memsim::sim {

enum class FfnType { kGelu, kSwiGlu };
enum class NormType { kLayerNorm, kRmsNorm };
enum class PositionType { kRope, kLearned, kNone };
/// The attention core: eager (PyTorch ops, scores kept), flash (one kernel, GQA native), or
/// PyTorch's scaled_dot_product_attention fed KV heads repeated to the query heads.
enum class AttentionImpl { kEager, kFlash, kSdpa };
/// How an RMSNorm runs: one kernel that saves its input and fp32 1/rms per token (apex's
/// FusedRMSNorm, Transformer Engine, Megatron-Core), or PyTorch ops on an fp32 copy as
/// Hugging Face's LlamaRMSNorm writes it (cast back, then the weight), or as LitGPT's RMSNorm
/// does (the weight applied in fp32, then cast back). LayerNorm is one kernel either way.
enum class NormKernel { kFused, kEager, kEagerFp32Weight };
/// How SwiGLU's silu(gate) · up runs: PyTorch ops (SiLU keeps the gate, the product both
/// factors), or one fused function that keeps its input, gate and up (Megatron-Core).
enum class SwiGluKernel { kEager, kFused };
/// How eager attention's softmax runs: one kernel over the 16-bit scores that keeps its
/// 16-bit output (Megatron's scaled_upper_triang_masked_softmax), or PyTorch's
/// softmax(dtype=float32) cast back to 16 bits, which keeps its fp32 output besides the
/// 16-bit copy (Hugging Face's eager_attention_forward; Megatron's unfused path with
/// softmax_in_fp32).
enum class SoftmaxKernel { kFused, kFp32 };

/// Transformer layers `first`..`last` (inclusive) built with their own MLP width: models
/// whose layers are not all alike (dense layers before expert layers, pruned or searched
/// architectures). Layers of equal dimensions are one kind of layer, whichever range they
/// come from.
struct LayerRange {
  int64_t first = 0;
  int64_t last = 0;
  int64_t ffn = 0;
  bool operator==(const LayerRange&) const = default;
};

struct ModelSpec {
  std::string name;
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;  ///< < heads: grouped-query attention
  int64_t head_dim = 0;  ///< 0: hidden / heads
  int64_t ffn = 0;
  int64_t vocab = 0;
  FfnType ffn_type = FfnType::kGelu;
  bool tied_embeddings = false;
  NormType norm = NormType::kLayerNorm;
  bool bias = false;      ///< biases on every linear layer
  bool qkv_bias = false;  ///< biases on q, k and v only (Qwen); implied by `bias`
  PositionType positions = PositionType::kRope;
  int64_t max_positions = 0;  ///< rows of the learned position table
  AttentionImpl attention = AttentionImpl::kEager;
  NormKernel norm_kernel = NormKernel::kFused;
  SwiGluKernel swiglu_kernel = SwiGluKernel::kEager;
  SoftmaxKernel softmax_kernel = SoftmaxKernel::kFused;
  double dropout = 0.0;
  /// Sliding-window attention over this many tokens (0: none). Not simulated: a scenario
  /// whose sequences are longer than the window is refused.
  int64_t attention_window = 0;
  /// Layers that differ from the dimensions above (none: every layer is alike).
  std::vector<LayerRange> layer_kinds{};

  int64_t effective_head_dim() const { return head_dim > 0 ? head_dim : hidden / heads; }
  bool operator==(const ModelSpec&) const = default;
  bool has_qkv_bias() const { return bias || qkv_bias; }
  bool grouped_kv() const { return kv_heads != heads; }
  /// The MLP width of transformer layer `layer`.
  int64_t ffn_of_layer(int64_t layer) const;
  /// The first MLP width of any layer that `d` does not divide; 0 if it divides them all.
  int64_t ffn_not_divided_by(int64_t d) const;
};

/// One thing wrong with a ModelSpec: the offending key (as spelled in a scenario's
/// `model:` mapping) and what is wrong with it.
struct SpecProblem {
  std::string key;
  std::string message;
};

/// Every inconsistency in `spec` at once (empty when valid).
std::vector<SpecProblem> find_problems(const ModelSpec& spec);

std::string to_string(FfnType type);
std::string to_string(NormType type);
std::string to_string(PositionType type);

}  // namespace memsim::sim
