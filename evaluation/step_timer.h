#pragma once
/// Times a sweep's training steps: the same list scheduling as the walk (time_order), kept
/// per order family and stage times so that the plans of a sweep that share them are timed
/// once. Not thread-safe: one per evaluator.

#include <cstddef>
#include <unordered_map>
#include <vector>

#include "evaluation/fast_tables.h"
#include "evaluation/pipeline_timing.h"

namespace memsim::evaluation {

/// What a step is timed with: the stages' layout, the schedule's entry (its order and recent
/// timings) and the point-to-point time between stages.
struct StepInputs {
  const fast::StageLayout& layout;
  fast::ScheduleEntry& schedule;
  double transfer_s;
};

struct StepTimes {
  double step_time_s = 0.0;
  double bubble_fraction = 0.0;
};

class StepTimer {
 public:
  /// The step's time and bubble with each kind of stage's `kinds` (chunk times, and the
  /// synchronisation and optimizer step after the last microbatch).
  StepTimes time(const StepInputs& at, const std::vector<fast::KindNumbers>& kinds);

 private:
  void time_family(const StepInputs& at, const std::vector<fast::KindNumbers>& kinds, double down,
                   fast::TimingValue& timed);

  fast::TimingKey key_;  ///< reused between steps
  std::vector<std::vector<ChunkTimes>> stage_times_;
  std::vector<std::vector<ChunkTimes>> kind_times_;
  TimingScratch scratch_;
  /// Timings by order family and stage times: the first 65,536 kept for the whole sweep
  /// (later ones only while they are among a schedule's recent ones).
  std::unordered_map<fast::TimingKey, fast::FamilyTiming, sim::DerivedHash> timings_;
  static constexpr size_t kMostTimings = size_t{1} << 16;
};

}  // namespace memsim::evaluation
