#include "evaluation/step_timer.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace memsim::evaluation {

using namespace fast;  // NOLINT(google-build-using-namespace): the fast tables' terms

/// The same list scheduling as the walk, once per distinct set of stage times up to a
/// power-of-two scale and order family; then each stage's synchronisation and optimizer
/// step. Stages of a kind synchronise and step alike: the last to finish its steps ends last.
///
/// List scheduling adds and takes maxima of times, which scaling every time by 2^k changes
/// only by 2^k, exactly in floating point; and a micro-batch 2^k times larger scales every
/// compute and communication time by exactly 2^k. So times are kept scaled to a largest
/// one in [0.5, 1), and a sweep over micro-batches times each schedule once. A sweep over
/// the global batch times each family of orders once (see family_shift).
void StepTimer::stages(const StageLayout& layout, const std::vector<KindNumbers>& kinds,
                       double transfer_s) {
  layout_ = &layout;
  kinds_ = &kinds;
  StageTimesKey& key = times_;
  key.layout = &layout;
  key.transfer_s = transfer_s;
  key.times.clear();
  for (size_t k = 0; k < layout.representative.size(); ++k) {
    for (const ChunkTimes& t : kinds[k].times) {
      key.times.push_back(t.forward_s);
      key.times.push_back(t.backward_s);
    }
  }
  const double longest =
      std::max(key.transfer_s, *std::max_element(key.times.begin(), key.times.end()));
  int exponent = 0;
  if (longest > 0.0) std::frexp(longest, &exponent);
  down_ = std::ldexp(1.0, -exponent);  // a power of two: exact products
  for (double& t : key.times)
    t *= down_;
  key.transfer_s *= down_;
  if (const auto known = times_ids_.find(key); known != times_ids_.end()) {
    key_.times_id = known->second;
  } else {
    key_.times_id = next_times_id_++;
    if (times_ids_.size() < kMostKept) times_ids_.emplace(key, key_.times_id);
  }
  kind_times_.resize(layout.representative.size());
  for (size_t k = 0; k < kind_times_.size(); ++k) {
    kind_times_[k] = kinds[k].times;
    for (ChunkTimes& t : kind_times_[k]) {
      t.forward_s *= down_;
      t.backward_s *= down_;
    }
  }
}

StepTimes StepTimer::time(ScheduleEntry& schedule) {
  TimingKey& key = key_;
  key.schedule = schedule.schedule;
  key.family = family_of(schedule.order);
  auto [timed, timed_new] = schedule.recent_timings.get(key);
  if (timed_new) time_family(schedule, *timed);
  StepTimes result;
  result.bubble_fraction = timed->bubble_fraction;
  const std::vector<KindNumbers>& kinds = *kinds_;
  for (size_t k = 0; k < layout_->representative.size(); ++k) {
    result.step_time_s =
        std::max(result.step_time_s, timed->last_end_s[k] / down_ + kinds[k].after_steps_s);
  }
  return result;
}

/// The timing of `schedule`'s order with the (scaled) times in times_: moved from its
/// family's kept timing when it can be, else timed and kept when the family has none.
void StepTimer::time_family(const ScheduleEntry& schedule, TimingValue& timed) {
  const StageLayout& layout = *layout_;
  const size_t kind_count = layout.representative.size();
  const ScheduleOrder& order = schedule.order;
  const auto kept = timings_.find(key_);
  if (kept != timings_.end()) {
    const FamilyTiming& family = kept->second;
    if (family.repeat == order.repeat) {
      timed = family.value;
      return;
    }
    if (const std::optional<double> shift =
            family_shift(family.repeat, family.settled, order.repeat.copies)) {
      timed.last_end_s = family.value.last_end_s;
      for (double& end : timed.last_end_s)
        end += *shift;
      const double makespan = *std::max_element(timed.last_end_s.begin(), timed.last_end_s.end());
      timed.bubble_fraction = bubble_fraction(makespan, kind_times_, order.microbatches);
      return;
    }
  }
  const auto stages = static_cast<int64_t>(layout.kind.size());
  stage_times_.resize(stages);
  for (int64_t s = 0; s < stages; ++s)
    stage_times_[s] = kind_times_[layout.kind[s]];
  const PipelineTiming timing =
      time_order(order, stage_times_, times_.transfer_s, nullptr, &scratch_);
  timed.last_end_s.assign(kind_count, 0.0);
  for (int64_t s = 0; s < stages; ++s) {
    double& last = timed.last_end_s[layout.kind[s]];
    last = std::max(last, timing.end_s[s]);
  }
  timed.bubble_fraction = timing.bubble_fraction;
  // Kept: the family's first timing, or one that settled within the copies of its block,
  // which moves to every order of the family with as many copies or more.
  const SettledRun& settled = timing.settled;
  const bool within =
      settled.at >= 0 && settled.at <= order.repeat.at + order.repeat.copies * order.repeat.block;
  if (kept != timings_.end()) {
    if (within) kept->second = {timed, order.repeat, settled};
  } else if (timings_.size() < kMostKept) {
    timings_.emplace(key_, FamilyTiming{timed, order.repeat, settled});
  }
}

}  // namespace memsim::evaluation
