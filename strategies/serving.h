#pragma once
/// Serving's rules: what the KV cache holds per token (paged or contiguous), the weights'
/// bytes in their storage formats, the process groups a serving rank talks in, and the
/// passes a request makes: the prompt's prefill (in chunks when asked), then one decode
/// step per generated token, each with the tokens it processes and attends to.

#include <cstdint>
#include <limits>
#include <vector>

#include "sim/layer_graph.h"
#include "strategies/plan.h"

namespace memsim::strategies {

/// Tokens per sequence the cache allocates to hold `tokens`: whole blocks when paged.
int64_t cached_tokens(const Inference& inference, int64_t tokens);

/// KV cache bytes one rank keeps per cached token of one sequence over `layers` layers:
/// keys and values of its KV heads (kv_heads / tp, one replica when tp > kv_heads).
sim::Bytes kv_bytes_per_token(const ServingPlan& plan, int64_t layers);

/// Bytes of `ops`' parameters on one TP rank in the inference formats: linear weights in
/// `weights` (integer formats with their group scales and zero points, grouped along the
/// input features), the embedding and LM head in their own format, norms and biases in
/// 16 bits (fp32 under fp32). A tied LM head counts when the embedding is not among `ops`.
sim::Bytes inference_weight_bytes(const ServingPlan& plan, const sim::LayerGraph& graph,
                                  const std::vector<sim::OpId>& ops);

/// Decode steps a walk covers: every `stride`-th, counted back from the last, which is
/// always walked (kEveryStep: all). A walked step allocates the cache of the steps it stands
/// for. Every later step holds more cache and attends to more tokens than the one before, so
/// the prefill and the last step decide the peak: kLastStepOnly walks just those.
inline constexpr int64_t kEveryStep = 1;
inline constexpr int64_t kLastStepOnly = std::numeric_limits<int64_t>::max();

/// Prompts are prefilled in at most this many passes (a layout check enforces it).
inline constexpr int64_t kMostPrefillPasses = 1024;

/// A pass's shape: tokens processed per sequence, tokens they attend to, positions whose
/// logits are computed, and the tokens cached per sequence before and after it.
struct PassShape {
  int32_t index = 0;  ///< the pass's place among all passes (prefill chunks, then steps)
  int64_t tokens = 0;
  int64_t attended = 0;
  int64_t logits = 0;
  int64_t cached_before = 0;
  int64_t cached_after = 0;
};

/// Bytes of `op`'s parameters on one TP rank in the inference formats; with `views`, a tied
/// head's view of the embedding counts too (it is read, though not held twice).
sim::Bytes op_weight_bytes(const ServingPlan& plan, const sim::OpNode& op, bool views);

/// Process groups a serving rank talks in: tensor and pipeline parallel (data-parallel
/// replicas serve apart).
int64_t inference_process_groups(const Parallelism& parallel);

/// Decode step `step` (from 1) of `inference`, its cache grown from `cached_before` tokens.
PassShape decode_pass(const Inference& inference, int64_t step, int64_t cached_before);

/// The passes of `inference`: prefill chunks, then the decode steps `decode_stride` picks.
std::vector<PassShape> inference_passes(const Inference& inference, int64_t decode_stride);

/// Prefill passes of `inference` (pass indices below this are prefill chunks).
int32_t prefill_passes(const Inference& inference);

}  // namespace memsim::strategies
