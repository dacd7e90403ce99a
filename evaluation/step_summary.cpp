#include "evaluation/step_summary.h"

#include <algorithm>

namespace memsim::evaluation {

sim::Bytes fullest_node_cpu_bytes(const TrainingPlan& plan,
                                  const std::vector<sim::Bytes>& stage_cpu) {
  const int64_t per_node = plan.cluster.gpus_per_node;
  const int64_t per_stage = plan.parallel.tp.degree * plan.parallel.dp.degree;
  if (std::all_of(stage_cpu.begin(), stage_cpu.end(),
                  [](sim::Bytes b) { return b.value() == 0; })) {
    return {};
  }
  sim::Bytes fullest;
  for (int64_t first = 0; first < plan.cluster.world_size(); first += per_node) {
    sim::Bytes node;
    for (int64_t rank = first; rank < first + per_node;) {
      const int64_t stage = rank / per_stage;
      const int64_t until = std::min(first + per_node, (stage + 1) * per_stage);
      node += stage_cpu[stage] * (until - rank);
      rank = until;
    }
    fullest = std::max(fullest, node);
  }
  return fullest;
}

bool step_fits(const TrainingPlan& plan, sim::Bytes peak, sim::Bytes cpu_bytes_per_node) {
  return peak <= plan.cluster.gpu->capacity &&
         cpu_bytes_per_node <= plan.cluster.cpu_memory_per_node();
}

Throughput step_throughput(const TrainingPlan& plan, double step_time_s, double model_flops) {
  if (step_time_s <= 0.0) return {};
  Throughput throughput;
  throughput.tokens_per_s =
      static_cast<double>(plan.training.global_batch * plan.training.seq_len) / step_time_s;
  throughput.model_flops_utilization =
      model_flops / (step_time_s * static_cast<double>(plan.cluster.world_size()) *
                     plan.cluster.gpu->peak_16bit_flop_per_s);
  return throughput;
}

}  // namespace memsim::evaluation
