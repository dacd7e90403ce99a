#pragma once
/// Writers for `memsim timeline`: the per-rank memory events of one training step.

#include <cstdint>
#include <ostream>
#include <vector>

#include "sim/timeline.h"

namespace memsim::tools {

struct RankTimeline {
  int64_t rank = 0;
  sim::Timeline timeline;
};

/// SPEC.md's timeline CSV: rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes,
/// ranks interleaved in time order (ties: lower rank first, then event order).
void write_timeline_csv(const std::vector<RankTimeline>& ranks, std::ostream& out);

}  // namespace memsim::tools
