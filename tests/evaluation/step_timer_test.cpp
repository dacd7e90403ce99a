// Timing a sweep's steps: a step timer keeps timings per order family and stage times, and
// what it answers must be what timing the plan's own order gives, whichever plans came
// before (a family's other microbatch counts, other stage times).

#include "evaluation/step_timer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <utility>

#include <doctest/doctest.h>

#include "strategies/schedules.h"

namespace {

using memsim::evaluation::ChunkTimes;
using memsim::evaluation::StepTimer;
using memsim::evaluation::fast::KindNumbers;
using memsim::evaluation::fast::ScheduleEntry;
using memsim::evaluation::fast::ScheduleKey;
using memsim::evaluation::fast::StageLayout;

/// p stages of three kinds: the first, the middle ones, the last.
StageLayout three_kinds(int64_t p) {
  StageLayout layout;
  layout.shapes.resize(p);
  for (int64_t s = 0; s < p; ++s)
    layout.kind.push_back(s == 0 ? 0 : (s + 1 == p ? 2 : 1));
  layout.representative = {0, 1, p - 1};
  layout.extent.resize(3);
  return layout;
}

/// Schedule entries of 1F1B on p stages, made on first use (at stable addresses).
class Entries {
 public:
  explicit Entries(int64_t p) : p_(p) {}
  ScheduleEntry& get(int64_t m) {
    auto found = entries_.find(m);
    if (found != entries_.end()) return found->second;
    const ScheduleKey key{m, schedule_, p_, 1};
    const bool extends = memsim::evaluation::extends_from_seeds(*schedule_, p_, m);
    const auto seeds = memsim::evaluation::order_seeds(*schedule_, p_, 1, m);
    return entries_
        .emplace(m,
                 memsim::evaluation::fast::schedule_entry(key, extends ? &seeds : nullptr, nullptr))
        .first->second;
  }
  StepTimer::Siblings siblings() {
    return [this](int64_t m) { return get(m).order; };
  }

 private:
  const memsim::strategies::ScheduleInfo* schedule_ = memsim::strategies::find_schedule("1f1b");
  int64_t p_;
  std::map<int64_t, ScheduleEntry> entries_;
};

/// Random times for the three kinds of stage.
std::vector<KindNumbers> random_kinds(std::mt19937& rng) {
  std::uniform_real_distribution<double> time(0.05, 1.0);
  std::vector<KindNumbers> kinds(3);
  for (KindNumbers& kind : kinds) {
    kind.times = {ChunkTimes{time(rng), 2.0 * time(rng)}};
    kind.after_steps_s = 0.1 * time(rng);
  }
  return kinds;
}

}  // namespace

TEST_CASE("a step timer answers what timing each plan's own order gives") {
  std::mt19937 rng(20261203);
  std::uniform_real_distribution<double> time(0.05, 1.0);
  const int64_t p = 8;
  const StageLayout layout = three_kinds(p);
  StepTimer timer;
  Entries entries(p);
  const std::vector<int64_t> microbatches = {4, 8, 32, 64, 128, 256, 1024};
  for (int trial = 0; trial < 8; ++trial) {
    CAPTURE(trial);
    const std::vector<KindNumbers> kinds = random_kinds(rng);
    const double transfer = 0.01 * time(rng);
    timer.stages(layout, kinds, transfer);
    // Each microbatch count twice, the family's longer orders after shorter ones.
    for (int pass = 0; pass < 2; ++pass) {
      for (const int64_t m : microbatches) {
        CAPTURE(m);
        const auto answer = timer.time(entries.get(m), entries.siblings());
        std::vector<std::vector<ChunkTimes>> stage_times(p);
        for (int64_t s = 0; s < p; ++s)
          stage_times[s] = kinds[layout.kind[s]].times;
        const auto timed =
            memsim::evaluation::time_order(entries.get(m).order, stage_times, transfer);
        double step = 0.0;
        for (int64_t s = 0; s < p; ++s)
          step = std::max(step, timed.end_s[s] + kinds[layout.kind[s]].after_steps_s);
        CHECK(answer.step_time_s == doctest::Approx(step).epsilon(1e-12));
        CHECK(answer.bubble_fraction == doctest::Approx(timed.bubble_fraction).epsilon(1e-9));
      }
    }
  }
}

TEST_CASE("a step timer's answers do not depend on the orders timed before") {
  // A sweep's threads each meet a family's microbatch counts in their own order: every
  // answer must be the same to the last bit (else rows would depend on the threads).
  std::mt19937 rng(20261202);
  for (const int64_t p : {4, 8, 12}) {
    CAPTURE(p);
    const StageLayout layout = three_kinds(p);
    std::vector<int64_t> microbatches;
    for (int64_t m = 2 * p; m <= 40 * p; m += 3)
      microbatches.push_back(m);
    for (int trial = 0; trial < 4; ++trial) {
      const std::vector<KindNumbers> kinds = random_kinds(rng);
      std::map<int64_t, std::pair<double, double>> first;
      for (int visit = 0; visit < 3; ++visit) {
        CAPTURE(visit);
        std::vector<int64_t> order = microbatches;
        if (visit == 1) std::reverse(order.begin(), order.end());
        if (visit == 2) std::shuffle(order.begin(), order.end(), rng);
        StepTimer timer;
        Entries entries(p);
        timer.stages(layout, kinds, 0.003);
        for (const int64_t m : order) {
          CAPTURE(m);
          const auto answer = timer.time(entries.get(m), entries.siblings());
          const auto [known, fresh] =
              first.try_emplace(m, answer.step_time_s, answer.bubble_fraction);
          if (fresh) continue;
          CHECK(answer.step_time_s == known->second.first);
          CHECK(answer.bubble_fraction == known->second.second);
        }
      }
    }
  }
}
