#pragma once
/// Walks one rank's training step: resident state first, then its schedule's steps (each a
/// chunk's forward or backward of one microbatch, at the schedule's times, idle between),
/// then gradient synchronisation and the optimizer step; or its serving passes, alike.
/// Tracks live memory per category and the peak; optionally hands every event and span to
/// a sink (a timeline recorder).

#include <cstdint>
#include <functional>
#include <vector>

#include "sim/memory_event.h"
#include "sim/rank_program.h"

namespace memsim::sim {

/// A stretch of time on one rank: a step, a recomputation inside it, an idle gap, the
/// gradient synchronisation or the optimizer step.
struct Span {
  double start_s = 0.0;
  double end_s = 0.0;
  Phase phase = Phase::kIdle;
  int32_t microbatch = kNoIndex;
  int32_t chunk = kNoIndex;
  StepKind step = StepKind::kForward;  ///< a step's span: what the step ran
};

/// Receives every event and span of a walk, in time order.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void record(const MemoryEvent& event) = 0;
  virtual void span(const Span& /*span*/) {}
};

/// When and where the peak was first reached.
struct PeakMoment {
  double t_s = 0.0;
  Phase phase = Phase::kIdle;
  int32_t microbatch = kNoIndex;
  int32_t layer = kNoIndex;
};

struct RankResult {
  Bytes peak;
  CategoryBytes at_peak;             ///< adds up to `peak`
  CategoryBytes max_by_category;     ///< the most each category reaches at any moment
  Bytes activations_per_microbatch;  ///< all of the rank's chunks
  double step_time_s = 0.0;          ///< when the rank finishes its optimizer step
  double busy_s = 0.0;               ///< time in its forward and backward steps
  double last_step_end_s = 0.0;      ///< when its last backward ends
  PeakMoment peak_moment;
  Bytes host_peak;  ///< the most of its activations in host memory at once (offload)
};

/// Live bytes per category, and the peak of their sum.
class PeakTracker {
 public:
  void apply(const MemoryEvent& event);
  const RankResult& result() const { return result_; }
  Bytes live() const { return live_total_; }

 private:
  CategoryBytes live_;
  Bytes live_total_;
  RankResult result_;
};

RankResult simulate(const RankProgram& program, EventSink* sink = nullptr);

/// One serving pass (a prefill chunk or a decode step) of a no-grad program's one chunk,
/// with its own sizes and op times.
struct ServingPass {
  int32_t index = 0;              ///< reported as the pass's microbatch: 0, 1, ... in the order run
  Bytes kv_growth;                ///< cache allocated when the pass starts
  std::vector<Bytes> sizes;       ///< per quantity of the program's index
  std::vector<OpTimes> op_times;  ///< per OpId
};

/// Walks a rank's serving: its resident state, then `count` passes one after another, the
/// i-th as `pass(i)` prices it (priced as they run: a timeline walks thousands). The step,
/// busy and last step's end times are all when the last pass ends.
RankResult simulate_serving(const RankProgram& program, size_t count,
                            const std::function<ServingPass(size_t)>& pass,
                            EventSink* sink = nullptr);

}  // namespace memsim::sim
