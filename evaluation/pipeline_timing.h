#pragma once
/// Times a pipeline schedule: every stage runs its steps in order; a step starts once its
/// stage is free and the step it depends on has ended and its activations (or gradients)
/// have arrived: a forward waits for the same microbatch's forward through the previous
/// chunk, a backward (or input step) for its backward through the next chunk (the last
/// chunk's backward follows its own forward); a weight step follows its own input step.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <new>
#include <optional>
#include <vector>

#include "evaluation/schedule_order.h"
#include "sim/rank_program.h"

namespace memsim::evaluation {

struct ChunkTimes {
  double forward_s = 0.0;
  double backward_s = 0.0;  ///< recomputation included
  /// What a split backward's weight step takes of backward_s (the input step the rest).
  double weight_s = 0.0;
  bool operator==(const ChunkTimes&) const = default;
  /// Every time multiplied by `factor`.
  void scale(double factor) {
    forward_s *= factor;
    backward_s *= factor;
    weight_s *= factor;
  }
  double longest() const { return std::max({forward_s, backward_s, weight_s}); }
};

/// Where the run holding a long order's repeated block (see ScheduleOrder::Repeat) was found
/// steady: from entry `at` on, every `cycle` entries end every stage `lambda` later.
struct SettledRun {
  int64_t at = -1;  ///< -1: it never was, or some stage has no step in a cycle
  int64_t cycle = 0;
  int64_t period = 0;  ///< the run's
  int64_t end = 0;     ///< the run's end
  double lambda = 0.0;
};

struct PipelineTiming {
  std::vector<double> busy_s;  ///< per stage: time in steps
  std::vector<double> end_s;   ///< per stage: when its last step ends
  double makespan_s = 0.0;     ///< when the last stage finishes its last step
  /// The idle share of the makespan on the stage that idles most.
  double bubble_fraction = 0.0;
  int64_t steps_timed = 0;  ///< one by one; the others were jumped over or taken up
  /// The scratch holds this timing's end times, each step timed one by one, up to this entry
  /// (where the timing first jumped, or the order's end): see resume_point.
  int64_t stepped_until = 0;
  SettledRun settled;
};

/// What time_order reuses from one call to the next: room for the steps' end times. It
/// grows without clearing, and by realloc, which moves a large block's pages instead of
/// copying them: a sweep times longer and longer orders (up to half a million steps), and
/// clearing and copying each larger room touched every page of it. A timing writes every
/// end time before reading it, or takes it up from the last timing (resume_point).
class TimingScratch {
 public:
  TimingScratch() = default;
  TimingScratch(const TimingScratch&) = delete;
  TimingScratch& operator=(const TimingScratch&) = delete;
  ~TimingScratch() { std::free(ended_); }
  /// Room for `n` end times, the ones already there kept.
  double* ended(size_t n) {
    if (n > capacity_) {
      void* grown = std::realloc(ended_, n * sizeof(double));
      if (grown == nullptr) throw std::bad_alloc();
      ended_ = static_cast<double*>(grown);
      capacity_ = n;
    }
    return ended_;
  }

 private:
  double* ended_ = nullptr;
  size_t capacity_ = 0;
};

/// Times a schedule in `order` (see time_schedule). `scratch`, when given, is reused for
/// the steps' end times instead of allocating; asking for `starts` needs the order's
/// entries. `jump`: skip steady periods (see ScheduleOrder);
/// off, every step is timed one by one (the plain list scheduling). `from` > 0 takes up the
/// end times of the entries before it from the scratch (see resume_point), with `jump`.
PipelineTiming time_order(const ScheduleOrder& order,
                          const std::vector<std::vector<ChunkTimes>>& times, double transfer_s,
                          std::vector<std::vector<double>>* starts = nullptr,
                          TimingScratch* scratch = nullptr, bool jump = true, int64_t from = 0);

/// Where a timing of `order` can take up the end times that a timing of another order, on
/// the same stage times, left in the scratch: the orders have their first `common` entries
/// alike, the other's runs are `runs`, and its steps were timed one by one up to `stepped`
/// (PipelineTiming::stepped_until). Up to the entry returned, timing either order takes the
/// same steps and makes the same checks for steadiness, so the timing taken up there is the
/// timing from the start, bit for bit. 0: nowhere past the start.
int64_t resume_point(const ScheduleOrder& order, const std::vector<ScheduleOrder::Run>& runs,
                     int64_t stepped, int64_t common);

/// Another order of the same family to finish timing in place of the one being timed, told
/// where that one settled (SettledRun), or none. Both time the same steps up to there.
using Refocus = std::function<const ScheduleOrder*(const SettledRun& settled)>;
/// time_order of `order` (no starts), or, once it settles, of the order `refocus` names:
/// its timing, without timing its steps before the settling entry again. `timed` is set to
/// the order the timing is of. `from`: as for time_order.
PipelineTiming time_order_refocused(const ScheduleOrder& order,
                                    const std::vector<std::vector<ChunkTimes>>& times,
                                    double transfer_s, TimingScratch& scratch,
                                    const Refocus& refocus, const ScheduleOrder*& timed,
                                    int64_t from = 0);

/// The seconds every stage's end moves between a timing of an order of a family (`timed`
/// its repeat, `settled` from its timing) and the family's order with `copies` copies of the
/// block, without timing it: once the run is steady, more copies only add whole cycles
/// (max-plus timing is shift-invariant). None when that order would be found steady at
/// another entry (its steps before `settled.at` differ) or would end part-way through a cycle.
std::optional<double> family_shift(const ScheduleOrder::Repeat& timed, const SettledRun& settled,
                                   int64_t copies);

/// The idle share of `makespan_s` on the stage that idles most, each stage busy with its
/// chunks' forwards and backwards of every microbatch (`times` per stage, or per kind of
/// stage with equal times).
double bubble_fraction(double makespan_s, const std::vector<std::vector<ChunkTimes>>& times,
                       int64_t microbatches);

/// Times `steps` of `schedule` (per stage, in order); `times[stage][chunk]` are per local
/// chunk, placed as the schedule places them (strategies::model_chunk); `transfer_s` is the
/// point-to-point time between stages. With `starts`, each step's start time is written there.
PipelineTiming time_schedule(const strategies::ScheduleInfo& schedule,
                             const std::vector<std::vector<sim::ScheduledStep>>& steps,
                             const std::vector<std::vector<ChunkTimes>>& times, double transfer_s,
                             std::vector<std::vector<double>>* starts = nullptr);

}  // namespace memsim::evaluation
