// A schedule's moments: those of a long schedule derived from shorter ones are the moments
// of walking every step.

#include "evaluation/schedule_moments.h"

#include <string>

#include <doctest/doctest.h>

#include "strategies/schedules.h"

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
  for (int64_t p = 1; p <= 12; ++p) {
    for (int64_t m = 1; m <= 8 * p + 40; ++m) {
      check("1f1b", p, 1, m);
      check("gpipe", p, 1, m);
    }
    for (const int64_t m : {257, 1000})
      check("1f1b", p, 1, m);
    if (p == 1) continue;
    for (int64_t v = 2; v <= 3; ++v) {
      for (int64_t m = p; m <= 3 * p * (p + 6) + 4 * p; m += p)
        check("interleaved", p, v, m);
    }
  }
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
