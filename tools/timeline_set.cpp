#include "tools/timeline_writers.h"

namespace memsim::tools {

TimelineSet build_timelines(const strategies::CompiledPlan& compiled,
                            const std::vector<int64_t>& ranks, std::string title) {
  TimelineSet set;
  set.title = std::move(title);
  set.capacity = compiled.plan().cluster.gpu.capacity;
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

}  // namespace memsim::tools
