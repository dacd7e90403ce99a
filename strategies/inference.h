#pragma once
/// Inference compiled for simulation: each pipeline stage's resident weights (in their
/// storage formats) and overheads, and the passes it runs: the prompt's prefill (in chunks
/// when asked), then one decode step per generated token. A pass is priced from the
/// model's dimensions with s = the tokens it processes and s_k = the tokens they attend
/// to; the KV cache grows by the tokens each pass adds. Ranks of a stage walk alike.

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "sim/inference_walk.h"
#include "sim/layer_graph.h"
#include "strategies/stage_facts.h"
#include "strategies/training_plan.h"

namespace memsim::strategies {

/// Tokens per sequence the cache allocates to hold `tokens`: whole blocks when paged.
int64_t cached_tokens(const Inference& inference, int64_t tokens);

/// KV cache bytes one rank keeps per cached token of one sequence over `layers` layers:
/// keys and values of its KV heads (kv_heads / tp, one replica when tp > kv_heads).
sim::Bytes kv_bytes_per_token(const TrainingPlan& plan, int64_t layers);

/// Bytes of `ops`' parameters on one TP rank in the inference formats: linear weights in
/// `weights` (integer formats with their group scales and zero points, grouped along the
/// input features), the embedding and LM head in their own format, norms and biases in
/// 16 bits (fp32 under fp32). A tied LM head counts when the embedding is not among `ops`.
sim::Bytes inference_weight_bytes(const TrainingPlan& plan, const sim::LayerGraph& graph,
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

/// Decode step `step` (from 1) of `inference`, its cache grown from `cached_before` tokens.
PassShape decode_pass(const Inference& inference, int64_t step, int64_t cached_before);

/// The passes of `inference`: prefill chunks, then the decode steps `decode_stride` picks.
std::vector<PassShape> inference_passes(const Inference& inference, int64_t decode_stride);

/// Prefill passes of `inference` (pass indices below this are prefill chunks).
int32_t prefill_passes(const Inference& inference);

class CompiledInference {
 public:
  explicit CompiledInference(TrainingPlan plan);
  ~CompiledInference();

  const TrainingPlan& plan() const { return plan_; }
  const sim::LayerGraph& graph() const { return *graph_; }
  int64_t stages() const { return plan_.parallel.pp.stages; }
  /// Walks stage `stage`'s ranks: resident state, then the passes.
  sim::RankResult walk(int64_t stage, int64_t decode_stride, sim::EventSink* sink = nullptr) const;
  /// The stage's walk of the prefill and the last decode step, done once when compiled.
  const sim::RankResult& summary(int64_t stage) const;
  /// The largest of the stages' peaks.
  sim::Bytes peak() const;
  /// Seconds of the prefill through every stage (time to first token).
  double prefill_seconds() const;
  /// Seconds of every decode step through every stage, and of the last alone. Up to 1,024
  /// steps are timed one by one; above, 1,024 of them (the last included), and the steps
  /// between interpolated linearly.
  struct DecodeSeconds {
    double all = 0.0;
    double last = 0.0;
  };
  DecodeSeconds decode_seconds() const;
  const OverheadParts& overheads(int64_t stage) const;
  /// The parameters a rank of `stage` at `tp_rank` accounts for (they add up to the
  /// model's count over one replica's ranks).
  int64_t rank_parameters(int64_t stage, int64_t tp_rank) const;

 private:
  struct Stage;
  /// The dimensions one rank sees in a pass: of the body, and of the sampled logits.
  struct PassDims {
    sim::DimSizes body;
    sim::DimSizes logits;
    Precision precision;
  };
  PassDims pass_dims(const PassShape& shape) const;
  sim::Bytes tensor_bytes(sim::TensorId t, const PassDims& dims) const;
  /// Seconds of each twin op (LayerGraph::twins) in a pass.
  std::vector<double> twin_seconds(const PassShape& shape) const;
  sim::InferencePass price(const PassShape& shape) const;
  /// Seconds of one pass through every stage.
  double pass_seconds(const PassShape& shape) const;

  TrainingPlan plan_;
  std::unique_ptr<sim::LayerGraph> graph_;
  std::vector<bool> skipped_;           ///< per OpId: the loss
  std::vector<bool> unmade_;            ///< per TensorId: the labels
  std::vector<bool> logits_;            ///< per TensorId: made per sampled position
  std::vector<sim::Bytes> op_weights_;  ///< per twin slot: weight bytes the op reads
  std::vector<Stage> stages_;
};

}  // namespace memsim::strategies
