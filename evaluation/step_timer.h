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

struct StepTimes {
  double step_time_s = 0.0;
  double bubble_fraction = 0.0;
};

class StepTimer {
 public:
  /// The stages the next steps are timed with: their layout, each kind of stage's `kinds`
  /// (chunk times, and the synchronisation and optimizer step after the last microbatch),
  /// and the point-to-point time between stages. Kept (by reference) until the next call:
  /// a sweep's plans that differ only in their global batch time the same stages.
  void stages(const fast::StageLayout& layout, const std::vector<fast::KindNumbers>& kinds,
              double transfer_s);
  /// A step's time and bubble on those stages, in `schedule`'s order.
  StepTimes time(fast::ScheduleEntry& schedule);

 private:
  void time_family(const fast::ScheduleEntry& schedule, fast::TimingValue& timed);

  const fast::StageLayout* layout_ = nullptr;
  const std::vector<fast::KindNumbers>* kinds_ = nullptr;
  fast::TimingKey key_;  ///< the stages' part; the schedule's is filled in per step
  double down_ = 1.0;    ///< the power of two key_'s times are scaled by
  std::vector<std::vector<ChunkTimes>> kind_times_;  ///< each kind's, scaled as key_'s
  std::vector<std::vector<ChunkTimes>> stage_times_;
  TimingScratch scratch_;
  /// Timings by order family and stage times: the first 65,536 kept for the whole sweep
  /// (later ones only while they are among a schedule's recent ones).
  std::unordered_map<fast::TimingKey, fast::FamilyTiming, sim::DerivedHash> timings_;
  static constexpr size_t kMostTimings = size_t{1} << 16;
};

}  // namespace memsim::evaluation
