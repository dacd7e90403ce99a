#pragma once
/// The orders in which a pipeline schedule's steps can be timed (see ScheduleOrder), made
/// once per schedule, stages and microbatches, and for a sweep from seeds shared by every
/// microbatch count of a family.

#include <cstdint>
#include <vector>

#include "sim/rank_program.h"
#include "strategies/schedules.h"

namespace memsim::evaluation {

/// The order in which the steps of a schedule can be timed: each step after its stage's
/// previous step and after the step it waits for. It depends only on the schedule, so it can
/// be derived once and reused for any step times.
///
/// Steps are ordered by when they would start with unit times, so the steady middle of a
/// schedule is a run of identical periods, each the one before shifted by some
/// microbatches. Timing such a run reaches a steady state in which every period ends the
/// same time λ after the one before (max-plus algebra: the step ends are a max-plus linear
/// recurrence, eventually periodic); from there on the timing jumps to the run's end
/// instead of stepping through it, which makes timing O(p²) rather than O(p·m).
struct ScheduleOrder {
  struct Entry {
    int32_t stage;
    int32_t chunk;  ///< local to the stage
    sim::StepKind kind;
    /// Position (in entries) of the step on another stage it waits for (plus a transfer),
    /// or -1.
    int32_t wait_for;
    int32_t index;  ///< its place in its stage's steps
    bool operator==(const Entry&) const = default;
  };
  /// Entries [begin, end) where entry k + period is entry k shifted; each waits for a step at
  /// most `recall` periods back in the run, or an earlier step of its own stage.
  struct Run {
    int64_t begin = 0;
    int64_t end = 0;
    int64_t period = 0;
    int64_t recall = 0;
    bool operator==(const Run&) const = default;
  };
  /// What timing reads of an entry, packed to be read fast: how many entries back the step
  /// it waits for is (0: none), its stage, and where its duration is
  /// (kStepKinds·(stage·chunks_per_stage + chunk) + kind). The distance back, unlike a position,
  /// is the same in every repeat of a steady block.
  struct Timed {
    int32_t wait_back;
    int32_t stage;
    int32_t slot;
    bool operator==(const Timed&) const = default;
  };
  /// A long order is a short one with its steady block, the `block` entries before `at`,
  /// repeated `copies` more times at `at`: timing reads it in place of O(p·m) entries.
  struct Repeat {
    int64_t at = 0;
    int64_t block = 0;
    int64_t copies = 0;
    int64_t group = 0;  ///< microbatches a copy adds
    bool operator==(const Repeat&) const = default;
  };
  std::vector<Entry> entries;  ///< every entry (kEntries) or none
  std::vector<Timed> timed;    ///< the short order's, `repeat` making it the whole order
  Repeat repeat;
  std::vector<Run> runs;
  int64_t stages = 0;
  int64_t chunks_per_stage = 1;
  int64_t microbatches = 0;

  /// Entries in the whole order.
  int64_t size() const { return static_cast<int64_t>(timed.size()) + repeat.copies * repeat.block; }
  /// Where in `timed` entry k of the whole order is.
  int64_t source(int64_t k) const {
    if (k < repeat.at) return k;
    const int64_t repeated = k - repeat.at;
    if (repeated < repeat.copies * repeat.block)
      return repeat.at - repeat.block + repeated % repeat.block;
    return k - repeat.copies * repeat.block;
  }
};

/// What orders of one family share: the same short order, its block repeated any number of
/// times (a schedule on the same stages, microbatch counts a whole number of groups apart).
struct OrderFamily {
  int64_t stages = 0;
  int64_t chunks_per_stage = 0;
  int64_t short_microbatches = 0;
  int64_t repeat_at = 0;
  int64_t block = 0;
  bool operator==(const OrderFamily&) const = default;
};
OrderFamily family_of(const ScheduleOrder& order);

/// How many first entries two orders have alike, as timing reads them (see Timed): the same
/// steps, waiting alike. Orders of one schedule with different microbatch counts share their
/// start: on 64 stages, 1F1B's order of 256 microbatches has 80% of the one of 128 first.
int64_t common_entries(const ScheduleOrder& a, const ScheduleOrder& b);

/// The order of `steps`, every stage's steps of `schedule` (which places their chunks).
ScheduleOrder order_schedule(const strategies::ScheduleInfo& schedule,
                             const std::vector<std::vector<sim::ScheduledStep>>& steps,
                             int64_t chunks_per_stage);

/// The order of `schedule` on `stages` stages of `chunks` chunks with `microbatches`, equal
/// to order_schedule of its steps. A long one is extended from shorter ones: when the orders
/// of m₀, m₀ + g and m₀ + 2g microbatches (g = 1, or p for groups of p) are each the one
/// before with the same block of entries repeated (its waits and stage places moved on),
/// further groups repeat it again: `timed` stays the short order's, in O(p²) (see Repeat).
/// `kTimingOnly` leaves a long order's `entries` out (timing reads `timed` and `runs`; a
/// timeline's starts need the entries, listed in O(p·m) copies).
enum class OrderDetail { kEntries, kTimingOnly };
ScheduleOrder order_of(const strategies::ScheduleInfo& schedule, int64_t stages, int64_t chunks,
                       int64_t microbatches, OrderDetail detail = OrderDetail::kEntries);

/// What order_of extends a schedule's long orders from: its order of `shortest`
/// microbatches, and where a group more repeats a block (found from the orders one and two
/// groups longer). Every microbatch count a whole number of groups from `shortest` shares
/// them, so a sweep makes them once per schedule and stages.
struct OrderSeeds {
  const strategies::ScheduleInfo* schedule = nullptr;
  int64_t stages = 0;
  int64_t chunks = 0;
  int64_t group = 1;  ///< microbatches that go through the schedule alike
  int64_t shortest = 0;
  ScheduleOrder first;       ///< of `shortest` microbatches
  int64_t at = -1;           ///< where the repeated block ends; -1: the orders repeat none
  int64_t block = 0;         ///< entries a group adds
  int64_t same = 0;          ///< entries the first two orders share before they differ
  bool runs_repeat = false;  ///< their runs move on with the block too
};
/// Whether order_of makes the order of `microbatches` from seeds (else step by step: a
/// short one).
bool extends_from_seeds(const strategies::ScheduleInfo& schedule, int64_t stages,
                        int64_t microbatches);
/// The seeds of `microbatches` microbatches' order (its count modulo the group picks them).
OrderSeeds order_seeds(const strategies::ScheduleInfo& schedule, int64_t stages, int64_t chunks,
                       int64_t microbatches);
/// order_of, from the seeds of `microbatches`.
ScheduleOrder order_of(const OrderSeeds& seeds, int64_t microbatches,
                       OrderDetail detail = OrderDetail::kEntries);

}  // namespace memsim::evaluation
