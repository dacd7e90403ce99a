#include "sim/timeline.h"

namespace memsim::sim {

LiveMatrix Timeline::live_by_category() const {
  LiveMatrix live(static_cast<Eigen::Index>(events_.size()), kCategoryCount);
  Eigen::Matrix<int64_t, 1, kCategoryCount> running = decltype(running)::Zero();
  for (size_t i = 0; i < events_.size(); ++i) {
    running(static_cast<Eigen::Index>(events_[i].category)) += events_[i].delta.value();
    live.row(static_cast<Eigen::Index>(i)) = running;
  }
  return live;
}

}  // namespace memsim::sim
