#include "strategies/evaluate.h"

#include <algorithm>

namespace memsim::strategies {

TrainingReport evaluate(const CompiledPlan& compiled) {
  const TrainingPlan& plan = compiled.plan();
  TrainingReport report;
  report.parameters = compiled.graph().parameter_count();
  report.world_size = compiled.world_size();
  report.microbatches = plan.microbatches();
  report.capacity = plan.cluster.gpu.capacity;

  std::vector<sim::RankResult> results;
  results.reserve(compiled.program_count());
  for (size_t i = 0; i < compiled.program_count(); ++i)
    results.emplace_back();
  std::vector<bool> done(compiled.program_count(), false);

  report.fits = true;
  for (int64_t rank = 0; rank < compiled.world_size(); ++rank) {
    const size_t index = compiled.program_index(rank);
    if (!done[index]) {
      results[index] = sim::simulate(compiled.program(rank));
      done[index] = true;
    }
    RankReport& entry = report.ranks.emplace_back();
    entry.placement = compiled.placement(rank);
    entry.parameters = compiled.rank_parameters(rank);
    entry.memory = results[index];
    entry.overheads = compiled.overheads(rank);
    entry.cpu_bytes = compiled.rank_cpu_bytes(rank);
    entry.fits = entry.memory.peak <= report.capacity;
    report.fits = report.fits && entry.fits;
    report.peak = std::max(report.peak, entry.memory.peak);
    report.step_time_s = std::max(report.step_time_s, entry.memory.step_time_s);
  }
  const int64_t per_node = plan.cluster.gpus_per_node;
  for (int64_t first = 0; first < compiled.world_size(); first += per_node) {
    sim::Bytes node;
    for (int64_t rank = first; rank < first + per_node; ++rank)
      node += report.ranks[rank].cpu_bytes;
    report.cpu_bytes_per_node = std::max(report.cpu_bytes_per_node, node);
  }
  report.cpu_capacity_per_node = plan.cluster.cpu_memory_per_node();
  report.bubble_fraction = compiled.bubble_fraction();
  if (report.step_time_s > 0.0) {
    report.tokens_per_s = static_cast<double>(plan.training.global_batch * plan.training.seq_len) /
                          report.step_time_s;
    report.model_flops_utilization = compiled.model_flops_per_step() /
                                     (report.step_time_s * static_cast<double>(report.world_size) *
                                      plan.cluster.gpu.peak_16bit_flop_per_s);
  }
  report.cpu_fits = report.cpu_bytes_per_node <= report.cpu_capacity_per_node;
  report.fits = report.fits && report.cpu_fits;
  return report;
}

TrainingReport evaluate(const TrainingPlan& plan) {
  return evaluate(CompiledPlan(plan));
}

}  // namespace memsim::strategies
