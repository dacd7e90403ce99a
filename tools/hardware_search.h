#pragma once
/// `memsim hardware --for SCENARIO`: for each GPU profile, the fewest GPUs (a power of two)
/// on which the scenario fits, the layout that does it, and what it costs. Training keeps
/// the scenario's strategy (ZeRO stage, offload, checkpointing, precision, batch) and tries
/// every tensor (≤ 8, within a node), pipeline and data parallel split of the GPUs;
/// inference tries tensor parallel within a node and pipeline stages across nodes, one
/// replica. Of the layouts that fit, the fastest wins.

#include <cstdint>
#include <optional>
#include <vector>

#include "hardware/gpu_profile.h"
#include "evaluation/fast_evaluator.h"
#include "strategies/plan.h"
#include "tools/progress.h"

namespace memsim::tools {

/// The most GPUs tried per profile.
inline constexpr int64_t kMostGpusTried = 4096;

struct HardwareOption {
  hardware::GpuProfile gpu;
  /// The scenario on the fewest GPUs that fit, with the layout found; nullopt when even
  /// kMostGpusTried do not fit.
  std::optional<strategies::Plan> plan;
  evaluation::FastResult result;
  sim::Bytes limit;  ///< what the peak must stay under on this GPU

  int64_t gpus() const { return plan ? plan->cluster.world_size() : 0; }
  /// Renting them (0 when the price is unknown).
  double usd_per_hour() const { return static_cast<double>(gpus()) * gpu.cloud_usd_per_hour; }
  /// Seconds to process `tokens` (training: trained; inference: generated), 0 if unknown.
  double seconds_for(double tokens) const;
};

/// One option per profile of `gpus`, in their order; `progress` (when given) counts the
/// profiles done.
std::vector<HardwareOption> hardware_options(const strategies::Plan& scenario,
                                             const std::vector<hardware::GpuProfile>& gpus,
                                             evaluation::FastEvaluator& evaluator,
                                             Progress* progress = nullptr);

}  // namespace memsim::tools
