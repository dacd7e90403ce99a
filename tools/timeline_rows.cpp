#include "tools/timeline_rows.h"

#include <cmath>

namespace memsim::tools {

namespace {

/// Whether two events fall in one bucket.
bool same_bucket(const sim::MemoryEvent& a, const sim::MemoryEvent& b, const Resolution& r) {
  switch (r.kind) {
    case Resolution::Kind::kEvent:
      return a.t_s == b.t_s;
    case Resolution::Kind::kTime:
      return std::floor(a.t_s / r.seconds) == std::floor(b.t_s / r.seconds);
    case Resolution::Kind::kLayer:
      return a.phase == b.phase && a.microbatch == b.microbatch && a.layer == b.layer;
  }
  return false;
}

/// kEvent: a run of events of one op, one category and one direction at one instant is a row
/// of their sum (a run in one direction has its extremes at its ends).
void event_rows(const std::vector<sim::MemoryEvent>& events, const Eigen::VectorX<int64_t>& total,
                std::vector<TimelineRow>& rows) {
  for (size_t i = 0; i < events.size(); ++i) {
    const sim::MemoryEvent& e = events[i];
    if (i > 0 && !rows.empty()) {
      const sim::MemoryEvent& before = events[i - 1];
      if (before.t_s == e.t_s && before.category == e.category && before.phase == e.phase &&
          before.microbatch == e.microbatch && before.layer == e.layer &&
          (before.delta.value() < 0) == (e.delta.value() < 0)) {
        rows.back().event = i;
        rows.back().delta += e.delta.value();
        rows.back().live = total(static_cast<Eigen::Index>(i));
        continue;
      }
    }
    rows.push_back({i, e.category, e.delta.value(), total(static_cast<Eigen::Index>(i))});
  }
}

/// Events [begin, end) as at most a row a category that changed: frees first, then
/// allocations, so that no row ends above the span's end.
void span_rows(const std::vector<sim::MemoryEvent>& events, size_t begin, size_t end,
               int64_t live_before, std::vector<TimelineRow>& rows) {
  sim::CategoryBytes net;
  for (size_t i = begin; i < end; ++i)
    net[events[i].category] += events[i].delta;
  int64_t live = live_before;
  for (const bool freeing : {true, false}) {
    for (sim::Category c : sim::kAllCategories) {
      const int64_t delta = net[c].value();
      if (delta == 0 || (delta < 0) != freeing) continue;
      live += delta;
      rows.push_back({end - 1, c, delta, live});
    }
  }
}

}  // namespace

std::vector<std::pair<size_t, size_t>> timeline_buckets(const std::vector<sim::MemoryEvent>& events,
                                                        const Resolution& resolution) {
  std::vector<std::pair<size_t, size_t>> buckets;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0 && same_bucket(events[i - 1], events[i], resolution)) {
      buckets.back().second = i + 1;
    } else {
      buckets.emplace_back(i, i + 1);
    }
  }
  return buckets;
}

std::vector<TimelineRow> timeline_rows(const std::vector<sim::MemoryEvent>& events,
                                       const sim::LiveMatrix& live, const Resolution& resolution) {
  const Eigen::VectorX<int64_t> total = live.rowwise().sum();
  std::vector<TimelineRow> rows;
  if (resolution.kind == Resolution::Kind::kEvent) {
    event_rows(events, total, rows);
    return rows;
  }
  // Each bucket up to its fullest moment, then the rest: the fullest moment is a row.
  for (const auto& [begin, end] : timeline_buckets(events, resolution)) {
    size_t fullest = begin;
    for (size_t i = begin; i < end; ++i) {
      if (total(static_cast<Eigen::Index>(i)) > total(static_cast<Eigen::Index>(fullest))) {
        fullest = i;
      }
    }
    const int64_t before = begin == 0 ? 0 : total(static_cast<Eigen::Index>(begin) - 1);
    span_rows(events, begin, fullest + 1, before, rows);
    span_rows(events, fullest + 1, end, total(static_cast<Eigen::Index>(fullest)), rows);
  }
  return rows;
}

}  // namespace memsim::tools
