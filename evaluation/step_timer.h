#pragma once
/// Times a sweep's training steps: the same list scheduling as the walk (time_order), kept
/// per order family and stage times so that the plans of a sweep that share them are timed
/// once. Not thread-safe: one per evaluator.

#include <cstddef>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
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
  /// The order (for timing) of the step's schedule on the same stages with another
  /// microbatch count of its family.
  using Siblings = std::function<ScheduleOrder(int64_t microbatches)>;
  /// A step's time and bubble on those stages, in `schedule`'s order. The same whatever
  /// steps were timed before (so a sweep's rows do not depend on its threads): a family's
  /// orders that settle all move from the one with the fewest copies (see FamilyTimings).
  /// Every schedule given lives as long as the timer (it keeps their addresses).
  StepTimes time(fast::ScheduleEntry& schedule, const Siblings& siblings);

 private:
  struct Timed {
    fast::TimingValue value;
    SettledRun settled;
    ScheduleOrder::Repeat repeat;  ///< of the order timed (another, when refocused)
  };
  /// Where a family's orders settle (the same entry for every order that holds it: they
  /// time the same steps before it), found by the first of them timed. Orders whose copies
  /// differ by a multiple of `unit` differ by whole cycles: in each class of copies, the
  /// order with the fewest copies that still settles there is timed, and the others are
  /// its timing moved on by their extra cycles (family_shift), so every order's answer
  /// depends on the family alone.
  struct FamilyTimings {
    SettledRun settled;
    int64_t least_copies = 0;
    int64_t unit = 1;
    /// By copies modulo `unit`: the least order's timing and settling (none: it did not
    /// settle where the family does, and the class's orders are timed one by one).
    std::unordered_map<int64_t, std::optional<Timed>> least;
  };

  /// `kept`: the order outlives the call (a schedule's own), so a later timing can take up
  /// its end times from the scratch.
  Timed time_directly(const ScheduleOrder& order, const Refocus* refocus, bool kept);
  /// Where timing `order` (`kept` as for time_directly) can take up the end times the last
  /// timing left (resume_point).
  int64_t take_up_point(const ScheduleOrder& order, bool kept);
  fast::TimingValue family_timing(const ScheduleOrder& order, const Siblings& siblings);
  FamilyTimings family_of_settled(const SettledRun& settled, const ScheduleOrder& order) const;
  /// The fewest copies, from least_copies on, of the class of `copies`.
  static int64_t least_in_class(const FamilyTimings& family, int64_t copies);
  /// The timing of the least order of `order`'s class, timed on first use.
  const std::optional<Timed>& least_of_class(FamilyTimings& family, const ScheduleOrder& order,
                                             const Siblings& siblings);
  /// The order of `order`'s family with `copies` copies of its block.
  static ScheduleOrder with_copies(const ScheduleOrder& order, int64_t copies,
                                   const Siblings& siblings);

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
  /// What the scratch holds: end times of `order` (when kept) on the stage times
  /// `times_id`, timed one by one up to `stepped`. A sweep over the global batch times
  /// orders of one schedule with more and more microbatches, which start alike.
  struct Stepped {
    const ScheduleOrder* order = nullptr;
    uint64_t times_id = 0;
    int64_t stepped = 0;
  };
  Stepped stepped_;
  /// common_entries of two kept orders, by their addresses: the first 65,536 pairs.
  struct OrderPair {
    const ScheduleOrder* first = nullptr;
    const ScheduleOrder* second = nullptr;
    bool operator==(const OrderPair&) const = default;
  };
  std::unordered_map<OrderPair, int64_t, sim::DerivedHash> common_;
  /// Families that settle, by order family and stage times: the first 65,536 kept (later
  /// ones are found again for each order, at the cost of timing their least orders again).
  std::unordered_map<fast::TimingKey, FamilyTimings, sim::DerivedHash> families_;
  static constexpr size_t kMostKept = size_t{1} << 16;
};

}  // namespace memsim::evaluation
