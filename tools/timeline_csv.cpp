#include <functional>
#include <queue>

#include <fmt/format.h>

#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

std::string index_field(int32_t index) {
  return index == sim::kNoIndex ? std::string() : std::to_string(index);
}

/// The next unwritten event of one rank, ordered for a min-heap by time, then rank.
struct Cursor {
  double t_s;
  size_t rank_index;
  size_t event;
  bool operator>(const Cursor& other) const {
    return t_s != other.t_s ? t_s > other.t_s : rank_index > other.rank_index;
  }
};

}  // namespace

void write_timeline_csv(const TimelineSet& set, std::ostream& out) {
  out << "rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes\n";
  std::vector<Eigen::Matrix<int64_t, Eigen::Dynamic, 1>> totals;
  for (const ProgramTimeline& p : set.programs)
    totals.push_back(p.live.rowwise().sum());

  // k-way merge by time; each rank's own events stay in order.
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<>> heap;
  auto push = [&](size_t r, size_t e) {
    const auto& events = set.programs[set.ranks[r].program].timeline.events();
    if (e < events.size()) heap.push({events[e].t_s, r, e});
  };
  for (size_t r = 0; r < set.ranks.size(); ++r)
    push(r, 0);
  fmt::memory_buffer line;
  while (!heap.empty()) {
    const Cursor c = heap.top();
    heap.pop();
    const RankTimeline& rank = set.ranks[c.rank_index];
    const sim::MemoryEvent& event = set.programs[rank.program].timeline.events()[c.event];
    line.clear();
    fmt::format_to(std::back_inserter(line), "{},{:.9g},{},{},{},{},{},{}\n", rank.placement.rank,
                   event.t_s, sim::phase_name(event.phase), index_field(event.microbatch),
                   index_field(event.layer), sim::category_name(event.category),
                   event.delta.value(), totals[rank.program](static_cast<Eigen::Index>(c.event)));
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    push(c.rank_index, c.event + 1);
  }
}

}  // namespace memsim::tools
