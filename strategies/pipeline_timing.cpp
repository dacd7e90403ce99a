#include "strategies/pipeline_timing.h"

#include <algorithm>

#include "sim/check.h"

namespace memsim::strategies {

PipelineTiming time_schedule(std::vector<std::vector<sim::ScheduledStep>>& steps,
                             const std::vector<std::vector<ChunkTimes>>& times, double transfer_s) {
  const auto p = static_cast<int64_t>(steps.size());
  const auto v = static_cast<int64_t>(times.front().size());
  const int64_t chunks = p * v;
  int64_t microbatches = 0;
  for (const auto& stage : steps) {
    for (const auto& step : stage)
      microbatches = std::max<int64_t>(microbatches, step.microbatch + 1);
  }
  // End time of each (direction, microbatch, model chunk); negative: not yet run.
  std::vector<double> ended(2 * microbatches * chunks, -1.0);
  auto slot = [&](sim::StepKind kind, int64_t mb, int64_t g) -> double& {
    return ended[(static_cast<int64_t>(kind) * microbatches + mb) * chunks + g];
  };

  PipelineTiming timing;
  timing.busy_s.assign(p, 0.0);
  timing.end_s.assign(p, 0.0);
  std::vector<size_t> next(p, 0);
  size_t remaining = 0;
  for (const auto& stage : steps)
    remaining += stage.size();
  while (remaining > 0) {
    bool progressed = false;
    for (int64_t s = 0; s < p; ++s) {
      while (next[s] < steps[s].size()) {
        sim::ScheduledStep& step = steps[s][next[s]];
        const int64_t g = step.chunk * p + s;
        const bool forward = step.kind == sim::StepKind::kForward;
        // What this step waits for, on another stage (or, for the last chunk's backward,
        // its own forward, which the stage has already run).
        double ready = 0.0;
        if (forward && g > 0) {
          ready = slot(sim::StepKind::kForward, step.microbatch, g - 1);
          if (ready < 0.0) break;
          ready += transfer_s;
        } else if (!forward && g < chunks - 1) {
          ready = slot(sim::StepKind::kBackward, step.microbatch, g + 1);
          if (ready < 0.0) break;
          ready += transfer_s;
        } else if (!forward) {
          ready = slot(sim::StepKind::kForward, step.microbatch, g);
          MEMSIM_CHECK(ready >= 0.0);
        }
        const ChunkTimes& t = times[s][step.chunk];
        const double duration = forward ? t.forward_s : t.backward_s;
        step.start_s = std::max(timing.end_s[s], ready);
        timing.end_s[s] = step.start_s + duration;
        timing.busy_s[s] += duration;
        slot(step.kind, step.microbatch, g) = timing.end_s[s];
        ++next[s];
        --remaining;
        progressed = true;
      }
    }
    MEMSIM_CHECK(progressed);  // a schedule whose stages wait on each other forever
  }
  timing.makespan_s = *std::max_element(timing.end_s.begin(), timing.end_s.end());
  if (timing.makespan_s > 0.0) {
    for (int64_t s = 0; s < p; ++s) {
      timing.bubble_fraction = std::max(timing.bubble_fraction,
                                        (timing.makespan_s - timing.busy_s[s]) / timing.makespan_s);
    }
  }
  return timing;
}

}  // namespace memsim::strategies
