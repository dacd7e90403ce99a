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
  int64_t parameters = 0;
  sim::RankResult memory;
  bool fits = false;
};

struct TrainingReport {
  int64_t parameters = 0;  ///< the model's exact count
  int64_t world_size = 0;
  int64_t microbatches = 0;
  sim::Bytes capacity;
  sim::Bytes peak;  ///< the largest rank's
  bool fits = false;
  double bubble_fraction = 0.0;
  double step_time_s = 0.0;
  sim::Bytes cpu_bytes_per_node;
  std::vector<RankReport> ranks;  ///< every rank, in rank order
};

TrainingReport evaluate(const CompiledPlan& compiled);
TrainingReport evaluate(const TrainingPlan& plan);

}  // namespace memsim::strategies
