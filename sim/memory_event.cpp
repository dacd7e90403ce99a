#include "sim/memory_event.h"

namespace memsim::sim {

std::string_view category_name(Category category) {
  switch (category) {
    case Category::kWeights:
      return "weights";
    case Category::kMasterWeights:
      return "master_weights";
    case Category::kGradients:
      return "gradients";
    case Category::kOptimizer:
      return "optimizer";
    case Category::kActivations:
      return "activations";
    case Category::kKvCache:
      return "kv_cache";
    case Category::kTemporary:
      return "temporary";
    case Category::kOverhead:
      return "overhead";
  }
  return "?";
}

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::kForward:
      return "forward";
    case Phase::kBackward:
      return "backward";
    case Phase::kRecompute:
      return "recompute";
    case Phase::kOptimizer:
      return "optimizer";
    case Phase::kCommunication:
      return "communication";
    case Phase::kIdle:
      return "idle";
  }
  return "?";
}

Bytes CategoryBytes::total() const {
  Bytes sum;
  for (Bytes b : bytes_)
    sum += b;
  return sum;
}

}  // namespace memsim::sim
