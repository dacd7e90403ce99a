// The orders schedules are timed in: their runs of steady periods, long orders extended
// from short ones (and from seeds a family shares), each equal to ordering every step.

#include "evaluation/schedule_order.h"

#include <algorithm>
#include <string>
#include <tuple>

#include <doctest/doctest.h>

#include "strategies/schedules.h"
#include "support/test_support.h"

using memsim::evaluation::ScheduleOrder;

TEST_CASE("the steady middle of 1F1B, GPipe and interleaved schedules is found as runs") {
  // Steps per stage: 2·v·m; the runs must cover all but a transient of O(p) microbatches.
  for (const auto& [schedule, p, v, m] :
       {std::tuple{"1f1b", 8, 1, 256}, std::tuple{"gpipe", 8, 1, 256},
        std::tuple{"interleaved", 4, 2, 256}}) {
    CAPTURE(schedule);
    const ScheduleOrder order = memsim::testing::order_every_step(schedule, p, v, m);
    int64_t covered = 0;
    for (const auto& run : order.runs)
      covered += run.end - run.begin;
    const auto total = static_cast<int64_t>(order.entries.size());
    CHECK(total == 2 * p * v * m);
    CHECK(covered > total * 8 / 10);
  }
}

TEST_CASE("an order extended from shorter ones is the order of every step") {
  // order_of repeats the steady block of shorter orders; ordering every step must agree,
  // entry for entry and run for run, on every schedule, depth and microbatch count.
  auto check = [](const std::string& schedule, int64_t p, int64_t v, int64_t m) {
    CAPTURE(schedule);
    CAPTURE(p);
    CAPTURE(v);
    CAPTURE(m);
    const ScheduleOrder full = memsim::testing::order_every_step(schedule, p, v, m);
    const ScheduleOrder extended =
        memsim::evaluation::order_of(*memsim::strategies::find_schedule(schedule), p, v, m);
    CHECK(extended.stages == full.stages);
    CHECK(extended.chunks_per_stage == full.chunks_per_stage);
    CHECK(extended.microbatches == full.microbatches);
    REQUIRE(extended.entries.size() == full.entries.size());
    for (size_t k = 0; k < full.entries.size(); ++k) {
      const auto& a = extended.entries[k];
      const auto& b = full.entries[k];
      if (a.stage != b.stage || a.chunk != b.chunk || a.kind != b.kind ||
          a.wait_for != b.wait_for || a.index != b.index) {
        FAIL_CHECK("entry " << k << " differs");
        break;
      }
    }
    REQUIRE(extended.runs.size() == full.runs.size());
    for (size_t r = 0; r < full.runs.size(); ++r) {
      CHECK(extended.runs[r].begin == full.runs[r].begin);
      CHECK(extended.runs[r].end == full.runs[r].end);
      CHECK(extended.runs[r].period == full.runs[r].period);
      CHECK(extended.runs[r].recall == full.runs[r].recall);
    }
    // Timing alone reads `timed` and `runs`: the same without the entries.
    const ScheduleOrder lean =
        memsim::evaluation::order_of(*memsim::strategies::find_schedule(schedule), p, v, m,
                                     memsim::evaluation::OrderDetail::kTimingOnly);
    REQUIRE(lean.size() == full.size());
    REQUIRE(full.size() == static_cast<int64_t>(full.timed.size()));
    for (int64_t k = 0; k < full.size(); ++k) {
      const auto& a = lean.timed[lean.source(k)];
      const auto& b = full.timed[k];
      if (a.wait_back != b.wait_back || a.stage != b.stage || a.slot != b.slot) {
        FAIL_CHECK("timed entry " << k << " differs");
        break;
      }
    }
    CHECK(lean.runs == full.runs);
  };
  memsim::testing::for_each_schedule_shape(check, 4, [](int64_t p) { return 24 * p; });
  for (const auto& [schedule, p, v, m] :
       {std::tuple{"1f1b", 32, 1, 4096}, std::tuple{"1f1b", 64, 1, 1024},
        std::tuple{"gpipe", 24, 1, 1000}, std::tuple{"interleaved", 16, 4, 512},
        std::tuple{"interleaved", 7, 3, 700}}) {
    check(schedule, p, v, m);
    // Long 1F1B and interleaved orders are extended (GPipe's, all forwards first, are
    // ordered step by step): a sweep's keep no entries, and what timing reads of them is a
    // short order's, its steady block repeated.
    if (std::string(schedule) != "gpipe") {
      const ScheduleOrder lean =
          memsim::evaluation::order_of(*memsim::strategies::find_schedule(schedule), p, v, m,
                                       memsim::evaluation::OrderDetail::kTimingOnly);
      CHECK(lean.entries.empty());
      CHECK(static_cast<int64_t>(lean.timed.size()) * 2 < lean.size());
    }
  }
}

TEST_CASE("one family's seeds make every one of its long orders") {
  // A sweep makes a schedule's seeds once and extends every microbatch count a whole
  // number of groups apart from them: the same order as making each from its own seeds.
  for (const auto& [schedule, p, v] :
       {std::tuple{"1f1b", 8, 1}, std::tuple{"interleaved", 4, 3}, std::tuple{"gpipe", 4, 1}}) {
    CAPTURE(schedule);
    const auto* info = memsim::strategies::find_schedule(schedule);
    const int64_t group = memsim::strategies::microbatch_group(*info, p);
    const memsim::evaluation::OrderSeeds seeds = memsim::evaluation::order_seeds(*info, p, v, 0);
    for (int64_t m = group; m <= 64 * p; m += group) {
      CAPTURE(m);
      const ScheduleOrder own = memsim::evaluation::order_of(*info, p, v, m);
      const ScheduleOrder shared = memsim::evaluation::order_of(seeds, m);
      REQUIRE(shared.entries.size() == own.entries.size());
      CHECK(shared.entries == own.entries);
      CHECK(shared.runs == own.runs);
      CHECK(shared.repeat == own.repeat);
    }
  }
}

TEST_CASE("two orders' common start is counted entry by entry, through repeated blocks") {
  // A long order reads most entries through its repeated block: the count must be what
  // comparing the orders entry by entry gives, whether either or both repeat a block.
  for (const auto& [schedule, p, v] :
       {std::tuple{"1f1b", 4, 1}, std::tuple{"1f1b", 8, 1}, std::tuple{"interleaved", 4, 2},
        std::tuple{"gpipe", 6, 1}}) {
    CAPTURE(schedule);
    const auto* info = memsim::strategies::find_schedule(schedule);
    for (const int64_t a : {p / 2, p, 2 * p, 3 * p + 1, 8 * p, 20 * p}) {
      for (const int64_t b : {p, 4 * p, 3 * p + 1, 8 * p, 9 * p, 40 * p}) {
        CAPTURE(a);
        CAPTURE(b);
        const ScheduleOrder first = memsim::evaluation::order_of(
            *info, p, v, a, memsim::evaluation::OrderDetail::kTimingOnly);
        const ScheduleOrder second = memsim::evaluation::order_of(
            *info, p, v, b, memsim::evaluation::OrderDetail::kTimingOnly);
        int64_t alike = 0;
        while (alike < std::min(first.size(), second.size()) &&
               first.timed[first.source(alike)] == second.timed[second.source(alike)])
          ++alike;
        CHECK(memsim::evaluation::common_entries(first, second) == alike);
        CHECK(memsim::evaluation::common_entries(second, first) == alike);
        if (a == b) CHECK(alike == first.size());
      }
    }
  }
}

TEST_CASE("1F1B's order of 256 microbatches on 64 stages starts as the one of 128 does") {
  // The figure docs/memory-model.md gives for why timings take up where the last left off.
  const auto* info = memsim::strategies::find_schedule("1f1b");
  const ScheduleOrder shorter =
      memsim::evaluation::order_of(*info, 64, 1, 128, memsim::evaluation::OrderDetail::kTimingOnly);
  const ScheduleOrder longer =
      memsim::evaluation::order_of(*info, 64, 1, 256, memsim::evaluation::OrderDetail::kTimingOnly);
  CHECK(shorter.size() == 16'384);
  CHECK(memsim::evaluation::common_entries(shorter, longer) == 13'045);  // 80% of it
}
