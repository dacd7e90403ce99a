#include <functional>
#include <queue>

#include <fmt/format.h>

#include "tools/timeline_rows.h"
#include "tools/timeline_writers.h"

namespace memsim::tools {

namespace {

std::string index_field(int32_t index) {
  return index == sim::kNoIndex ? std::string() : std::to_string(index);
}

/// The next unwritten row of one track, ordered for a min-heap by time, then track.
struct Cursor {
  double t_s;
  size_t track;
  size_t row;
  bool operator>(const Cursor& other) const {
    return t_s != other.t_s ? t_s > other.t_s : track > other.track;
  }
};

}  // namespace

void write_timeline_csv(const TimelineSet& set, std::ostream& out) {
  out << "rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes,ranks\n";
  std::vector<std::vector<TimelineRow>> rows;
  for (const ProgramTimeline& p : set.programs)
    rows.push_back(timeline_rows(p.timeline.events(), p.live, set.resolution));
  std::vector<std::string> names;  // of each track's ranks
  for (const Track& track : set.tracks)
    names.push_back(rank_ranges(track.ranks, "-", " "));

  // k-way merge by time; each track's own rows stay in order.
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<>> heap;
  auto push = [&](size_t t, size_t row) {
    const size_t program = set.tracks[t].program;
    if (row < rows[program].size()) {
      heap.push({set.programs[program].timeline.events()[rows[program][row].event].t_s, t, row});
    }
  };
  for (size_t t = 0; t < set.tracks.size(); ++t)
    push(t, 0);
  fmt::memory_buffer line;
  while (!heap.empty()) {
    const Cursor c = heap.top();
    heap.pop();
    const Track& track = set.tracks[c.track];
    const TimelineRow& row = rows[track.program][c.row];
    const sim::MemoryEvent& event = set.programs[track.program].timeline.events()[row.event];
    line.clear();
    fmt::format_to(std::back_inserter(line), "{},{:.9g},{},{},{},{},{},{},{}\n",
                   track.ranks.front().rank, event.t_s, sim::phase_name(event.phase),
                   index_field(event.microbatch), index_field(event.layer),
                   sim::category_name(row.category), row.delta, row.live, names[c.track]);
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    push(c.track, c.row + 1);
  }
}

}  // namespace memsim::tools
