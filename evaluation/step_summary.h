#pragma once
/// What a report says of a whole step, from its stages' figures: the fullest node's host
/// memory, whether everything fits, tokens per second and model FLOPs utilisation. The
/// walk's report and the fast evaluation both summarise with these.

#include <vector>

#include "sim/units.h"
#include "strategies/plan.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// The fullest node's host memory when each rank of a stage offloads `stage_cpu[stage]`.
/// Ranks run TP fastest, then DP, then PP, so a node's ranks are a run of whole or partial
/// stages.
sim::Bytes fullest_node_cpu_bytes(const TrainingPlan& plan,
                                  const std::vector<sim::Bytes>& stage_cpu);

/// Whether the GPUs hold `peak` and each node's host memory `cpu_bytes_per_node`.
bool step_fits(const TrainingPlan& plan, sim::Bytes peak, sim::Bytes cpu_bytes_per_node);

struct Throughput {
  double tokens_per_s = 0.0;
  double model_flops_utilization = 0.0;  ///< model FLOPs / (step time × GPUs × peak)
};

/// The step's throughput; zeros for a step that takes no time.
Throughput step_throughput(const TrainingPlan& plan, double step_time_s, double model_flops);

}  // namespace memsim::evaluation
