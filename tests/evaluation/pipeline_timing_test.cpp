// Timing pipeline schedules: jumping over steady periods gives the plain list scheduling's
// answer, and the jump does happen where m ≫ p.

#include "evaluation/pipeline_timing.h"

#include <cmath>
#include <optional>
#include <random>
#include <tuple>

#include <doctest/doctest.h>

#include "strategies/schedules.h"
#include "support/test_support.h"

namespace {

using memsim::evaluation::ChunkTimes;
using memsim::evaluation::PipelineTiming;
using memsim::evaluation::ScheduleOrder;

bool close(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b));
}

}  // namespace

TEST_CASE("jumping over steady periods equals timing every step, on random stage times") {
  std::mt19937 rng(20261128);
  std::uniform_real_distribution<double> time(0.01, 1.0);
  struct Case {
    const char* schedule;
    int64_t p, v, m;
  };
  const Case cases[] = {{"1f1b", 1, 1, 64},        {"1f1b", 2, 1, 200},
                        {"1f1b", 4, 1, 32},        {"1f1b", 8, 1, 256},
                        {"1f1b", 16, 1, 96},       {"gpipe", 4, 1, 64},
                        {"gpipe", 8, 1, 17},       {"interleaved", 2, 3, 40},
                        {"interleaved", 4, 5, 64}, {"interleaved", 8, 2, 128}};
  for (const Case& c : cases) {
    CAPTURE(c.schedule);
    CAPTURE(c.p);
    CAPTURE(c.v);
    CAPTURE(c.m);
    const ScheduleOrder order = memsim::testing::order_every_step(c.schedule, c.p, c.v, c.m);
    for (int trial = 0; trial < 20; ++trial) {
      // Random times per stage and chunk; a third of the trials with equal middle stages,
      // as real pipelines have (only the first and last stage differ).
      std::vector<std::vector<ChunkTimes>> times(c.p, std::vector<ChunkTimes>(c.v));
      for (int64_t s = 0; s < c.p; ++s) {
        for (auto& t : times[s]) {
          const bool middle = trial % 3 == 0 && s > 0 && s + 1 < c.p && s > 1;
          t = middle ? times[1][&t - times[s].data()] : ChunkTimes{time(rng), 2.0 * time(rng)};
        }
      }
      const double transfer = trial % 2 == 0 ? 0.0 : 0.1 * time(rng);
      std::vector<std::vector<double>> starts(c.p), exact_starts(c.p);
      for (int64_t s = 0; s < c.p; ++s) {
        starts[s].assign(2 * c.v * c.m, 0.0);
        exact_starts[s].assign(2 * c.v * c.m, 0.0);
      }
      const PipelineTiming fast = time_order(order, times, transfer, &starts, nullptr, true);
      const PipelineTiming exact =
          time_order(order, times, transfer, &exact_starts, nullptr, false);
      CHECK(close(fast.makespan_s, exact.makespan_s));
      CHECK(close(fast.bubble_fraction, exact.bubble_fraction));
      for (int64_t s = 0; s < c.p; ++s) {
        CHECK(close(fast.end_s[s], exact.end_s[s]));
        for (size_t i = 0; i < starts[s].size(); ++i) {
          if (!close(starts[s][i], exact_starts[s][i])) {
            FAIL_CHECK("stage " << s << " step " << i << " starts at " << starts[s][i]
                                << " instead of " << exact_starts[s][i]);
            break;
          }
        }
      }
    }
  }
}

TEST_CASE("uneven stages settle into a cycle of several periods, and the jump takes it") {
  // Under 1F1B, s slower stages before faster ones settle into a cycle of s periods: no
  // period is the one before shifted, but every s-th is. Timing must find the cycle (a few
  // hundred steps) and still equal timing every step.
  for (const auto& [p, slow, m] :
       {std::tuple{8, 4, 512}, std::tuple{32, 16, 512}, std::tuple{6, 3, 300}}) {
    CAPTURE(p);
    std::vector<std::vector<ChunkTimes>> times(p, std::vector<ChunkTimes>(1, {0.25, 0.5}));
    for (int64_t s = 0; s < slow; ++s)
      times[s].assign(1, {0.5, 1.0});
    times.back().assign(1, {0.35, 0.7});  // the head's
    const ScheduleOrder order = memsim::testing::order_every_step("1f1b", p, 1, m);
    const PipelineTiming fast = time_order(order, times, 0.01);
    const PipelineTiming exact = time_order(order, times, 0.01, nullptr, nullptr, false);
    CHECK(close(fast.makespan_s, exact.makespan_s));
    CHECK(close(fast.bubble_fraction, exact.bubble_fraction));
    for (int64_t s = 0; s < p; ++s)
      CHECK(close(fast.end_s[s], exact.end_s[s]));
    CHECK(exact.steps_timed == 2 * p * m);
    CHECK(fast.steps_timed < 2 * p * m / 4);
  }
}

TEST_CASE("scaling every time by a power of two scales the timing exactly, bit for bit") {
  // The fast evaluation keeps timings up to a power-of-two scale (a micro-batch 2^k larger
  // times every step 2^k longer): that is only sound if list scheduling, with its jumps over
  // steady periods, commutes exactly with such a scale.
  std::mt19937 rng(20261201);
  std::uniform_real_distribution<double> time(0.001, 3.0);
  for (const auto& [schedule, p, v, m] :
       {std::tuple{"1f1b", 4, 1, 96}, std::tuple{"gpipe", 3, 1, 40},
        std::tuple{"interleaved", 4, 3, 64}, std::tuple{"1f1b", 16, 1, 512}}) {
    CAPTURE(schedule);
    const ScheduleOrder order = memsim::testing::order_every_step(schedule, p, v, m);
    std::vector<std::vector<ChunkTimes>> times(p, std::vector<ChunkTimes>(v));
    for (auto& stage : times) {
      for (ChunkTimes& t : stage)
        t = {time(rng), 2.0 * time(rng)};
    }
    const double transfer = 0.05 * time(rng);
    const PipelineTiming base = time_order(order, times, transfer);
    for (const int exponent : {-7, 1, 5, 30}) {
      CAPTURE(exponent);
      auto scaled = times;
      for (auto& stage : scaled) {
        for (ChunkTimes& t : stage) {
          t.forward_s = std::ldexp(t.forward_s, exponent);
          t.backward_s = std::ldexp(t.backward_s, exponent);
        }
      }
      const PipelineTiming timing = time_order(order, scaled, std::ldexp(transfer, exponent));
      CHECK(timing.makespan_s == std::ldexp(base.makespan_s, exponent));
      CHECK(timing.bubble_fraction == base.bubble_fraction);
      for (int64_t s = 0; s < p; ++s)
        CHECK(timing.end_s[s] == std::ldexp(base.end_s[s], exponent));
    }
  }
}

TEST_CASE("a settled timing moves to its family's longer orders as the walk times them") {
  // A sweep over the global batch times orders of one family (a short order, its steady
  // block repeated more times): family_shift moves one timing to the others by whole
  // cycles. Wherever it answers, its answer must be what timing that order gives; and once
  // the reference settled within its copies (most do, on every shape), it must answer for
  // every longer order a whole number of cycles longer.
  std::mt19937 rng(20261202);
  std::uniform_real_distribution<double> time(0.05, 1.0);
  for (const auto& [schedule, p, v] :
       {std::tuple{"1f1b", 3, 1}, std::tuple{"1f1b", 5, 1}, std::tuple{"1f1b", 8, 1},
        std::tuple{"1f1b", 16, 1}, std::tuple{"interleaved", 3, 3}, std::tuple{"interleaved", 4, 2},
        std::tuple{"interleaved", 6, 2}}) {
    CAPTURE(schedule);
    CAPTURE(p);
    const auto* info = memsim::strategies::find_schedule(schedule);
    int settled_trials = 0;
    for (int trial = 0; trial < 6; ++trial) {
      CAPTURE(trial);
      // Trials alternate even middles (the first and last stage differ) and random stages.
      std::vector<std::vector<ChunkTimes>> times(p, std::vector<ChunkTimes>(v));
      for (int64_t s = 0; s < p; ++s) {
        for (int64_t c = 0; c < v; ++c) {
          const bool middle = trial % 2 == 0 && s > 1 && s + 1 < p;
          times[s][c] = middle ? times[1][c] : ChunkTimes{time(rng), 2.0 * time(rng)};
        }
      }
      const double transfer = 0.02 * time(rng);
      const int64_t group = memsim::strategies::microbatch_group(*info, p);
      const int64_t base = 8 * p;
      const ScheduleOrder reference = memsim::evaluation::order_of(*info, p, v, base);
      const PipelineTiming timed = time_order(reference, times, transfer);
      REQUIRE(reference.repeat.copies > 0);
      const memsim::evaluation::SettledRun& settled = timed.settled;
      settled_trials += settled.at >= 0 ? 1 : 0;
      int moved = 0;
      int whole_cycles = 0;
      for (int64_t more = group; more <= 40 * p; more += group) {
        const ScheduleOrder order = memsim::evaluation::order_of(*info, p, v, base + more);
        REQUIRE(memsim::evaluation::family_of(order) == memsim::evaluation::family_of(reference));
        if (settled.at >= 0 && (order.repeat.copies - reference.repeat.copies) *
                                       reference.repeat.block % settled.cycle ==
                                   0) {
          ++whole_cycles;
        }
        const auto shift =
            memsim::evaluation::family_shift(reference.repeat, timed.settled, order.repeat.copies);
        if (!shift) continue;
        ++moved;
        const PipelineTiming direct = time_order(order, times, transfer);
        for (int64_t s = 0; s < p; ++s)
          CHECK(close(timed.end_s[s] + *shift, direct.end_s[s]));
      }
      CHECK(moved == whole_cycles);
      // Shorter orders of the family, where it answers too.
      for (int64_t m = base - group; m > 0; m -= group) {
        if (!memsim::evaluation::extends_from_seeds(*info, p, m)) break;
        const ScheduleOrder order = memsim::evaluation::order_of(*info, p, v, m);
        const auto shift =
            memsim::evaluation::family_shift(reference.repeat, timed.settled, order.repeat.copies);
        if (!shift) continue;
        const PipelineTiming direct = time_order(order, times, transfer);
        for (int64_t s = 0; s < p; ++s)
          CHECK(close(timed.end_s[s] + *shift, direct.end_s[s]));
      }
    }
    CHECK(settled_trials >= 3);
  }
}

TEST_CASE("a timing refocused on a shorter order of the family is that order's own timing") {
  // Both time the same steps up to where the longer one settles: the refocused timing
  // must be the shorter order's to the last bit, having timed the steps before once.
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> time(0.05, 1.0);
  for (const auto& [schedule, p, v] :
       {std::tuple{"1f1b", 8, 1}, std::tuple{"1f1b", 5, 1}, std::tuple{"interleaved", 4, 2}}) {
    CAPTURE(schedule);
    const auto* info = memsim::strategies::find_schedule(schedule);
    const int64_t group = memsim::strategies::microbatch_group(*info, p);
    std::vector<std::vector<ChunkTimes>> times(p, std::vector<ChunkTimes>(v));
    for (auto& stage : times) {
      for (ChunkTimes& t : stage)
        t = {time(rng), 2.0 * time(rng)};
    }
    const ScheduleOrder longer = memsim::evaluation::order_of(*info, p, v, 40 * p);
    int refocused = 0;
    for (int64_t m = 40 * p - group; memsim::evaluation::extends_from_seeds(*info, p, m);
         m -= group) {
      CAPTURE(m);
      const ScheduleOrder shorter = memsim::evaluation::order_of(*info, p, v, m);
      const memsim::evaluation::Refocus refocus =
          [&](const memsim::evaluation::SettledRun& settled) -> const ScheduleOrder* {
        // Only where the shorter order holds the same settling.
        const auto shift =
            memsim::evaluation::family_shift(longer.repeat, settled, shorter.repeat.copies);
        return shift ? &shorter : nullptr;
      };
      memsim::evaluation::TimingScratch scratch;
      const ScheduleOrder* timed = nullptr;
      const PipelineTiming focused =
          memsim::evaluation::time_order_refocused(longer, times, 0.01, scratch, refocus, timed);
      if (timed != &shorter) continue;
      ++refocused;
      const PipelineTiming own = time_order(shorter, times, 0.01);
      CHECK(focused.end_s == own.end_s);
      CHECK(focused.bubble_fraction == own.bubble_fraction);
      CHECK(focused.settled.at == own.settled.at);
      CHECK(focused.settled.end == own.settled.end);
    }
    CHECK(refocused > 5);
  }
}

TEST_CASE("a timing taken up from another order's end times is its own timing, bit for bit") {
  // A sweep times one schedule's orders of more and more microbatches on the same stages,
  // and they start alike: the next timing takes up the end times the last one left in the
  // scratch (resume_point). What it answers must be its timing from the start to the last
  // bit, whichever order came before (shorter, longer, settled there or not).
  std::mt19937 rng(20261202);
  std::uniform_real_distribution<double> time(0.05, 1.0);
  int taken_up = 0;
  for (const auto& [schedule, p, v] :
       {std::tuple{"1f1b", 4, 1}, std::tuple{"1f1b", 16, 1}, std::tuple{"1f1b", 32, 1},
        std::tuple{"gpipe", 8, 1}, std::tuple{"interleaved", 4, 2}}) {
    CAPTURE(schedule);
    CAPTURE(p);
    const auto* info = memsim::strategies::find_schedule(schedule);
    const int64_t group = memsim::strategies::microbatch_group(*info, p);
    std::vector<int64_t> counts;  // up, then down, as sweeps over the batch meet them
    for (const int64_t m : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 96, 48, 24, 12})
      if (m % group == 0 || m < p) counts.push_back(m);
    for (int trial = 0; trial < 3; ++trial) {
      CAPTURE(trial);
      // Uneven stages (one or two layers each, as 80 layers on 64 stages) settle late.
      std::vector<std::vector<ChunkTimes>> times(p, std::vector<ChunkTimes>(v));
      const ChunkTimes layer{time(rng), 2.0 * time(rng)};
      for (int64_t s = 0; s < p; ++s) {
        for (int64_t c = 0; c < v; ++c) {
          const double layers = trial == 0 ? 1.0 + static_cast<double>(s % 4 == 1) : 1.0;
          times[s][c] = trial == 2
                            ? ChunkTimes{time(rng), 2.0 * time(rng)}
                            : ChunkTimes{layers * layer.forward_s, layers * layer.backward_s};
        }
      }
      const double transfer = 0.02 * time(rng);
      memsim::evaluation::TimingScratch scratch;
      std::optional<ScheduleOrder> last;
      int64_t stepped = 0;
      for (const int64_t m : counts) {
        CAPTURE(m);
        const ScheduleOrder order = memsim::evaluation::order_of(
            *info, p, v, m, memsim::evaluation::OrderDetail::kTimingOnly);
        const int64_t from =
            last ? memsim::evaluation::resume_point(
                       order, last->runs, stepped, memsim::evaluation::common_entries(*last, order))
                 : 0;
        const PipelineTiming resumed =
            time_order(order, times, transfer, nullptr, &scratch, true, from);
        const PipelineTiming own = time_order(order, times, transfer);
        CHECK(resumed.end_s == own.end_s);
        CHECK(resumed.bubble_fraction == own.bubble_fraction);
        CHECK(resumed.settled.at == own.settled.at);
        CHECK(resumed.settled.lambda == own.settled.lambda);
        CHECK(resumed.stepped_until == own.stepped_until);
        CHECK(resumed.steps_timed + from == own.steps_timed);
        taken_up += from > 0 ? 1 : 0;
        last = order;
        stepped = resumed.stepped_until;
      }
    }
  }
  CHECK(taken_up > 60);
}
