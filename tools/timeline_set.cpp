#include "strategies/evaluate.h"
#include "tools/timeline_writers.h"

namespace memsim::tools {

TimelineSet build_timelines(const strategies::CompiledPlan& compiled,
                            const std::vector<int64_t>& ranks, std::string title) {
  TimelineSet set;
  set.title = std::move(title);
  set.capacity = compiled.plan().cluster.gpu.capacity;
  set.usable = strategies::usable_memory(compiled.plan());
  std::vector<int64_t> slot(compiled.program_count(), -1);
  for (int64_t rank : ranks) {
    const size_t index = compiled.program_index(rank);
    if (slot[index] < 0) {
      slot[index] = static_cast<int64_t>(set.programs.size());
      ProgramTimeline& p = set.programs.emplace_back();
      p.result = sim::simulate(compiled.program(rank), &p.timeline);
      p.live = p.timeline.live_by_category();
      p.pp_stage = compiled.placement(rank).pp_stage;
    }
    set.ranks.push_back({compiled.placement(rank), static_cast<size_t>(slot[index])});
  }
  return set;
}

TimelineSet build_timelines(const strategies::CompiledInference& compiled,
                            const std::vector<int64_t>& ranks, std::string title) {
  const strategies::TrainingPlan& plan = compiled.plan();
  TimelineSet set;
  set.title = std::move(title);
  set.capacity = plan.cluster.gpu.capacity;
  set.usable = strategies::usable_memory(plan);
  std::vector<int64_t> slot(compiled.stages(), -1);
  // At most kTimelineDecodeSteps decode steps, the last among them.
  const int64_t steps = plan.inference.generate_len;
  const int64_t stride =
      std::max<int64_t>(1, (steps + kTimelineDecodeSteps - 1) / kTimelineDecodeSteps);
  for (int64_t rank : ranks) {
    const strategies::RankPlacement where = strategies::rank_placement(plan.parallel, rank);
    if (slot[where.pp_stage] < 0) {
      slot[where.pp_stage] = static_cast<int64_t>(set.programs.size());
      ProgramTimeline& p = set.programs.emplace_back();
      p.result = compiled.walk(where.pp_stage, stride, &p.timeline);
      p.live = p.timeline.live_by_category();
      p.pp_stage = where.pp_stage;
    }
    set.ranks.push_back({where, static_cast<size_t>(slot[where.pp_stage])});
  }
  return set;
}

}  // namespace memsim::tools
