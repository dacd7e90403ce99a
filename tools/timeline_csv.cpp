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

void write_timeline_csv(const std::vector<RankTimeline>& ranks, std::ostream& out) {
  out << "rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes\n";
  std::vector<Eigen::Matrix<int64_t, Eigen::Dynamic, 1>> live;
  live.reserve(ranks.size());
  for (const RankTimeline& r : ranks)
    live.push_back(r.timeline.live_by_category().rowwise().sum());

  // k-way merge by time; each rank's own events stay in order.
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<>> heap;
  auto push = [&](size_t r, size_t e) {
    if (e < ranks[r].timeline.events().size()) heap.push({ranks[r].timeline.events()[e].t_s, r, e});
  };
  for (size_t r = 0; r < ranks.size(); ++r)
    push(r, 0);
  fmt::memory_buffer line;
  while (!heap.empty()) {
    const Cursor c = heap.top();
    heap.pop();
    const sim::MemoryEvent& event = ranks[c.rank_index].timeline.events()[c.event];
    line.clear();
    fmt::format_to(std::back_inserter(line), "{},{:.9g},{},{},{},{},{},{}\n",
                   ranks[c.rank_index].rank, event.t_s, sim::phase_name(event.phase),
                   index_field(event.microbatch), index_field(event.layer),
                   sim::category_name(event.category), event.delta.value(),
                   live[c.rank_index](static_cast<Eigen::Index>(c.event)));
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    push(c.rank_index, c.event + 1);
  }
}

}  // namespace memsim::tools
