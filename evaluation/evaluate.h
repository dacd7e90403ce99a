#pragma once
/// Simulates every rank of a plan, training or inference, and gathers the report: per-rank
/// peaks and breakdowns, the largest peak, whether everything fits.

#include <cstdint>
#include <optional>
#include <vector>

#include "evaluation/compiled_inference.h"
#include "evaluation/compiled_plan.h"
#include "sim/simulator.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

struct RankReport {
  RankPlacement placement;
  int64_t parameters = 0;  ///< the rank's share (CompiledPlan::rank_parameters)
  sim::RankResult memory;
  OverheadParts overheads;
  sim::Bytes cpu_bytes;  ///< offloaded to host memory
  bool fits = false;     ///< the GPU holds the peak
};

/// What inference adds to the memory walk. Times are estimates of the time model.
struct InferenceFacts {
  sim::Bytes usable;              ///< memory_utilization × capacity: the peak must stay under
  sim::Bytes kv_bytes_per_token;  ///< one sequence's token, every layer, before TP sharding
  double prefill_s = 0.0;         ///< the prompt through every stage (time to first token)
  double last_decode_step_s = 0.0;
  double generate_s = 0.0;           ///< every decode step
  double decode_tokens_per_s = 0.0;  ///< tokens the replicas generate per second
  // (ReportCore::tokens_per_s counts prompt and generated tokens: a request's throughput.)
};

/// What every report has: the model's size, the cluster, every rank's walk, the largest
/// peak and whether everything fits, and the estimated time and throughput.
struct ReportCore {
  int64_t parameters = 0;  ///< the model's exact count
  int64_t world_size = 0;
  sim::Bytes capacity;
  sim::Bytes peak;           ///< the largest rank's
  bool fits = false;         ///< every GPU and every node's host memory hold what they must
  double step_time_s = 0.0;  ///< estimated: the slowest rank's
  double tokens_per_s = 0.0;
  sim::Bytes cpu_bytes_per_node;  ///< the fullest node's
  sim::Bytes cpu_capacity_per_node;
  bool cpu_fits = true;
  std::vector<RankReport> ranks;  ///< every rank, in rank order
};

/// A training step's report: the core and the pipeline's microbatches, bubble and MFU.
struct TrainingReport : ReportCore {
  int64_t microbatches = 0;
  double bubble_fraction = 0.0;
  double model_flops_utilization = 0.0;  ///< model FLOPs / (step time × GPUs × peak)
};

/// Serving's report: the core and what serving adds.
struct ServingReport : ReportCore {
  InferenceFacts serving;
};

/// A scenario's report, for its plan's mode: a training report, with serving's facts in
/// inference mode (its training fields then left at zero).
struct Report : TrainingReport {
  std::optional<InferenceFacts> inference;  ///< set in inference mode
};

/// What a training step may use of each GPU: all of it.
sim::Bytes usable_memory(const TrainingPlan& plan);
/// What a serving engine may use of each GPU: its share of the capacity.
sim::Bytes usable_memory(const ServingPlan& plan);
/// What a rank's peak must stay under: the GPU's capacity, or in serving the engine's share.
sim::Bytes usable_memory(const Plan& plan);

TrainingReport evaluate(const CompiledPlan& compiled);
ServingReport evaluate(const CompiledInference& compiled);
/// Training or inference, as the plan's mode says.
Report evaluate(const Plan& plan);

}  // namespace memsim::evaluation
