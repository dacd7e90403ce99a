#pragma once
/// A simulated timeline as the rows its writers print, at the resolution asked: every op's
/// moment, or coarser buckets (a time step, or a layer's pass) kept to their fullest moment
/// and their end. Every live total a row ends at is one the walk passed through, and every
/// bucket's fullest moment is a row, so the peak of every class stays exact.

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "sim/memory_event.h"
#include "sim/timeline.h"

namespace memsim::tools {

struct Resolution {
  enum class Kind {
    kEvent,  ///< one op's allocations (or frees) of one category at one instant a row
    kTime,   ///< buckets of `seconds`
    kLayer,  ///< a bucket each pass of one layer (phase, microbatch, layer)
  };
  Kind kind = Kind::kEvent;
  double seconds = 0.0;
};

struct TimelineRow {
  size_t event = 0;  ///< the last event it stands for (its time, phase, microbatch, layer)
  sim::Category category = sim::Category::kWeights;
  int64_t delta = 0;
  int64_t live = 0;  ///< every category's bytes after it
};

/// Runs of consecutive events in one bucket: [begin, end) each.
std::vector<std::pair<size_t, size_t>> timeline_buckets(const std::vector<sim::MemoryEvent>& events,
                                                        const Resolution& resolution);

/// `events` (with `live`, their categories' bytes after each) as rows.
std::vector<TimelineRow> timeline_rows(const std::vector<sim::MemoryEvent>& events,
                                       const sim::LiveMatrix& live, const Resolution& resolution);

}  // namespace memsim::tools
