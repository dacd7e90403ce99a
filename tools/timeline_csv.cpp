#include <functional>
#include <queue>

#include <fmt/format.h>

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

/// A program's events as CSV rows: a run of events at the same instant, of the same op (phase,
/// microbatch, layer) and category, all allocating or all freeing, is one row of their sum.
/// Every live total a row ends at is one the walk passed through, and a run in one direction
/// has its extremes at its ends, so every peak and trough of the curve stays a row.
struct Rows {
  std::vector<size_t> last;    ///< the last event of each row
  std::vector<int64_t> delta;  ///< each row's bytes
};

bool same_row(const sim::MemoryEvent& a, const sim::MemoryEvent& b) {
  return a.t_s == b.t_s && a.category == b.category && a.phase == b.phase &&
         a.microbatch == b.microbatch && a.layer == b.layer &&
         (a.delta.value() < 0) == (b.delta.value() < 0);
}

Rows rows_of(const std::vector<sim::MemoryEvent>& events) {
  Rows rows;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0 && same_row(events[i - 1], events[i])) {
      rows.last.back() = i;
      rows.delta.back() += events[i].delta.value();
    } else {
      rows.last.push_back(i);
      rows.delta.push_back(events[i].delta.value());
    }
  }
  return rows;
}

}  // namespace

void write_timeline_csv(const TimelineSet& set, std::ostream& out) {
  out << "rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes,ranks\n";
  std::vector<Eigen::Matrix<int64_t, Eigen::Dynamic, 1>> totals;
  std::vector<Rows> rows;
  for (const ProgramTimeline& p : set.programs) {
    totals.push_back(p.live.rowwise().sum());
    rows.push_back(rows_of(p.timeline.events()));
  }
  std::vector<std::string> names;  // of each track's ranks
  for (const Track& track : set.tracks)
    names.push_back(rank_ranges(track.ranks, "-", " "));

  // k-way merge by time; each track's own rows stay in order.
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<>> heap;
  auto push = [&](size_t t, size_t row) {
    const size_t program = set.tracks[t].program;
    if (row < rows[program].last.size()) {
      heap.push({set.programs[program].timeline.events()[rows[program].last[row]].t_s, t, row});
    }
  };
  for (size_t t = 0; t < set.tracks.size(); ++t)
    push(t, 0);
  fmt::memory_buffer line;
  while (!heap.empty()) {
    const Cursor c = heap.top();
    heap.pop();
    const Track& track = set.tracks[c.track];
    const size_t last = rows[track.program].last[c.row];
    const sim::MemoryEvent& event = set.programs[track.program].timeline.events()[last];
    line.clear();
    fmt::format_to(std::back_inserter(line), "{},{:.9g},{},{},{},{},{},{},{}\n",
                   track.ranks.front().rank, event.t_s, sim::phase_name(event.phase),
                   index_field(event.microbatch), index_field(event.layer),
                   sim::category_name(event.category), rows[track.program].delta[c.row],
                   totals[track.program](static_cast<Eigen::Index>(last)), names[c.track]);
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    push(c.track, c.row + 1);
  }
}

}  // namespace memsim::tools
