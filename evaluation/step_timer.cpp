#include "evaluation/step_timer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
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
  double longest = key.transfer_s;
  for (size_t k = 0; k < layout.representative.size(); ++k) {
    for (const ChunkTimes& t : kinds[k].times) {
      key.times.push_back(t);
      longest = std::max(longest, t.longest());
    }
  }
  int exponent = 0;
  if (longest > 0.0) std::frexp(longest, &exponent);
  down_ = std::ldexp(1.0, -exponent);  // a power of two: exact products
  for (ChunkTimes& t : key.times)
    t.scale(down_);
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
    for (ChunkTimes& t : kind_times_[k])
      t.scale(down_);
  }
}

StepTimes StepTimer::time(ScheduleEntry& schedule, const Siblings& siblings) {
  // The entry is one schedule and order: its recent timings differ in their stage times.
  auto [timed, timed_new] = schedule.recent_timings.get(key_.times_id);
  if (timed_new) {
    key_.schedule = schedule.schedule;
    key_.family = family_of(schedule.order);
    *timed = family_timing(schedule.order, siblings);
  }
  StepTimes result;
  result.bubble_fraction = timed->bubble_fraction;
  const std::vector<KindNumbers>& kinds = *kinds_;
  for (size_t k = 0; k < layout_->representative.size(); ++k) {
    result.step_time_s =
        std::max(result.step_time_s, timed->last_end_s[k] / down_ + kinds[k].after_steps_s);
  }
  return result;
}

int64_t StepTimer::take_up_point(const ScheduleOrder& order, bool kept) {
  if (stepped_.order == nullptr || stepped_.times_id != key_.times_id) return 0;
  // Only kept orders are known by address: another order may take a passing one's.
  const OrderPair pair{stepped_.order, &order};
  const auto known = kept ? common_.find(pair) : common_.end();
  const int64_t common =
      known != common_.end() ? known->second : common_entries(*stepped_.order, order);
  if (kept && known == common_.end() && common_.size() < kMostKept) common_.emplace(pair, common);
  return resume_point(order, stepped_.order->runs, stepped_.stepped, common);
}

/// `order` timed step by step (jumping over steady runs), with the times in times_, from
/// where the last timing's end times can be taken up; with `refocus`, the order it names
/// once `order` settles (see time_order_refocused).
StepTimer::Timed StepTimer::time_directly(const ScheduleOrder& order, const Refocus* refocus,
                                          bool kept) {
  const StageLayout& layout = *layout_;
  const auto stages = static_cast<int64_t>(layout.kind.size());
  stage_times_.resize(stages);
  for (int64_t s = 0; s < stages; ++s)
    stage_times_[s] = kind_times_[layout.kind[s]];
  Timed timed;
  const ScheduleOrder* timed_order = &order;
  const int64_t from = take_up_point(order, kept);
  const PipelineTiming timing =
      refocus != nullptr
          ? time_order_refocused(order, stage_times_, times_.transfer_s, scratch_, *refocus,
                                 timed_order, from)
          : time_order(order, stage_times_, times_.transfer_s, nullptr, &scratch_, true, from);
  stepped_ = {kept ? &order : nullptr, key_.times_id, timing.stepped_until};
  timed.repeat = timed_order->repeat;
  timed.value.last_end_s.assign(layout.representative.size(), 0.0);
  for (int64_t s = 0; s < stages; ++s) {
    double& last = timed.value.last_end_s[layout.kind[s]];
    last = std::max(last, timing.end_s[s]);
  }
  timed.value.bubble_fraction = timing.bubble_fraction;
  timed.settled = timing.settled;
  return timed;
}

/// The timing of `order` with the (scaled) times in times_: moved from the least order of
/// its class in its family when the family settles and the order holds where, else timed.
TimingValue StepTimer::family_timing(const ScheduleOrder& order, const Siblings& siblings) {
  auto known = families_.find(key_);
  std::optional<FamilyTimings> unkept;
  FamilyTimings* family = known != families_.end() ? &known->second : nullptr;
  if (family == nullptr) {
    // Timed until it settles; if it does within its copies, the family is found, and the
    // timing goes on as its class's least order's (the same steps up to there).
    const ScheduleOrder::Repeat& repeat = order.repeat;
    std::optional<FamilyTimings> found;
    std::optional<ScheduleOrder> least_order;
    const Refocus refocus = [&](const SettledRun& settled) -> const ScheduleOrder* {
      if (settled.at < 0 || repeat.copies == 0 ||
          settled.at > repeat.at + repeat.copies * repeat.block)
        return nullptr;
      found = family_of_settled(settled, order);
      const int64_t least = least_in_class(*found, repeat.copies);
      if (least == repeat.copies) return nullptr;
      least_order = with_copies(order, least, siblings);
      return &*least_order;
    };
    Timed timed = time_directly(order, &refocus, true);
    if (!found) return timed.value;
    found->least[timed.repeat.copies % found->unit] = std::move(timed);
    if (families_.size() < kMostKept) {
      family = &families_.emplace(key_, std::move(*found)).first->second;
    } else {
      family = &unkept.emplace(std::move(*found));
    }
  }
  if (order.repeat.copies >= family->least_copies) {
    if (const std::optional<Timed>& least = least_of_class(*family, order, siblings)) {
      if (least->repeat == order.repeat) return least->value;
      if (const std::optional<double> shift =
              family_shift(least->repeat, least->settled, order.repeat.copies)) {
        TimingValue moved = least->value;
        for (double& end : moved.last_end_s)
          end += *shift;
        const double makespan = *std::max_element(moved.last_end_s.begin(), moved.last_end_s.end());
        moved.bubble_fraction = bubble_fraction(makespan, kind_times_, order.microbatches);
        return moved;
      }
    }
  }
  return time_directly(order, nullptr, true).value;
}

/// What `settled`, found timing `order`, tells of its family: every order of it with at
/// least `least_copies` copies settles at the same entry, after the same steps.
StepTimer::FamilyTimings StepTimer::family_of_settled(const SettledRun& settled,
                                                      const ScheduleOrder& order) const {
  const ScheduleOrder::Repeat& repeat = order.repeat;
  FamilyTimings family;
  family.settled = settled;
  family.unit = settled.cycle / std::gcd(settled.cycle, repeat.block);
  // It must hold the entry, and its run must go on a period past it (where the run ends
  // moves with the copies); and it must be a long order of the family (order_of makes
  // those of two copies or more).
  const int64_t hold = (settled.at - repeat.at + repeat.block - 1) / repeat.block;
  const int64_t spare = (settled.end - settled.at - settled.period) / repeat.block;
  family.least_copies = std::max<int64_t>({2, hold, repeat.copies - spare});
  return family;
}

int64_t StepTimer::least_in_class(const FamilyTimings& family, int64_t copies) {
  const int64_t unit = family.unit;
  return family.least_copies + ((copies - family.least_copies) % unit + unit) % unit;
}

const std::optional<StepTimer::Timed>& StepTimer::least_of_class(FamilyTimings& family,
                                                                 const ScheduleOrder& order,
                                                                 const Siblings& siblings) {
  const int64_t copies = order.repeat.copies;
  const int64_t residue = copies % family.unit;
  auto [at, fresh] = family.least.try_emplace(residue);
  if (!fresh) return at->second;
  const int64_t least = least_in_class(family, copies);
  Timed timed = least == copies
                    ? time_directly(order, nullptr, true)
                    : time_directly(with_copies(order, least, siblings), nullptr, false);
  if (timed.settled.at == family.settled.at) at->second = std::move(timed);
  return at->second;
}

ScheduleOrder StepTimer::with_copies(const ScheduleOrder& order, int64_t copies,
                                     const Siblings& siblings) {
  const ScheduleOrder::Repeat& repeat = order.repeat;
  return siblings(order.microbatches - (repeat.copies - copies) * repeat.group);
}

}  // namespace memsim::evaluation
