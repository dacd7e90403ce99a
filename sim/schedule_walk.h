#pragma once
/// A rank's schedule walked step by step, apart from sizes: before each step, how many
/// microbatches of each chunk are in flight (forward run, backward not yet), how many
/// await their weight step (input step run, weight step not yet), and which chunks'
/// weight gradients have been made (and, with gradients made on demand, exist).
/// The byte walk replays each step's recipe from here; the schedule's candidate moments
/// (the fast evaluation's) are these states.

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "sim/check.h"
#include "sim/rank_program.h"

namespace memsim::sim {

struct StepState {
  const ScheduledStep& step;
  /// The step makes the chunk's weight gradients for the first time in the step: its
  /// first backward or weight step.
  bool first_backward;
  std::span<const int64_t> in_flight;  ///< per chunk
  /// Per chunk: input step run, weight step not; empty if the steps take no input step.
  std::span<const int64_t> awaiting;
  std::span<const int64_t> backward_done;  ///< per chunk, 0 or 1
};

/// Calls `visit(state)` before each of `steps`, over `chunks` chunks, in order.
template <typename Visit>
void walk_steps(std::span<const ScheduledStep> steps, int64_t chunks, Visit&& visit) {
  std::vector<int64_t> in_flight(chunks, 0);
  const bool split = std::any_of(steps.begin(), steps.end(), [](const ScheduledStep& step) {
    return step.kind == StepKind::kBackwardInput;
  });
  std::vector<int64_t> awaiting(split ? chunks : 0, 0);
  std::vector<int64_t> done(chunks, 0);
  for (const ScheduledStep& step : steps) {
    MEMSIM_CHECK(step.chunk >= 0 && step.chunk < chunks);
    const bool first = makes_weight_gradients(step.kind) && done[step.chunk] == 0;
    visit(StepState{step, first, in_flight, awaiting, done});
    switch (step.kind) {
      case StepKind::kForward:
        ++in_flight[step.chunk];
        break;
      case StepKind::kBackward:
      case StepKind::kBackwardInput:
        MEMSIM_CHECK(in_flight[step.chunk] > 0);  // a backward follows its forward
        --in_flight[step.chunk];
        if (step.kind == StepKind::kBackwardInput) ++awaiting[step.chunk];
        break;
      case StepKind::kBackwardWeight:
        // A weight step follows its input step.
        MEMSIM_CHECK(!awaiting.empty() && awaiting[step.chunk] > 0);
        --awaiting[step.chunk];
        break;
    }
    if (makes_weight_gradients(step.kind)) done[step.chunk] = 1;
  }
}

}  // namespace memsim::sim
