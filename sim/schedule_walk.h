#pragma once
/// A rank's schedule walked step by step, apart from sizes: before each step, how many
/// microbatches of each chunk are in flight (forward run, backward not yet) and which
/// chunks' backward has run (and, with gradients made on demand, made their gradients).
/// The byte walk replays each step's recipe from here; the schedule's candidate moments
/// (the fast evaluation's) are these states.

#include <cstdint>
#include <span>
#include <vector>

#include "sim/check.h"
#include "sim/rank_program.h"

namespace memsim::sim {

struct StepState {
  const ScheduledStep& step;
  bool first_backward;                     ///< the chunk's first backward of the step
  std::span<const int64_t> in_flight;      ///< per chunk
  std::span<const int64_t> backward_done;  ///< per chunk, 0 or 1
};

/// Calls `visit(state)` before each of `steps`, over `chunks` chunks, in order.
template <typename Visit>
void walk_steps(std::span<const ScheduledStep> steps, int64_t chunks, Visit&& visit) {
  std::vector<int64_t> in_flight(chunks, 0);
  std::vector<int64_t> done(chunks, 0);
  for (const ScheduledStep& step : steps) {
    MEMSIM_CHECK(step.chunk >= 0 && step.chunk < chunks);
    const bool forward = step.kind == StepKind::kForward;
    visit(StepState{step, !forward && done[step.chunk] == 0, in_flight, done});
    if (forward) {
      ++in_flight[step.chunk];
    } else {
      MEMSIM_CHECK(in_flight[step.chunk] > 0);  // a backward follows its forward
      --in_flight[step.chunk];
      done[step.chunk] = 1;
    }
  }
}

}  // namespace memsim::sim
