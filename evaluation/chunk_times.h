#pragma once
/// How long a chunk's forward and backward take: each op's seconds times how often it runs
/// in the chunk, forward, backward and recomputed. The walk's schedule and the fast
/// evaluation time chunks with these same sums.

#include <cstdint>
#include <vector>

#include "evaluation/pipeline_timing.h"
#include "evaluation/plan_context.h"
#include "sim/rank_program.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// How often the ops of one twin slot run in a chunk: forward (and so backward) and again
/// as recomputation before their backward.
struct OpRuns {
  int32_t slot = 0;
  int64_t forward = 0;
  int64_t recompute = 0;
};

/// The runs of every twin slot in `program.chunks[chunk]`, slots in order, none empty.
std::vector<OpRuns> op_runs(const sim::RankProgram& program, size_t chunk);

/// Forward and backward seconds of a chunk of `runs`, recomputation included, and the weight
/// step's share; a chunk whose inputs take no gradient (the embedding's) runs its whole
/// backward as its weight step.
ChunkTimes chunk_times(const std::vector<OpRuns>& runs, const PlanContext& context,
                       bool inputs_take_gradients);

}  // namespace memsim::evaluation
