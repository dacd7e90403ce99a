#pragma once
/// A rank's memory over one step: the events of a walk, and live bytes per category after
/// each event as an Eigen matrix (events × categories). The matrix's largest row sum is by
/// construction the walk's peak.

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "sim/memory_event.h"
#include "sim/simulator.h"

namespace memsim::sim {

using LiveMatrix = Eigen::Matrix<int64_t, Eigen::Dynamic, kCategoryCount, Eigen::RowMajor>;

class Timeline : public EventSink {
 public:
  void record(const MemoryEvent& event) override { events_.push_back(event); }
  void span(const Span& span) override { spans_.push_back(span); }
  const std::vector<MemoryEvent>& events() const { return events_; }
  const std::vector<Span>& spans() const { return spans_; }
  /// Row i: live bytes per category after event i.
  LiveMatrix live_by_category() const;

 private:
  std::vector<MemoryEvent> events_;
  std::vector<Span> spans_;
};

}  // namespace memsim::sim
