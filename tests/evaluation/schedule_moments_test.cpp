// A schedule's moments: those of a long schedule derived from shorter ones are the moments
// of walking every step.

#include "evaluation/schedule_moments.h"

#include <string>
#include <tuple>

#include <doctest/doctest.h>

#include "strategies/schedules.h"
#include "support/test_support.h"

namespace {

using memsim::evaluation::Moment;

std::vector<std::vector<Moment>> walked(const memsim::strategies::ScheduleInfo& schedule, int64_t p,
                                        int64_t v, int64_t m) {
  std::vector<std::vector<Moment>> moments;
  for (const auto& steps : memsim::strategies::every_stage_steps(schedule, p, v, m))
    moments.push_back(memsim::evaluation::moments_of(steps, v));
  return moments;
}

void check(const std::string& name, int64_t p, int64_t v, int64_t m) {
  CAPTURE(name);
  CAPTURE(p);
  CAPTURE(v);
  CAPTURE(m);
  const auto* schedule = memsim::strategies::find_schedule(name);
  REQUIRE(schedule != nullptr);
  CHECK(memsim::evaluation::every_stage_moments(*schedule, p, v, m) == walked(*schedule, p, v, m));
}

}  // namespace

TEST_CASE("every stage's moments, derived from shorter schedules, are those of every step") {
  memsim::testing::for_each_schedule_shape(check, 3,
                                           [](int64_t p) { return 3 * p * (p + 6) + 4 * p; });
  check("1f1b", 64, 1, 2048);
  check("interleaved", 16, 4, 2048);
  check("interleaved", 7, 3, 700);
}

TEST_CASE("a 1F1B stage holds at most p - s microbatches, however many there are") {
  const auto* schedule = memsim::strategies::find_schedule("1f1b");
  const int64_t p = 6;
  const auto moments = memsim::evaluation::every_stage_moments(*schedule, p, 1, 4096);
  for (int64_t s = 0; s < p; ++s) {
    int64_t most = 0;
    for (const Moment& m : moments[s])
      most = std::max(most, m.in_flight[0] + (m.kind == memsim::sim::StepKind::kForward));
    CHECK(most == p - s);
  }
}

TEST_CASE("one family's moment seeds give every long schedule of it its own moments") {
  // A sweep makes a family's moment seeds once (from any of its microbatch counts) and
  // takes every long schedule's moments from them: the moments of walking every step.
  for (const auto& [name, p, v] :
       {std::tuple{"1f1b", 6, 1}, std::tuple{"interleaved", 4, 2}, std::tuple{"gpipe", 3, 1}}) {
    CAPTURE(name);
    const auto* schedule = memsim::strategies::find_schedule(name);
    const int64_t group = memsim::strategies::microbatch_group(*schedule, p);
    const auto seeds = memsim::evaluation::moment_seeds(*schedule, p, v, group);
    for (int64_t m = group; m <= 40 * p; m += group) {
      CAPTURE(m);
      if (!memsim::evaluation::moments_from_seeds(*schedule, p, m)) continue;
      CHECK(memsim::evaluation::every_stage_moments(seeds, *schedule, p, v, m) ==
            walked(*schedule, p, v, m));
    }
  }
}
