#pragma once
/// Walks one rank's training step: resident state first, then the forward and backward
/// of every microbatch, then the optimizer step. Tracks live memory per category and the
/// peak; optionally hands every event to a sink (a timeline recorder).

#include <cstdint>

#include "sim/memory_event.h"
#include "sim/rank_program.h"

namespace memsim::sim {

/// Receives every event of a walk, in time order.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void record(const MemoryEvent& event) = 0;
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
  CategoryBytes at_peak;          ///< adds up to `peak`
  CategoryBytes max_by_category;  ///< the most each category reaches at any moment
  Bytes activations_per_microbatch;
  double step_time_s = 0.0;
  PeakMoment peak_moment;
};

/// Live bytes per category, and the peak of their sum.
class PeakTracker {
 public:
  void apply(const MemoryEvent& event);
  const RankResult& result() const { return result_; }
  RankResult& result() { return result_; }
  Bytes live() const { return live_total_; }

 private:
  CategoryBytes live_;
  Bytes live_total_;
  RankResult result_;
};

RankResult simulate(const RankProgram& program, EventSink* sink = nullptr);

}  // namespace memsim::sim
