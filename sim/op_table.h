#pragma once
/// The op table: for every kind of op in the layer graph, in one place, its parameters
/// (and how tensor parallelism shards them), its outputs, the tensors it saves for
/// backward, its transient working memory and its FLOPs rule. Strategies transform what
/// this table says (sharding, dtypes, recomputation); they never special-case a model.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "sim/model_spec.h"

namespace memsim::sim {

/// The symbolic dimensions tensor shapes are built from.
enum class Dim : uint8_t {
  kSeq,        ///< s: tokens per sequence
  kBatch,      ///< b: sequences per microbatch
  kHidden,     ///< h
  kHeads,      ///< a: query heads
  kKvHeads,    ///< key/value heads (GQA)
  kHeadDim,    ///< d
  kFfn,        ///< f: MLP inner size
  kVocab,      ///< V
  kPositions,  ///< rows of a learned position table
  kKeySeq,     ///< tokens attended to: s in training and prefill, the context in a decode step
  kHeadSeq,    ///< tokens per sequence the LM head and loss take at once: s, or a chunk of s
};
inline constexpr int kDimCount = 11;

/// True for the dimensions tensor parallelism splits (heads, KV heads, MLP inner, vocab).
constexpr bool is_tensor_parallel_dim(Dim dim) {
  return dim == Dim::kHeads || dim == Dim::kKvHeads || dim == Dim::kFfn || dim == Dim::kVocab;
}

/// A product of up to four symbolic dimensions; no dimensions is a scalar.
class Shape {
 public:
  constexpr Shape() = default;
  constexpr Shape(std::initializer_list<Dim> dims) {
    for (Dim dim : dims)
      dims_[rank_++] = dim;
  }
  constexpr int rank() const { return rank_; }
  constexpr Dim operator[](int i) const { return dims_[i]; }
  constexpr const Dim* begin() const { return dims_.data(); }
  constexpr const Dim* end() const { return dims_.data() + rank_; }

 private:
  std::array<Dim, 4> dims_{};
  int rank_ = 0;
};

/// What a tensor's elements are, before a precision recipe turns them into bytes.
enum class DtypeClass : uint8_t {
  kActivation,  ///< the activation dtype (bf16/fp16; fp32 under the fp32 recipe)
  /// The residual stream's: the embedding, the norms and the residual adds compute in it.
  /// The activation dtype, but fp32 under autocast over fp32 parameters.
  kStream,
  kMask,   ///< one byte: dropout masks
  kFp32,   ///< always fp32: normalisation and softmax statistics, upcast logits
  kIndex,  ///< int64 token ids and labels
};

/// When a table entry applies, decided by the model spec.
enum class Condition : uint8_t {
  kAlways,
  kLinearBias,           ///< model.bias
  kQkvBias,              ///< model.bias or model.qkv_bias
  kLayerNorm,            ///< norm = layernorm (it has a bias and saves its mean)
  kUntiedHead,           ///< the LM head has weights of its own
  kTiedHead,             ///< the LM head uses the embedding's weights
  kDropout,              ///< dropout > 0
  kGroupedKv,            ///< kv_heads < heads
  kUngroupedKv,          ///< kv_heads == heads
  kFp32Softmax,          ///< softmax_kernel = fp32, run eagerly
  kFp32SoftmaxCompiled,  ///< softmax_kernel = fp32 in a layer torch.compile compiled
  kAutocast,             ///< under torch.autocast: matmuls cast their inputs and weights
  kNoAutocast,
  kFp32Stream,          ///< the residual stream is fp32
  kLowPrecisionStream,  ///< the residual stream is 16-bit
};

struct TensorSpec {
  const char* name;
  Shape shape;
  DtypeClass dtype;
  Condition when = Condition::kAlways;  ///< for a workspace: whether the model has it
  /// A copy of the op's weight (autocast's 16-bit cast), which ops sharing the weight share.
  bool weight_copy = false;
};

/// How tensor parallelism shards a parameter (Megatron-LM's layouts): column-parallel
/// splits the output features, row-parallel the input features, vocab-parallel the
/// vocabulary rows; replicated parameters are whole on every rank.
enum class ShardKind : uint8_t { kReplicated, kColumn, kRow, kVocab };

/// Where an op runs, beyond what the model is: what the framework's graph options and the
/// precision make of it.
struct OpContext {
  bool compiled_layer = false;  ///< in a transformer layer torch.compile compiled
  bool autocast = false;        ///< under torch.autocast over fp32 parameters
  bool fp32_stream = false;     ///< the residual stream is fp32
};

/// Whether a table entry guarded by `when` exists for `model` where `context` says.
bool applies(Condition when, const ModelSpec& model, const OpContext& context);

struct ParamSpec {
  const char* name;
  Shape shape;
  ShardKind shard;
  Condition when = Condition::kAlways;
  /// A view of another op's parameter (the tied LM head uses the embedding): counted and
  /// updated by its owner, but gathered where it is used.
  bool tied = false;
  /// A linear layer's weight: its first `input_dims` dimensions are the input features,
  /// the rest the output features (quantisation groups run along the inputs). 0: not one.
  int input_dims = 0;
};

/// A tensor an op keeps for its backward pass: one of its inputs, one of its outputs, or
/// a tensor of its own (a mask, statistics) that only the backward reads.
struct SavedSpec {
  enum class Source : uint8_t { kInput, kOutput, kOwn };
  Source source;
  int index = 0;     ///< which input or output
  TensorSpec own{};  ///< for kOwn
  Condition when = Condition::kAlways;
};

enum class FlopsRule : uint8_t {
  kNone,    ///< elementwise or data movement: no matrix FLOPs
  kMatmul,  ///< 2 · tokens · b · (elements of the weight matrix)
  kAttention,  ///< 4 · b · a · s · s_k · d: QKᵀ and the product with V, causal mask not discounted
};

enum class OpKind : uint8_t {
  kInput,
  kEmbedding,
  kPositionEmbedding,
  kDropout,
  kNorm,
  kNormEager,
  kNormEagerFp32Weight,
  kQProj,
  kKProj,
  kVProj,
  kAttentionEager,
  kAttentionFlash,
  kAttentionSdpa,
  kOutProj,
  kResidualAdd,
  kMlpUp,
  kMlpGate,
  kGelu,
  kSilu,
  kGluMul,
  kSwiGluFused,
  kMlpDown,
  kFinalNorm,
  kFinalNormEager,
  kFinalNormEagerFp32Weight,
  kLmHead,
  kLmHeadChunk,
  kUpcastLogits,
  kCrossEntropy,
  kCrossEntropyCompiled,
  kCrossEntropy16Bit,
};
inline constexpr int kOpKindCount = 31;

/// The ops that score the loss, which only training runs.
constexpr bool scores_the_loss(OpKind kind) {
  return kind == OpKind::kCrossEntropy || kind == OpKind::kCrossEntropyCompiled ||
         kind == OpKind::kCrossEntropy16Bit;
}

struct OpKindInfo {
  OpKind kind;
  const char* name;
  const char* description;
  int inputs = 0;  ///< how many tensors it consumes
  std::vector<TensorSpec> outputs{};
  std::vector<ParamSpec> params{};
  std::vector<SavedSpec> saved{};
  std::vector<TensorSpec> forward_workspace{};   ///< live only while its forward runs
  std::vector<TensorSpec> backward_workspace{};  ///< live only while its backward runs
  FlopsRule flops = FlopsRule::kNone;
  Shape matmul_weight{};          ///< the weight matrix shape, for kMatmul
  Dim matmul_tokens = Dim::kSeq;  ///< the tokens per sequence it multiplies, for kMatmul
};

/// The whole table, indexed by OpKind.
const std::vector<OpKindInfo>& op_table();
const OpKindInfo& op_info(OpKind kind);

}  // namespace memsim::sim
