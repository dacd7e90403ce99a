#pragma once
/// Simulates every rank of a training plan and gathers the report: per-rank peaks and
/// breakdowns, the largest peak, whether everything fits.

#include <cstdint>
#include <vector>

#include "sim/simulator.h"
#include "strategies/compiled_plan.h"

namespace memsim::strategies {

struct RankReport {
  RankPlacement placement;
  int64_t parameters = 0;  ///< the rank's share (CompiledPlan::rank_parameters)
  sim::RankResult memory;
  OverheadParts overheads;
  sim::Bytes cpu_bytes;  ///< offloaded to host memory
  bool fits = false;     ///< the GPU holds the peak
};

struct TrainingReport {
  int64_t parameters = 0;  ///< the model's exact count
  int64_t world_size = 0;
  int64_t microbatches = 0;
  sim::Bytes capacity;
  sim::Bytes peak;    ///< the largest rank's
  bool fits = false;  ///< every GPU and every node's host memory hold what they must
  double bubble_fraction = 0.0;
  double step_time_s = 0.0;  ///< estimated: the slowest rank's
  double tokens_per_s = 0.0;
  double model_flops_utilization = 0.0;  ///< model FLOPs / (step time × GPUs × peak)
  sim::Bytes cpu_bytes_per_node;         ///< the fullest node's
  sim::Bytes cpu_capacity_per_node;
  bool cpu_fits = true;
  std::vector<RankReport> ranks;  ///< every rank, in rank order
};

TrainingReport evaluate(const CompiledPlan& compiled);
TrainingReport evaluate(const TrainingPlan& plan);

}  // namespace memsim::strategies
