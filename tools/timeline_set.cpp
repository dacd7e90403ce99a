#include <fmt/format.h>

#include "evaluation/evaluate.h"
#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

/// Adds `where` (walking program `program`) to its track: its own, or its class's.
void add_to_track(TimelineSet& set, TrackPerRank mode, size_t program,
                  const evaluation::RankPlacement& where, std::vector<int64_t>& class_track) {
  if (mode == TrackPerRank::kClass && class_track[program] >= 0) {
    set.tracks[class_track[program]].ranks.push_back(where);
    return;
  }
  class_track[program] = static_cast<int64_t>(set.tracks.size());
  set.tracks.push_back({program, {where}});
}

}  // namespace

TimelineSet build_timelines(const evaluation::CompiledPlan& compiled,
                            const std::vector<int64_t>& ranks, std::string title, TrackPerRank mode,
                            Progress* progress) {
  TimelineSet set;
  set.title = std::move(title);
  set.capacity = compiled.plan().cluster.gpu->capacity;
  set.usable = evaluation::usable_memory(compiled.plan());
  std::vector<int64_t> slot(compiled.program_count(), -1);
  std::vector<int64_t> class_track(compiled.program_count(), -1);
  for (size_t r = 0; r < ranks.size(); ++r) {
    if (progress != nullptr) progress->update(r);
    const int64_t rank = ranks[r];
    const size_t index = compiled.program_index(rank);
    if (slot[index] < 0) {
      slot[index] = static_cast<int64_t>(set.programs.size());
      ProgramTimeline& p = set.programs.emplace_back();
      p.result = sim::simulate(compiled.program(rank), &p.timeline);
      p.live = p.timeline.live_by_category();
      p.pp_stage = compiled.placement(rank).pp_stage;
    }
    add_to_track(set, mode, static_cast<size_t>(slot[index]), compiled.placement(rank),
                 class_track);
  }
  return set;
}

TimelineSet build_timelines(const evaluation::CompiledInference& compiled,
                            const std::vector<int64_t>& ranks, std::string title, TrackPerRank mode,
                            Progress* progress) {
  const strategies::ServingPlan& plan = compiled.plan();
  TimelineSet set;
  set.title = std::move(title);
  set.capacity = plan.cluster.gpu->capacity;
  set.usable = evaluation::usable_memory(plan);
  std::vector<int64_t> slot(compiled.stages(), -1);
  std::vector<int64_t> class_track(compiled.stages(), -1);
  // At most kTimelineDecodeSteps decode steps, the last among them.
  const int64_t steps = plan.inference.generate_len;
  const int64_t stride =
      std::max<int64_t>(1, (steps + kTimelineDecodeSteps - 1) / kTimelineDecodeSteps);
  for (size_t r = 0; r < ranks.size(); ++r) {
    if (progress != nullptr) progress->update(r);
    const evaluation::RankPlacement where = evaluation::rank_placement(plan.parallel, ranks[r]);
    if (slot[where.pp_stage] < 0) {
      slot[where.pp_stage] = static_cast<int64_t>(set.programs.size());
      ProgramTimeline& p = set.programs.emplace_back();
      p.result = compiled.walk(where.pp_stage, stride, &p.timeline);
      p.live = p.timeline.live_by_category();
      p.pp_stage = where.pp_stage;
    }
    add_to_track(set, mode, static_cast<size_t>(slot[where.pp_stage]), where, class_track);
  }
  return set;
}

TimelineSet build_timelines(const strategies::Plan& plan, const std::vector<int64_t>& ranks,
                            std::string title, TrackPerRank tracks, Progress* progress) {
  if (plan.mode == strategies::Mode::kInference) {
    return build_timelines(evaluation::CompiledInference(strategies::serving_plan(plan)), ranks,
                           std::move(title), tracks, progress);
  }
  return build_timelines(evaluation::CompiledPlan(plan), ranks, std::move(title), tracks, progress);
}

std::string rank_ranges(const std::vector<evaluation::RankPlacement>& ranks,
                        const std::string& range, const std::string& separator) {
  std::string text;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1].rank == ranks[j].rank + 1)
      ++j;
    if (!text.empty()) text += separator;
    text += i == j ? fmt::format("{}", ranks[i].rank)
                   : fmt::format("{}{}{}", ranks[i].rank, range, ranks[j].rank);
    i = j + 1;
  }
  return text;
}

}  // namespace memsim::tools
