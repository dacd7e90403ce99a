#pragma once
/// Walks one rank's inference: resident state (weights, overheads) first, then forward
/// passes without gradients, each a prefill over prompt tokens or one decode step. A pass
/// grows the KV cache by the tokens it adds, then runs the rank's ops in forward order; a
/// tensor lives from the op that makes it to its last reader on the rank, an op's own
/// tensors (expanded K/V, softmax output, statistics) and workspace only while it runs.
/// Nothing is saved: every transient byte is reported as temporary.

#include <cstdint>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/simulator.h"

namespace memsim::sim {

/// What one pass costs on the rank: bytes per tensor (0: not made, as the labels and the
/// logits of positions nobody samples) and seconds per op.
struct InferencePass {
  int32_t index = 0;  ///< reported as the pass's microbatch: 0, 1, ... in the order run
  Bytes kv_growth;    ///< cache allocated when the pass starts
  std::vector<Bytes> tensor_bytes;  ///< per TensorId
  std::vector<double> op_s;         ///< per OpId
};

class InferenceWalker {
 public:
  /// The rank runs the ops at forward positions [first, last], except those `skipped`
  /// (per OpId: the training loss). `sink` may be null.
  InferenceWalker(const LayerGraph& graph, int first, int last, std::vector<bool> skipped,
                  EventSink* sink);

  /// Allocates what the rank holds throughout, at time 0.
  void hold(const CategoryBytes& resident);
  void run(const InferencePass& pass);
  /// Peak, breakdown and the time after the last pass (as step_time_s).
  RankResult result() const;

 private:
  void emit(Bytes delta, Category category, Phase phase, int32_t pass, int32_t layer);

  const LayerGraph& graph_;
  int first_;
  int last_;
  std::vector<bool> skipped_;
  std::vector<int> last_use_;       ///< per TensorId: forward position of its last reader here
  std::vector<TensorId> arrivals_;  ///< made before the rank's ops, read by them
  EventSink* sink_;
  PeakTracker tracker_;
  double now_ = 0.0;
};

}  // namespace memsim::sim
