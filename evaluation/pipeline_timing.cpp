#include "evaluation/pipeline_timing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "sim/check.h"

namespace memsim::evaluation {

namespace {

/// A stage's time in steps: each of its chunks forward and backward once per microbatch.
double busy_s(const std::vector<ChunkTimes>& stage, int64_t microbatches) {
  double busy = 0.0;
  for (const ChunkTimes& t : stage)
    busy += t.forward_s + t.backward_s;
  return busy * static_cast<double>(microbatches);
}

/// Times entries one by one, and jumps over steady periods of runs.
class Timer {
 public:
  Timer(const ScheduleOrder& order, const std::vector<std::vector<ChunkTimes>>& times,
        double transfer_s, TimingScratch& scratch, std::vector<std::vector<double>>* starts,
        const Refocus* refocus = nullptr)
      : order_(&order),
        transfer_s_(transfer_s),
        ended_(scratch.ended(static_cast<size_t>(order.size()))),
        starts_(starts),
        refocus_(refocus) {
    const int64_t v = order.chunks_per_stage;
    durations_.resize(sim::kStepKinds * order.stages * v);
    for (int64_t s = 0; s < order.stages; ++s) {
      for (int64_t c = 0; c < v; ++c) {
        const ChunkTimes& t = times[s][c];
        double* slot = &durations_[sim::kStepKinds * (s * v + c)];
        slot[static_cast<int>(sim::StepKind::kForward)] = t.forward_s;
        slot[static_cast<int>(sim::StepKind::kBackward)] = t.backward_s;
        slot[static_cast<int>(sim::StepKind::kBackwardInput)] = t.backward_s - t.weight_s;
        slot[static_cast<int>(sim::StepKind::kBackwardWeight)] = t.weight_s;
      }
    }
    end_.assign(order.stages, 0.0);
  }

  /// Times the order; with `from`, its entries before `from` are taken up as the scratch
  /// has them (see resume_point).
  void run(bool jump, int64_t from) {
    MEMSIM_CHECK(from == 0 || (jump && starts_ == nullptr));
    int64_t k = from;
    if (from > 0) take_up(from);
    if (jump) {
      // Runs by place: a refocused order has as many, the same up to the one that settled.
      for (size_t r = 0; r < order_->runs.size(); ++r) {
        steps(k, order_->runs[r].begin);
        k = time_run(r, std::max(k, order_->runs[r].begin));
      }
    }
    steps(k, order_->size());
  }

  const ScheduleOrder& order() const { return *order_; }
  const std::vector<double>& end() const { return end_; }
  int64_t jumped() const { return jumped_; }
  int64_t taken_up() const { return taken_up_; }
  int64_t stepped_until() const { return first_jump_ >= 0 ? first_jump_ : order_->size(); }
  const SettledRun& settled() const { return settled_; }

 private:
  /// The state timing entries [0, from) one by one leaves: each stage's end, and, inside a
  /// run, each stage's end a period before (what the run's check for steadiness compares).
  void take_up(int64_t from) {
    taken_up_ = from;
    end_ = ends_before(from);
    for (const ScheduleOrder::Run& run : order_->runs) {
      if (run.begin < from && from < run.end) previous_end_ = ends_before(from - run.period);
    }
  }
  /// Each stage's end after the entries before k: its last step's end, or 0 before its first.
  std::vector<double> ends_before(int64_t k) const {
    std::vector<double> ends(order_->stages, 0.0);
    std::vector<bool> found(order_->stages, false);
    int64_t missing = order_->stages;
    for (int64_t x = k - 1; x >= 0 && missing > 0; --x) {
      const int32_t s = order_->timed[order_->source(x)].stage;
      if (found[s]) continue;
      found[s] = true;
      ends[s] = ended_[x];
      --missing;
    }
    return ends;
  }

  /// Times entries [k, end) one by one, in stretches whose entries come one after another
  /// in `timed`: a repeated block's copy, or what comes before or after the copies.
  void steps(int64_t k, int64_t end) {
    const ScheduleOrder::Repeat& repeat = order_->repeat;
    const int64_t copies_end = repeat.at + repeat.copies * repeat.block;
    while (k < end) {
      const int64_t source = order_->source(k);
      int64_t stretch = end;
      if (k < repeat.at && repeat.copies > 0) {
        stretch = std::min(end, repeat.at);
      } else if (k >= repeat.at && k < copies_end) {
        stretch = std::min(end, k + (repeat.at - source));  // to the copy's end
      }
      if (starts_ != nullptr) {
        time_stretch<true>(k, source, stretch);
      } else {
        time_stretch<false>(k, source, stretch);
      }
      k = stretch;
    }
  }

  /// Times entries [k, end), entry k being `timed[source]` and the rest the ones after it.
  template <bool kStarts>
  void time_stretch(int64_t k, int64_t source, int64_t end) {
    for (; k < end; ++k, ++source) {
      const ScheduleOrder::Timed& e = order_->timed[source];
      const double ready = e.wait_back > 0 ? ended_[k - e.wait_back] + transfer_s_ : 0.0;
      const double start = std::max(end_[e.stage], ready);
      if constexpr (kStarts) (*starts_)[e.stage][order_->entries[k].index] = start;
      end_[e.stage] = start + durations_[e.slot];
      ended_[k] = end_[e.stage];
    }
  }

  /// Times `run` from entry k (inside it) to its end, period by period; once the run is
  /// steady (steady_cycle), the remaining whole cycles are the last one shifted by λ each.
  int64_t time_run(size_t r, int64_t k) {
    ScheduleOrder::Run run = order_->runs[r];
    const int64_t period = run.period;
    // Periods needed before comparing: the recall window, and one before it.
    const int64_t settled = run.begin + (run.recall + 2) * period;
    for (; k + period <= run.end; k += period) {
      if (k >= settled) {
        if (std::optional<Steady> steady = steady_cycle(run, k)) {
          if (holds_repeat(run)) settle(run, k, *steady);
          if (settled_.at == k && refocus_ != nullptr) run = refocus(r, *steady);
          const int64_t cycles = (run.end - k) / steady->cycle.period;
          skip(steady->cycle, k, cycles, steady->lambda);
          k += cycles * steady->cycle.period;
          break;
        }
      }
      previous_end_.assign(end_.begin(), end_.end());
      steps(k, k + period);
    }
    steps(k, run.end);
    return std::max(k, run.end);
  }

  /// A run seen as repeating every `cycle.period` entries (some whole periods), and how much
  /// later each cycle ends than the one before.
  struct Steady {
    ScheduleOrder::Run cycle;
    double lambda;
  };

  /// Whether `run` holds the order's repeated block: it spans where the copies go.
  bool holds_repeat(const ScheduleOrder::Run& run) const {
    const ScheduleOrder::Repeat& repeat = order_->repeat;
    return repeat.copies > 0 && run.begin <= repeat.at &&
           repeat.at < run.end - repeat.copies * repeat.block;
  }

  /// Finishes timing the order refocus_ names instead, if any, from entry settled_.at of
  /// run `r` (the same steps up to there); returns the run as it is in the order timed.
  ScheduleOrder::Run refocus(size_t r, Steady& steady) {
    const ScheduleOrder* other = (*refocus_)(settled_);
    if (other != nullptr && other != order_) {
      // A shorter order of the family: the same short order, fewer copies of its block.
      MEMSIM_CHECK(other->runs.size() == order_->runs.size() &&
                   other->timed.size() == order_->timed.size() && other->size() <= order_->size());
      order_ = other;
      settled_.end = order_->runs[r].end;
      steady.cycle.end = order_->runs[r].end;
    }
    return order_->runs[r];
  }

  /// Keeps where the run holding the repeat settled, when every stage steps in a cycle (so
  /// that every stage's end moves on with more cycles).
  void settle(const ScheduleOrder::Run& run, int64_t k, const Steady& steady) {
    std::vector<bool> seen(order_->stages, false);
    for (int64_t x = k - steady.cycle.period; x < k; ++x)
      seen[order_->timed[order_->source(x)].stage] = true;
    if (std::find(seen.begin(), seen.end(), false) != seen.end()) return;
    settled_ = {k, steady.cycle.period, run.period, run.end, steady.lambda};
  }

  /// Whether `run` is steady at entry k: its last period the one before shifted by λ, or
  /// else its last c periods the c before shifted by λ for the fewest c up to the number of
  /// chunks (uneven stages can settle into a cycle of several periods: a pipeline of 16
  /// slower stages and 16 faster ones does, every 16 periods).
  std::optional<Steady> steady_cycle(const ScheduleOrder::Run& run, int64_t k) const {
    if (const double lambda = steady_shift(run, k); lambda >= 0.0) return Steady{run, lambda};
    // Cycles of several periods are looked for every fourth period (found at most three
    // periods late): looking tries every length up to the stages × chunks.
    if ((k - run.begin) / run.period % 4 != 0) return std::nullopt;
    const double tolerance = 1e-13 * std::abs(ended_[k - 1]);
    const int64_t most = order_->stages * order_->chunks_per_stage;
    for (int64_t c = 2; c <= most; ++c) {
      ScheduleOrder::Run cycle = run;
      cycle.period = c * run.period;
      // The window later steps read, and at least the last period (every stage's end).
      cycle.recall = std::max<int64_t>(1, (run.recall + c - 1) / c);
      if (k < run.begin + (cycle.recall + 2) * cycle.period) break;  // too few cycles yet
      const double lambda = ended_[k - 1] - ended_[k - 1 - cycle.period];
      auto same = [&](int64_t x) {
        return std::abs(ended_[x] - ended_[x - cycle.period] - lambda) <= tolerance;
      };
      // One step a period before first: most c fail there.
      if (!same(k - 1 - run.period)) continue;
      int64_t x = k - cycle.recall * cycle.period;
      while (x < k && same(x))
        ++x;
      if (x == k) return Steady{cycle, lambda};
    }
    return std::nullopt;
  }

  /// λ when the period ending at entry k is the one before shifted by λ (within rounding),
  /// else -1.
  double steady_shift(const ScheduleOrder::Run& run, int64_t k) const {
    const int64_t period = run.period;
    const double lambda = ended_[k - 1] - ended_[k - 1 - period];
    const double tolerance = 1e-13 * std::abs(ended_[k - 1]);
    auto same = [&](double shift) { return std::abs(shift - lambda) <= tolerance; };
    for (int64_t x = k - run.recall * period; x < k; ++x) {
      if (!same(ended_[x] - ended_[x - period])) return -1.0;
    }
    // Every stage of the run moved on by λ too.
    for (int64_t x = k - period; x < k; ++x) {
      const int32_t s = order_->timed[order_->source(x)].stage;
      if (!same(end_[s] - previous_end_[s])) return -1.0;
    }
    return lambda;
  }

  /// Jumps `periods` periods from entry k: stage ends move on by λ each; the steps that later
  /// steps wait for (the last `recall` periods) and, for a timeline, every start, are the
  /// last timed period's shifted.
  void skip(const ScheduleOrder::Run& run, int64_t k, int64_t periods, double lambda) {
    const int64_t period = run.period;
    const int64_t to = k + periods * period;
    std::vector<bool> moved(order_->stages, false);
    for (int64_t x = k - period; x < k; ++x)
      moved[order_->timed[order_->source(x)].stage] = true;
    for (int64_t s = 0; s < order_->stages; ++s) {
      if (moved[s]) end_[s] += static_cast<double>(periods) * lambda;
    }
    jumped_ += to - k;
    if (first_jump_ < 0) first_jump_ = k;
    for (int64_t x = std::max(k, to - run.recall * period); x < to; ++x) {
      const int64_t shift = (x - k) / period + 1;
      ended_[x] = ended_[x - shift * period] + static_cast<double>(shift) * lambda;
    }
    if (starts_ != nullptr) {
      for (int64_t x = k; x < to; ++x) {
        const int64_t shift = (x - k) / period + 1;
        const ScheduleOrder::Entry& e = order_->entries[x];
        const ScheduleOrder::Entry& like = order_->entries[x - shift * period];
        (*starts_)[e.stage][e.index] =
            (*starts_)[like.stage][like.index] + static_cast<double>(shift) * lambda;
      }
    }
  }

  const ScheduleOrder* order_;  ///< the order timed (another, once refocused)
  double transfer_s_;
  double* ended_;  ///< the scratch's: every position read is written first (or taken up)
  std::vector<std::vector<double>>* starts_;
  std::vector<double> durations_;
  std::vector<double> end_;
  std::vector<double> previous_end_;  ///< at the start of the last period timed
  const Refocus* refocus_;
  int64_t jumped_ = 0;  ///< entries jumped over
  int64_t first_jump_ = -1;
  int64_t taken_up_ = 0;  ///< entries taken up from the scratch
  SettledRun settled_;
};

}  // namespace

std::optional<double> family_shift(const ScheduleOrder::Repeat& timed, const SettledRun& settled,
                                   int64_t copies) {
  if (settled.at < 0) return std::nullopt;
  // Both orders time the same entries up to `at`, and the other's run is long enough to be
  // found steady there too.
  if (settled.at > timed.at + std::min(timed.copies, copies) * timed.block) return std::nullopt;
  const int64_t more = (copies - timed.copies) * timed.block;
  if (settled.end + more < settled.at + settled.period) return std::nullopt;
  // Then it jumps as many whole cycles more, and the steps after it are the same steps.
  if (more % settled.cycle != 0) return std::nullopt;
  return static_cast<double>(more / settled.cycle) * settled.lambda;
}

int64_t resume_point(const ScheduleOrder& order, const std::vector<ScheduleOrder::Run>& runs,
                     int64_t stepped, int64_t common) {
  using Run = ScheduleOrder::Run;
  const int64_t limit = std::min(stepped, common);
  const auto begin = [](const Run* run) {
    return run != nullptr ? run->begin : std::numeric_limits<int64_t>::max();
  };
  int64_t k = 0;  // both timings have stepped one by one up to here, past the runs before r
  for (size_t r = 0;; ++r) {
    const Run* mine = r < order.runs.size() ? &order.runs[r] : nullptr;
    const Run* other = r < runs.size() ? &runs[r] : nullptr;
    // Up to the next run of either, both time one by one.
    const int64_t first = std::min(begin(mine), begin(other));
    if (limit <= first) return limit;
    if (k > first) return 0;  // runs that overlap (find_runs finds none): not worth the care
    if (mine == nullptr || other == nullptr || mine->begin != other->begin ||
        mine->period != other->period || mine->recall != other->recall) {
      return first;
    }
    // A run of both, checked alike at each period's start while it lasts in both: take up
    // at the last such start (or past the run, when it ends alike before the limit).
    if (mine->end == other->end && limit >= mine->end) {
      k = mine->end;
      continue;
    }
    const int64_t end = std::min({limit, mine->end, other->end});
    return first + (end - first) / mine->period * mine->period;
  }
}

double bubble_fraction(double makespan_s, const std::vector<std::vector<ChunkTimes>>& times,
                       int64_t microbatches) {
  double idle = 0.0;
  if (makespan_s <= 0.0) return idle;
  for (const std::vector<ChunkTimes>& stage : times)
    idle = std::max(idle, (makespan_s - busy_s(stage, microbatches)) / makespan_s);
  return idle;
}

namespace {

/// What `timer` found, timing its order with `times`.
PipelineTiming timing_of(const Timer& timer, const std::vector<std::vector<ChunkTimes>>& times) {
  const ScheduleOrder& order = timer.order();
  PipelineTiming timing;
  timing.end_s = timer.end();
  timing.steps_timed = order.size() - timer.jumped() - timer.taken_up();
  timing.stepped_until = timer.stepped_until();
  timing.settled = timer.settled();
  timing.busy_s.assign(order.stages, 0.0);
  for (int64_t s = 0; s < order.stages; ++s)
    timing.busy_s[s] = busy_s(times[s], order.microbatches);
  timing.makespan_s = *std::max_element(timing.end_s.begin(), timing.end_s.end());
  timing.bubble_fraction = bubble_fraction(timing.makespan_s, times, order.microbatches);
  return timing;
}

}  // namespace

PipelineTiming time_order(const ScheduleOrder& order,
                          const std::vector<std::vector<ChunkTimes>>& times, double transfer_s,
                          std::vector<std::vector<double>>* starts, TimingScratch* scratch,
                          bool jump, int64_t from) {
  TimingScratch own;
  MEMSIM_CHECK(starts == nullptr || static_cast<int64_t>(order.entries.size()) == order.size());
  MEMSIM_CHECK(from == 0 || scratch != nullptr);
  Timer timer(order, times, transfer_s, scratch != nullptr ? *scratch : own, starts);
  timer.run(jump, from);
  return timing_of(timer, times);
}

PipelineTiming time_order_refocused(const ScheduleOrder& order,
                                    const std::vector<std::vector<ChunkTimes>>& times,
                                    double transfer_s, TimingScratch& scratch,
                                    const Refocus& refocus, const ScheduleOrder*& timed,
                                    int64_t from) {
  Timer timer(order, times, transfer_s, scratch, nullptr, &refocus);
  timer.run(true, from);
  timed = &timer.order();
  return timing_of(timer, times);
}

PipelineTiming time_schedule(const strategies::ScheduleInfo& schedule,
                             const std::vector<std::vector<sim::ScheduledStep>>& steps,
                             const std::vector<std::vector<ChunkTimes>>& times, double transfer_s,
                             std::vector<std::vector<double>>* starts) {
  if (starts != nullptr) {
    starts->assign(steps.size(), {});
    for (size_t s = 0; s < steps.size(); ++s)
      (*starts)[s].assign(steps[s].size(), 0.0);
  }
  const auto chunks_per_stage = static_cast<int64_t>(times.front().size());
  return time_order(order_schedule(schedule, steps, chunks_per_stage), times, transfer_s, starts);
}

}  // namespace memsim::evaluation
