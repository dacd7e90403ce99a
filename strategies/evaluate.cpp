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
    entry.fits = entry.memory.peak <= report.capacity;
    report.fits = report.fits && entry.fits;
    report.peak = std::max(report.peak, entry.memory.peak);
    report.step_time_s = std::max(report.step_time_s, entry.memory.step_time_s);
  }
  return report;
}

TrainingReport evaluate(const TrainingPlan& plan) {
  return evaluate(CompiledPlan(plan));
}

}  // namespace memsim::strategies
