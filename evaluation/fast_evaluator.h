#pragma once
/// Evaluates training plans without walking their events, for sweeps of millions of
/// points. Equal to the walk (tests compare them on thousands of random plans):
/// - each chunk's recipe is compiled once per shape (model, layers, embedding/head,
///   checkpointing, prefetch) with its sizes left open (ChunkProfile), then re-sized per plan;
/// - a stage's peak is its resident state plus the fullest of its schedule's moments: the
///   activations of the microbatches in flight before a step plus that step's fullest
///   prefix; the schedule's candidate moments are derived once per (schedule, p, v, m, stage);
/// - stage facts (model states, overheads) come from one layer's parameters counted per
///   layer, and the schedule is timed by the same list scheduling as the walk.
/// Not thread-safe: one evaluator per thread.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/units.h"
#include "strategies/plan.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// Whether to report each stage's peak or only the largest (which still weighs every
/// stage: each kind of stage's fullest moment over all its stages' schedules).
enum class StagePeaks { kEvery, kLargestOnly };

struct FastResult {
  std::vector<sim::Bytes> stage_peaks;  ///< each stage's ranks' peak (kEvery only)
  sim::Bytes peak;                      ///< the largest
  /// The largest outside the optimizer step: what the forward and backward passes reach,
  /// which a training key grows (the step's memory does not follow the batch).
  sim::Bytes passes_peak;
  bool fits = false;  ///< GPU and host memory
  sim::Bytes cpu_bytes_per_node;
  double step_time_s = 0.0;
  double bubble_fraction = 0.0;
  double tokens_per_s = 0.0;
  double model_flops_utilization = 0.0;
};

/// How a plan differs from the one evaluated last by the same evaluator. A sweep whose
/// innermost axes change only the global batch knows it without comparing the plans, which
/// costs a twentieth of its time.
enum class PlanChange {
  kAny,
  kGlobalBatchOnly,  ///< at most in training.global_batch (and whether it was given)
};

class FastEvaluator {
 public:
  FastEvaluator();
  ~FastEvaluator();
  FastEvaluator(const FastEvaluator&) = delete;
  FastEvaluator& operator=(const FastEvaluator&) = delete;

  /// A scenario's plan: training evaluated here, serving walked. `change`: how it differs
  /// from the last plan evaluated (a promise, checked in debug builds).
  FastResult evaluate(const Plan& scenario, StagePeaks detail = StagePeaks::kEvery,
                      PlanChange change = PlanChange::kAny);

 private:
  struct Caches;
  std::unique_ptr<Caches> caches_;
};

}  // namespace memsim::evaluation
