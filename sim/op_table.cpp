#include "sim/op_table.h"

#include <tuple>

#include "sim/check.h"

namespace memsim::sim {

namespace {

using D = Dim;
using Src = SavedSpec::Source;
constexpr DtypeClass kAct = DtypeClass::kActivation;

SavedSpec input(int index, Condition when = Condition::kAlways) {
  return {.source = Src::kInput, .index = index, .when = when};
}
SavedSpec output(int index) {
  return {.source = Src::kOutput, .index = index};
}
SavedSpec own(TensorSpec tensor, Condition when = Condition::kAlways) {
  return {.source = Src::kOwn, .own = tensor, .when = when};
}

const Shape kSbh{D::kSeq, D::kBatch, D::kHidden};
const Shape kSbf{D::kSeq, D::kBatch, D::kFfn};
const Shape kSbad{D::kSeq, D::kBatch, D::kHeads, D::kHeadDim};
const Shape kSbkd{D::kSeq, D::kBatch, D::kKvHeads, D::kHeadDim};
const Shape kBass{D::kBatch, D::kHeads, D::kSeq, D::kKeySeq};
/// Keys or values repeated for every query head (grouped-query attention, eager).
const Shape kExpandedKv{D::kKeySeq, D::kBatch, D::kHeads, D::kHeadDim};
// What the LM head and the loss hold: a chunk of the sequence at a time when the loss is
// chunked, the whole sequence otherwise.
const Shape kSbv{D::kHeadSeq, D::kBatch, D::kVocab};
const Shape kSb{D::kSeq, D::kBatch};

/// What a matmul keeps of its input: the input itself, or under autocast over fp32
/// parameters a 16-bit copy of an input from the fp32 residual stream, which each matmul
/// casts for itself (autocast caches casts of parameters only; measured in PyTorch:
/// tests/fixtures/pytorch_saved_tensors.json, llama_layer_autocast_bf16_hf_rmsnorm).
std::vector<SavedSpec> matmul_input(bool from_stream, Shape input_shape) {
  if (!from_stream) return {input(0)};
  return {input(0, Condition::kNoAutocast),
          own({"input_cast", input_shape, kAct}, Condition::kAutocast)};
}

/// Under autocast a matmul also keeps the 16-bit copy of its fp32 weight (MmBackward0.mat2),
/// which the autocast cache holds at least until the forward ends.
SavedSpec weight_cast(Shape weight) {
  return own({.name = "weight_cast", .shape = weight, .dtype = kAct, .weight_copy = true},
             Condition::kAutocast);
}

// A linear layer saves its input (its weight is a parameter, not an activation). The bias
// of a row-parallel layer is added after the reduction, so it is replicated. The layers
// after a norm read the residual stream's dtype.
OpKindInfo linear(OpKind kind, const char* name, const char* description, Shape weight,
                  int input_dims, ShardKind shard, Shape bias, Condition bias_when, Shape out,
                  bool from_stream) {
  const ShardKind bias_shard = shard == ShardKind::kRow ? ShardKind::kReplicated : shard;
  std::vector<SavedSpec> saved = matmul_input(from_stream, kSbh);
  saved.push_back(weight_cast(weight));
  return {.kind = kind,
          .name = name,
          .description = description,
          .inputs = 1,
          .outputs = {{"output", out, kAct}},
          .params = {{.name = "weight", .shape = weight, .shard = shard, .input_dims = input_dims},
                     {"bias", bias, bias_shard, bias_when}},
          .saved = std::move(saved),
          .flops = FlopsRule::kMatmul,
          .matmul_weight = weight};
}

// Layer and final norms: PyTorch's layer_norm and fused RMSNorm kernels (apex, Transformer
// Engine) save the input and fp32 statistics per token (mean and 1/std; RMSNorm only 1/std).
OpKindInfo norm(OpKind kind, const char* name, const char* description) {
  return {.kind = kind,
          .name = name,
          .description = description,
          .inputs = 1,
          .outputs = {{"output", kSbh, DtypeClass::kStream}},
          .params = {{"weight", {D::kHidden}, ShardKind::kReplicated},
                     {"bias", {D::kHidden}, ShardKind::kReplicated, Condition::kLayerNorm}},
          .saved = {input(0), own({"mean", kSb, DtypeClass::kFp32}, Condition::kLayerNorm),
                    own({"rstd", kSb, DtypeClass::kFp32})}};
}

// Hugging Face's LlamaRMSNorm in PyTorch ops (transformers, src/transformers/models/llama/
// modeling_llama.py, LlamaRMSNorm.forward, as tools/calibration/ runs it): x.to(float32), its
// pow(2).mean(-1), rsqrt, the product, then .to(input dtype) and the weight's product. Autograd
// keeps the fp32 copy (PowBackward0 and MulBackward0), the fp32 1/rms per token (RsqrtBackward0)
// and the normalised copy in the input dtype (the weight's MulBackward0); mean's backward needs
// only sizes (PyTorch 2, tools/autograd/derivatives.yaml, mean.dim). Its forward also holds the
// fp32 squares, then the fp32 product (a local until the function returns) and the variance. Its
// backward is at its fullest in PowBackward0 (FunctionsManual.cpp, pow_backward: grad · (2 ·
// x.pow(1))), with five fp32 s·b·h besides the fp32 copy: the input's gradient through the product,
// mean's gradient, x.pow(1), 2 · x.pow(1) and their product with the gradient. Measured in
// torch 1.13 on the CPU: tests/fixtures/pytorch_saved_tensors.json, norm_peak_transient.
//
// LitGPT's RMSNorm (litgpt/model.py, RMSNorm.forward) applies the weight in fp32 and casts
// the product back: its normalised copy is kept in fp32, with an fp32 copy of the weight
// (measured: the fixture's llama_layer_bfloat16_litgpt_rmsnorm).
OpKindInfo eager_rms_norm(OpKind kind, const char* name, const char* description,
                          bool fp32_weight = false) {
  const TensorSpec fp32_copy{"fp32_temporary", kSbh, DtypeClass::kFp32};
  std::vector<SavedSpec> saved = {
      own({"input_fp32", kSbh, DtypeClass::kFp32}, Condition::kLowPrecisionStream),
      input(0, Condition::kFp32Stream), own({"rstd", kSb, DtypeClass::kFp32})};
  if (fp32_weight) {
    saved.push_back(own({"normalized", kSbh, DtypeClass::kFp32}));
    saved.push_back(own({"weight_fp32", {D::kHidden}, DtypeClass::kFp32}));
  } else {
    saved.push_back(own({"normalized", kSbh, DtypeClass::kStream}));
  }
  return {.kind = kind,
          .name = name,
          .description = description,
          .inputs = 1,
          .outputs = {{"output", kSbh, DtypeClass::kStream}},
          .params = {{"weight", {D::kHidden}, ShardKind::kReplicated}},
          .saved = std::move(saved),
          .forward_workspace = {fp32_copy, {"variance", kSb, DtypeClass::kFp32}},
          .backward_workspace = {fp32_copy, fp32_copy, fp32_copy, fp32_copy, fp32_copy}};
}

/// The token ids, the embeddings and dropout.
void add_input_ops(std::vector<OpKindInfo>& table) {
  table.push_back(
      {.kind = OpKind::kInput,
       .name = "input",
       .description = "token ids and labels of one microbatch (int64)",
       .inputs = 0,
       .outputs = {{"token_ids", kSb, DtypeClass::kIndex}, {"labels", kSb, DtypeClass::kIndex}}});
  table.push_back({.kind = OpKind::kEmbedding,
                   .name = "embedding",
                   .description = "token embedding lookup; saves the token ids for its backward",
                   .inputs = 1,
                   .outputs = {{"output", kSbh, DtypeClass::kStream}},
                   .params = {{"weight", {D::kVocab, D::kHidden}, ShardKind::kVocab}},
                   .saved = {input(0)}});
  table.push_back({.kind = OpKind::kPositionEmbedding,
                   .name = "position_embedding",
                   .description = "learned absolute positions added to the embedding",
                   .inputs = 1,
                   .outputs = {{"output", kSbh, DtypeClass::kStream}},
                   .params = {{"weight", {D::kPositions, D::kHidden}, ShardKind::kReplicated}}});
  table.push_back({.kind = OpKind::kDropout,
                   .name = "dropout",
                   .description = "dropout on the residual stream; saves a one-byte mask",
                   .inputs = 1,
                   .outputs = {{"output", kSbh, kAct}},
                   .saved = {own({"mask", kSbh, DtypeClass::kMask})}});
}

/// Norms, the attention projections, the attention core and the residual add.
void add_attention_ops(std::vector<OpKindInfo>& table) {
  table.push_back(norm(OpKind::kNorm, "norm", "layer norm or RMS norm before attention and MLP"));
  table.push_back(eager_rms_norm(OpKind::kNormEager, "norm_eager",
                                 "RMS norm before attention and MLP, in PyTorch ops (fp32 copy)"));
  table.push_back(eager_rms_norm(OpKind::kNormEagerFp32Weight, "norm_eager_fp32",
                                 "RMS norm before attention and MLP, in PyTorch ops, the weight "
                                 "applied in fp32",
                                 true));
  table.push_back(linear(OpKind::kQProj, "q_proj", "query projection, column-parallel",
                         {D::kHidden, D::kHeads, D::kHeadDim}, 1, ShardKind::kColumn,
                         {D::kHeads, D::kHeadDim}, Condition::kQkvBias, kSbad, true));
  table.push_back(linear(OpKind::kKProj, "k_proj", "key projection, column-parallel",
                         {D::kHidden, D::kKvHeads, D::kHeadDim}, 1, ShardKind::kColumn,
                         {D::kKvHeads, D::kHeadDim}, Condition::kQkvBias, kSbkd, true));
  table.push_back(linear(OpKind::kVProj, "v_proj", "value projection, column-parallel",
                         {D::kHidden, D::kKvHeads, D::kHeadDim}, 1, ShardKind::kColumn,
                         {D::kKvHeads, D::kHeadDim}, Condition::kQkvBias, kSbkd, true));
  // Eager attention materialises the s×s scores: softmax(QKᵀ/√d) V. It saves Q, K, V (with
  // grouped KV heads, the copies expanded to every query head that the matmuls consume),
  // the softmax output and, with dropout, its one-byte mask and the dropped-out
  // probabilities (Korthikanti et al. 2022, §4.1: 5as²b bytes in 16-bit). A softmax in fp32
  // (model.softmax_kernel) also keeps its fp32 output, which SoftmaxBackward reads, and its
  // backward makes the fp32 gradient of the probabilities (ToCopyBackward) first. In a layer
  // torch.compile compiled, the partitioner keeps the 16-bit scores instead, from which the
  // backward kernel rebuilds the fp32 softmax (half the bytes), and fuses the softmax's
  // backward with the casts (strategies/compile.cpp).
  table.push_back(
      {.kind = OpKind::kAttentionEager,
       .name = "attention_eager",
       .description = "attention core with materialised scores (PyTorch eager, Megatron unfused)",
       .inputs = 3,
       .outputs = {{"output", kSbad, kAct}},
       .saved = {input(0), input(1, Condition::kUngroupedKv), input(2, Condition::kUngroupedKv),
                 own({"k_expanded", kExpandedKv, kAct}, Condition::kGroupedKv),
                 own({"v_expanded", kExpandedKv, kAct}, Condition::kGroupedKv),
                 own({"softmax_output", kBass, kAct}),
                 own({"softmax_fp32", kBass, DtypeClass::kFp32}, Condition::kFp32Softmax),
                 own({"scores", kBass, kAct}, Condition::kFp32SoftmaxCompiled),
                 own({"dropout_mask", kBass, DtypeClass::kMask}, Condition::kDropout),
                 own({"dropout_output", kBass, kAct}, Condition::kDropout)},
       .forward_workspace = {{"scores", kBass, kAct}},
       .backward_workspace = {{"grad_probs", kBass, kAct},
                              {"grad_scores", kBass, kAct},
                              {"grad_probs_fp32", kBass, DtypeClass::kFp32,
                               Condition::kFp32Softmax}},
       .flops = FlopsRule::kAttention});
  // FlashAttention keeps Q, K, V, the output and the fp32 log-sum-exp per row, and rebuilds
  // the probabilities in backward; dropout is regenerated from the RNG state. Its backward
  // accumulates dQ in fp32 (flash-attn 2's dq_accum).
  table.push_back(
      {.kind = OpKind::kAttentionFlash,
       .name = "attention_flash",
       .description = "fused attention core (FlashAttention): O(s) statistics instead of s×s",
       .inputs = 3,
       .outputs = {{"output", kSbad, kAct}},
       .saved = {input(0), input(1), input(2), output(0),
                 own({"softmax_lse", {D::kBatch, D::kHeads, D::kSeq}, DtypeClass::kFp32})},
       .backward_workspace = {{"dq_accum", kSbad, DtypeClass::kFp32}},
       .flops = FlopsRule::kAttention});
  // PyTorch's scaled_dot_product_attention (its flash or memory-efficient backend) called
  // with K and V repeated to every query head, as Hugging Face's sdpa path does without
  // enable_gqa (repeat_kv, models/llama/modeling_llama.py; integrations/sdpa_attention.py),
  // torchtune's MultiHeadAttention (k.expand(...).flatten) and LitGPT's CausalSelfAttention
  // (k.expand(...).reshape): the kernel saves the repeated copies, and its backward makes
  // their gradients before summing them back over each group.
  table.push_back(
      {.kind = OpKind::kAttentionSdpa,
       .name = "attention_sdpa",
       .description = "fused attention core fed K and V repeated to every query head",
       .inputs = 3,
       .outputs = {{"output", kSbad, kAct}},
       .saved = {input(0), input(1, Condition::kUngroupedKv), input(2, Condition::kUngroupedKv),
                 own({"k_expanded", kExpandedKv, kAct}, Condition::kGroupedKv),
                 own({"v_expanded", kExpandedKv, kAct}, Condition::kGroupedKv), output(0),
                 own({"softmax_lse", {D::kBatch, D::kHeads, D::kSeq}, DtypeClass::kFp32})},
       .backward_workspace = {{"dq_accum", kSbad, DtypeClass::kFp32},
                              {"grad_k_expanded", kExpandedKv, kAct, Condition::kGroupedKv},
                              {"grad_v_expanded", kExpandedKv, kAct, Condition::kGroupedKv}},
       .flops = FlopsRule::kAttention});
  table.push_back(linear(OpKind::kOutProj, "o_proj", "attention output projection, row-parallel",
                         {D::kHeads, D::kHeadDim, D::kHidden}, 2, ShardKind::kRow, {D::kHidden},
                         Condition::kLinearBias, kSbh, false));
  table.push_back({.kind = OpKind::kResidualAdd,
                   .name = "residual_add",
                   .description = "residual connection; saves nothing",
                   .inputs = 2,
                   .outputs = {{"output", kSbh, DtypeClass::kStream}}});
}

/// The MLP: up (and gate) projections, activation, down projection.
void add_mlp_ops(std::vector<OpKindInfo>& table) {
  table.push_back(linear(OpKind::kMlpUp, "mlp_up", "MLP up projection, column-parallel",
                         {D::kHidden, D::kFfn}, 1, ShardKind::kColumn, {D::kFfn},
                         Condition::kLinearBias, kSbf, true));
  table.push_back(linear(OpKind::kMlpGate, "mlp_gate", "SwiGLU gate projection, column-parallel",
                         {D::kHidden, D::kFfn}, 1, ShardKind::kColumn, {D::kFfn},
                         Condition::kLinearBias, kSbf, true));
  table.push_back({.kind = OpKind::kGelu,
                   .name = "gelu",
                   .description = "GeLU activation (one kernel); saves its input",
                   .inputs = 1,
                   .outputs = {{"output", kSbf, kAct}},
                   .saved = {input(0)}});
  table.push_back({.kind = OpKind::kSilu,
                   .name = "silu",
                   .description = "SiLU of the SwiGLU gate; saves its input",
                   .inputs = 1,
                   .outputs = {{"output", kSbf, kAct}},
                   .saved = {input(0)}});
  table.push_back({.kind = OpKind::kGluMul,
                   .name = "glu_mul",
                   .description = "SwiGLU product silu(gate) * up; saves both factors",
                   .inputs = 2,
                   .outputs = {{"output", kSbf, kAct}},
                   .saved = {input(0), input(1)}});
  // Megatron-Core's SwiGLUFunction (Megatron-LM 00caa53, megatron/core/fusions/
  // fused_bias_swiglu.py) keeps its input, the gate and up projections as one tensor (in fp8
  // with fp8_input_store, not modeled), and nothing else; its forward and
  // backward (swiglu_back) are compiled into single kernels by megatron/core/jit.py's
  // jit_fuser (torch.compile from PyTorch 2.2), which make no temporaries.
  table.push_back({.kind = OpKind::kSwiGluFused,
                   .name = "swiglu_fused",
                   .description = "SwiGLU silu(gate) * up in one function; saves gate and up",
                   .inputs = 2,
                   .outputs = {{"output", kSbf, kAct}},
                   .saved = {input(0), input(1)}});
  table.push_back(linear(OpKind::kMlpDown, "mlp_down", "MLP down projection, row-parallel",
                         {D::kFfn, D::kHidden}, 1, ShardKind::kRow, {D::kHidden},
                         Condition::kLinearBias, kSbh, false));
}

/// The final norm, the LM head and the loss.
void add_head_ops(std::vector<OpKindInfo>& table) {
  table.push_back(norm(OpKind::kFinalNorm, "final_norm", "norm after the last layer"));
  table.push_back(eager_rms_norm(OpKind::kFinalNormEager, "final_norm_eager",
                                 "RMS norm after the last layer, in PyTorch ops (fp32 copy)"));
  table.push_back(eager_rms_norm(OpKind::kFinalNormEagerFp32Weight, "final_norm_eager_fp32",
                                 "RMS norm after the last layer, in PyTorch ops, the weight "
                                 "applied in fp32",
                                 true));
  // The projection to the vocabulary, vocab-parallel, sharing the embedding if tied. On the
  // whole sequence it keeps its input. A chunk of the sequence along dim 1 of (b, s, h) is
  // not contiguous: the matmul copies it and keeps the copy for its backward (aten.clone
  // saved by MmBackward0; measured in PyTorch 1.13: tests/fixtures/pytorch_chunked_loss.json).
  // Under autocast the chunk's copy is the 16-bit cast.
  const Shape vocab_weight{D::kVocab, D::kHidden};
  for (const auto& [kind, description, input_saved] :
       {std::tuple{OpKind::kLmHead,
                   "projection to the vocabulary, vocab-parallel; shares the "
                   "embedding if tied",
                   matmul_input(true, kSbh)},
        std::tuple{OpKind::kLmHeadChunk,
                   "the projection to the vocabulary of one chunk of the "
                   "sequence",
                   std::vector<SavedSpec>{
                       own({"input_chunk", {D::kHeadSeq, D::kBatch, D::kHidden}, kAct})}}}) {
    std::vector<SavedSpec> saved = input_saved;
    saved.push_back(weight_cast(vocab_weight));
    table.push_back(
        {.kind = kind,
         .name = "lm_head",
         .description = description,
         .inputs = 1,
         .outputs = {{"logits", kSbv, kAct}},
         .params =
             {{"weight", {D::kVocab, D::kHidden}, ShardKind::kVocab, Condition::kUntiedHead},
              {"weight", {D::kVocab, D::kHidden}, ShardKind::kVocab, Condition::kTiedHead, true}},
         .saved = std::move(saved),
         .flops = FlopsRule::kMatmul,
         .matmul_weight = vocab_weight,
         .matmul_tokens = D::kHeadSeq});
  }
  // The loss runs on an fp32 copy of the logits, as F.cross_entropy(logits.float(), labels)
  // and Megatron's vocab-parallel loss do.
  table.push_back({.kind = OpKind::kUpcastLogits,
                   .name = "upcast_logits",
                   .description = "fp32 copy of the logits for the loss",
                   .inputs = 1,
                   .outputs = {{"logits_fp32", kSbv, DtypeClass::kFp32}}});
  // log_softmax saves its fp32 output (Korthikanti §4.3: 4sbV/t bytes) and nll_loss the
  // labels. Backward makes the fp32 gradient of the log-probabilities, then of the logits:
  // with the saved output, three fp32 s·b·V tensors at once (measured in PyTorch: see
  // tests/fixtures/pytorch_saved_tensors.json, loss head).
  table.push_back(
      {.kind = OpKind::kCrossEntropy,
       .name = "cross_entropy",
       .description = "log-softmax and NLL loss; saves the fp32 log-probabilities and the labels",
       .inputs = 2,
       .outputs = {{"loss", {}, DtypeClass::kFp32}},
       .saved = {own({"log_probs", kSbv, DtypeClass::kFp32}), input(1)},
       .backward_workspace = {{"grad_log_probs", kSbv, DtypeClass::kFp32}}});
  // The upcast and the loss compiled together (torchtitan's and torchtune's compiled loss):
  // Inductor's forward reduces the 16-bit logits row by row without an fp32 copy, the
  // partitioner keeps the 16-bit logits (an input: the cheapest cut) and each row's
  // log-sum-exp (of reductions, which it does not recompute), and the backward is one kernel that
  // writes the 16-bit gradient of the logits (strategies/compile.cpp).
  table.push_back(
      {.kind = OpKind::kCrossEntropyCompiled,
       .name = "cross_entropy_compiled",
       .description = "the fp32 upcast and the loss compiled into one kernel each way; saves "
                      "the 16-bit logits and per-token statistics",
       .inputs = 2,
       .outputs = {{"loss", {}, DtypeClass::kFp32}},
       .saved = {input(0), own({"logsumexp", {D::kHeadSeq, D::kBatch}, DtypeClass::kFp32}),
                 input(1)}});
  // The loss on the 16-bit logits as they are, as LitGPT's chunked_cross_entropy scores them
  // (chunk_size 0: F.cross_entropy(logits, targets)): log_softmax keeps its 16-bit output and
  // its backward makes the 16-bit gradients (measured in PyTorch 1.13:
  // tests/fixtures/pytorch_chunked_loss.json, the case without upcast).
  table.push_back(
      {.kind = OpKind::kCrossEntropy16Bit,
       .name = "cross_entropy_16bit",
       .description = "log-softmax and NLL loss on the 16-bit logits, without an fp32 copy",
       .inputs = 2,
       .outputs = {{"loss", {}, DtypeClass::kFp32}},
       .saved = {own({"log_probs", kSbv, kAct}), input(1)},
       .backward_workspace = {{"grad_log_probs", kSbv, kAct}}});
}

std::vector<OpKindInfo> build_table() {
  std::vector<OpKindInfo> table;
  add_input_ops(table);
  add_attention_ops(table);
  add_mlp_ops(table);
  add_head_ops(table);
  return table;
}

}  // namespace

bool applies(Condition when, const ModelSpec& model, const OpContext& context) {
  switch (when) {
    case Condition::kAlways:
      return true;
    case Condition::kLinearBias:
      return model.bias;
    case Condition::kQkvBias:
      return model.has_qkv_bias();
    case Condition::kLayerNorm:
      return model.norm == NormType::kLayerNorm;
    case Condition::kUntiedHead:
      return !model.tied_embeddings;
    case Condition::kTiedHead:
      return model.tied_embeddings;
    case Condition::kDropout:
      return model.dropout > 0.0;
    case Condition::kGroupedKv:
      return model.grouped_kv();
    case Condition::kUngroupedKv:
      return !model.grouped_kv();
    case Condition::kFp32Softmax:
      return model.softmax_kernel == SoftmaxKernel::kFp32 && !context.compiled_layer;
    case Condition::kFp32SoftmaxCompiled:
      return model.softmax_kernel == SoftmaxKernel::kFp32 && context.compiled_layer;
    case Condition::kAutocast:
      return context.autocast;
    case Condition::kNoAutocast:
      return !context.autocast;
    case Condition::kFp32Stream:
      return context.fp32_stream;
    case Condition::kLowPrecisionStream:
      return !context.fp32_stream;
  }
  return false;
}

const std::vector<OpKindInfo>& op_table() {
  static const std::vector<OpKindInfo> table = build_table();
  return table;
}

const OpKindInfo& op_info(OpKind kind) {
  const auto& info = op_table()[static_cast<size_t>(kind)];
  MEMSIM_CHECK(info.kind == kind);
  return info;
}

}  // namespace memsim::sim
