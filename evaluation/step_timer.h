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
  fast::StageTimesKey times_;  ///< the stages' times, scaled by down_
  double down_ = 1.0;          ///< a power of two
  /// Each set of stage times met, by id: the first 65,536 (later ones get ids of their own).
  std::unordered_map<fast::StageTimesKey, uint64_t, sim::DerivedHash> times_ids_;
  uint64_t next_times_id_ = 0;
  fast::TimingKey key_;  ///< times_'s id; the schedule's part is filled in per step
  std::vector<std::vector<ChunkTimes>> kind_times_;  ///< each kind's, scaled as times_'s
  std::vector<std::vector<ChunkTimes>> stage_times_;
  TimingScratch scratch_;
  /// Timings by order family and stage times: the first 65,536 kept for the whole sweep
  /// (later ones only while they are among a schedule's recent ones).
  std::unordered_map<fast::TimingKey, fast::FamilyTiming, sim::DerivedHash> timings_;
  static constexpr size_t kMostKept = size_t{1} << 16;
};

}  // namespace memsim::evaluation
