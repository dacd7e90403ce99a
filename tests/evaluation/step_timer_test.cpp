// Timing a sweep's steps: a step timer keeps timings per order family and stage times, and
// what it answers must be what timing the plan's own order gives, whichever plans came
// before (a family's other microbatch counts, other stage times).

#include "evaluation/step_timer.h"

#include <cmath>
#include <random>

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

}  // namespace

TEST_CASE("a step timer answers what timing each plan's own order gives") {
  std::mt19937 rng(20261203);
  std::uniform_real_distribution<double> time(0.05, 1.0);
  const auto* schedule = memsim::strategies::find_schedule("1f1b");
  const int64_t p = 8;
  const StageLayout layout = three_kinds(p);
  StepTimer timer;
  std::vector<ScheduleEntry> entries;
  const std::vector<int64_t> microbatches = {4, 8, 32, 64, 128, 256, 1024};
  for (const int64_t m : microbatches) {
    const ScheduleKey key{schedule, p, 1, m};
    const bool extends = memsim::evaluation::extends_from_seeds(*schedule, p, m);
    const auto seeds = memsim::evaluation::order_seeds(*schedule, p, 1, m);
    entries.push_back(
        memsim::evaluation::fast::schedule_entry(key, extends ? &seeds : nullptr, nullptr));
  }
  for (int trial = 0; trial < 8; ++trial) {
    CAPTURE(trial);
    std::vector<KindNumbers> kinds(3);
    for (KindNumbers& kind : kinds) {
      kind.times = {ChunkTimes{time(rng), 2.0 * time(rng)}};
      kind.after_steps_s = 0.1 * time(rng);
    }
    const double transfer = 0.01 * time(rng);
    timer.stages(layout, kinds, transfer);
    // Each microbatch count twice, the family's longer orders after shorter ones.
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < microbatches.size(); ++i) {
        CAPTURE(microbatches[i]);
        const auto answer = timer.time(entries[i]);
        std::vector<std::vector<ChunkTimes>> stage_times(p);
        for (int64_t s = 0; s < p; ++s)
          stage_times[s] = kinds[layout.kind[s]].times;
        const auto timed = memsim::evaluation::time_order(entries[i].order, stage_times, transfer);
        double step = 0.0;
        for (int64_t s = 0; s < p; ++s)
          step = std::max(step, timed.end_s[s] + kinds[layout.kind[s]].after_steps_s);
        CHECK(answer.step_time_s == doctest::Approx(step).epsilon(1e-12));
        CHECK(answer.bubble_fraction == doctest::Approx(timed.bubble_fraction).epsilon(1e-9));
      }
    }
  }
}
