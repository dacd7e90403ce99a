#pragma once
/// Times a pipeline schedule: every stage runs its steps in order; a step starts once its
/// stage is free and the step it depends on has ended and its activations (or gradients)
/// have arrived: a forward waits for the same microbatch's forward through the previous
/// chunk, a backward for its backward through the next chunk (the last chunk's backward
/// follows its own forward).

#include <cstdint>
#include <vector>

#include "sim/rank_program.h"

namespace memsim::strategies {

struct ChunkTimes {
  double forward_s = 0.0;
  double backward_s = 0.0;  ///< recomputation included
};

struct PipelineTiming {
  std::vector<double> busy_s;  ///< per stage: time in steps
  std::vector<double> end_s;   ///< per stage: when its last step ends
  double makespan_s = 0.0;     ///< when the last stage finishes its last step
  /// The idle share of the makespan on the stage that idles most.
  double bubble_fraction = 0.0;
};

/// Fills in `steps[stage][i].start_s`. `times[stage][chunk]` are per local chunk; chunk c of
/// stage s is model chunk c·p + s. `transfer_s` is the point-to-point time between stages.
PipelineTiming time_schedule(std::vector<std::vector<sim::ScheduledStep>>& steps,
                             const std::vector<std::vector<ChunkTimes>>& times, double transfer_s);

}  // namespace memsim::strategies
