// A schedule's moments: those of a long schedule derived from shorter ones are the moments
// of walking every step.

#include "evaluation/schedule_moments.h"

#include <string>

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
