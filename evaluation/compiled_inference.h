#pragma once
/// Inference compiled for simulation: each pipeline stage's resident weights (in their
/// storage formats) and overheads, and the passes it runs (strategies/serving.h). A pass is
/// priced from the model's dimensions with s = the tokens it processes and s_k = the tokens
/// they attend to; the KV cache grows by the tokens each pass adds. Ranks of a stage walk
/// alike.

#include <cstdint>
#include <memory>
#include <vector>

#include "evaluation/stage_facts.h"
#include "sim/layer_graph.h"
#include "sim/quantity_index.h"
#include "sim/simulator.h"
#include "strategies/plan.h"
#include "strategies/serving.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

class CompiledInference {
 public:
  explicit CompiledInference(ServingPlan plan);
  ~CompiledInference();

  const ServingPlan& plan() const { return plan_; }
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
    std::vector<sim::DimSizes> body;  ///< per kind of layer
    sim::DimSizes logits;
    Precision precision;
  };
  PassDims pass_dims(const PassShape& shape) const;
  /// Bytes of each quantity of `index_` in a pass.
  std::vector<sim::Bytes> pass_sizes(const PassDims& dims) const;
  /// Seconds of each twin op (LayerGraph::twins) in a pass of these sizes.
  std::vector<double> twin_seconds(const PassShape& shape,
                                   const std::vector<sim::Bytes>& sizes) const;
  sim::ServingPass price(const PassShape& shape) const;
  /// Seconds of one pass through every stage.
  double pass_seconds(const PassShape& shape) const;

  ServingPlan plan_;
  std::unique_ptr<sim::LayerGraph> graph_;
  std::unique_ptr<sim::QuantityIndex> index_;  ///< tensor classes grouped as a pass prices them
  std::vector<sim::Bytes> op_weights_;         ///< per twin slot: weight bytes the op reads
  std::vector<Stage> stages_;
};

}  // namespace memsim::evaluation
