#pragma once
/// Pipeline schedules behind one narrow interface: each, given a stage, the number of
/// stages, chunks per stage and microbatches, lists the ordered steps of one iteration on
/// that stage. A registry table names and describes them. Memory in flight follows from the
/// order (the simulator walks it); so does the bubble, once the steps are timed.

#include <cstdint>
#include <string>
#include <vector>

#include "sim/rank_program.h"

namespace memsim::strategies {

struct ScheduleInfo {
  const char* name;
  const char* description;
  bool interleaved;   ///< runs several model chunks per stage
  bool whole_rounds;  ///< needs the microbatches a multiple of the stages
  /// Splits backwards into an input step and a weight step (sim::StepKind).
  bool split_backward;
  /// Places a stage's two chunks in a V: stage s runs model chunks s and 2p − 1 − s (else
  /// chunk c of stage s is model chunk c·p + s).
  bool v_shape;
  /// Needs a microbatch for every model chunk at least (p·v of them).
  bool fills_every_chunk;
  /// The steps of `stage` (chunk indices local to the stage), untimed.
  std::vector<sim::ScheduledStep> (*steps)(int64_t stage, int64_t stages, int64_t chunks,
                                           int64_t microbatches);
};

const std::vector<ScheduleInfo>& schedules();
/// Every schedule's name, "gpipe | 1f1b | …", for the scenario key's description.
const char* schedule_names();
const ScheduleInfo* find_schedule(const std::string& name);

/// How many microbatches a schedule runs alike once past its warm-up: p for interleaved ones
/// in a loop (a group goes through the chunks together), else 1.
int64_t microbatch_group(const ScheduleInfo& schedule, int64_t stages);

/// The model chunk (in model order) that chunk `local` of stage `stage` runs.
inline int64_t model_chunk(const ScheduleInfo& schedule, int64_t stage, int64_t local,
                           int64_t stages) {
  if (schedule.v_shape) return local == 0 ? stage : 2 * stages - 1 - stage;
  return local * stages + stage;
}

/// The steps of every stage of `schedule`, stage by stage.
std::vector<std::vector<sim::ScheduledStep>> every_stage_steps(const ScheduleInfo& schedule,
                                                               int64_t stages, int64_t chunks,
                                                               int64_t microbatches);

}  // namespace memsim::strategies
