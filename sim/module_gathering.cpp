#include "sim/module_gathering.h"

#include <algorithm>
#include <limits>

#include "sim/check.h"
#include "sim/microbatch_recipe.h"

namespace memsim::sim {

namespace {

/// One run of a module in the trace, and where it is in its pass.
struct Use {
  OpId op = 0;
  int64_t elements = 0;
  bool backward_pass = false;
  size_t index = 0;
};

/// The coordinator's state through one trace (PartitionedParameterCoordinator): the
/// parameters gathered or in flight, their elements, the fetch queue's head, and for each
/// module the latest use it was fetched for.
class TraceCoordinator {
 public:
  TraceCoordinator(const GatheringLimits& limits, std::vector<Use> trace, int op_count)
      : limits_(limits),
        trace_(std::move(trace)),
        available_(op_count, false),
        fetched_for_(op_count, std::numeric_limits<int64_t>::min()),
        next_use_(trace_.size(), trace_.size()),
        elements_before_(trace_.size() + 1, 0) {
    std::vector<size_t> last(op_count, trace_.size());
    for (size_t step = trace_.size(); step-- > 0;) {
      next_use_[step] = last[trace_[step].op];
      last[trace_[step].op] = step;
    }
    for (size_t step = 0; step < trace_.size(); ++step)
      elements_before_[step + 1] = elements_before_[step] + trace_[step].elements;
  }

  void run(ModuleGathers& out) {
    for (size_t step = 0; step < trace_.size(); ++step) {
      const Use& use = trace_[step];
      GatherEvents& at = use.backward_pass ? out.backward[use.index] : out.forward[use.index];
      fetch(step, at);
      if (!kept_after(step)) {
        at.released.push_back(use.op);
        available_[use.op] = false;
        live_ -= use.elements;
      }
    }
    MEMSIM_CHECK(live_ == 0);
  }

 private:
  void gather(const Use& use, GatherEvents& at) {
    at.gathered.push_back(use.op);
    available_[use.op] = true;
    live_ += use.elements;
  }

  /// The module's own parameters, taken off the queue's head unless a prefetch took
  /// them, then the queue's next parameters up to the prefetch bucket.
  void fetch(size_t step, GatherEvents& at) {
    const Use& use = trace_[step];
    if (!available_[use.op]) gather(use, at);
    const auto now = static_cast<int64_t>(step);
    if (fetched_for_[use.op] < now) {
      MEMSIM_CHECK(queue_ == step);
      fetched_for_[use.op] = now;
      ++queue_;
    }
    if (limits_.prefetch_bucket <= 0) return;
    const int64_t most = std::min(limits_.max_live - live_, limits_.prefetch_bucket);
    int64_t prefetching = 0;
    std::vector<size_t> chosen;
    while (queue_ < trace_.size() && prefetching < most) {
      const Use& next = trace_[queue_];
      const bool taken = std::any_of(chosen.begin(), chosen.end(),
                                     [&](size_t c) { return trace_[c].op == next.op; });
      fetched_for_[next.op] = std::max(fetched_for_[next.op], static_cast<int64_t>(queue_));
      if (!available_[next.op] && !taken) {
        chosen.push_back(queue_);
        prefetching += next.elements;
      }
      ++queue_;
    }
    for (size_t c : chosen)
      gather(trace_[c], at);
  }

  /// After the module at `step` runs: kept when a prefetch already took a later use of it
  /// off the queue, or when its next use comes before `max_reuse_distance` elements of
  /// other uses have passed (the coordinator's step counter is then step + 1).
  bool kept_after(size_t step) const {
    const OpId op = trace_[step].op;
    if (fetched_for_[op] > static_cast<int64_t>(step + 1)) return true;
    const size_t next = next_use_[step];
    if (next == trace_.size()) return false;
    return elements_before_[next] - elements_before_[step + 1] < limits_.max_reuse_distance;
  }

  const GatheringLimits limits_;
  const std::vector<Use> trace_;
  std::vector<bool> available_;           ///< per op: gathered or in flight
  std::vector<int64_t> fetched_for_;      ///< per op: the latest use fetched for
  std::vector<size_t> next_use_;          ///< per step: the module's next use (size: none)
  std::vector<int64_t> elements_before_;  ///< per step: elements of the uses before it
  size_t queue_ = 0;                      ///< the fetch queue's head, a step
  int64_t live_ = 0;
};

}  // namespace

ModuleGathers plan_module_gathers(const ModuleGathering& gathering, const LayerGraph& graph,
                                  std::span<const RecipeOp> forward,
                                  std::span<const RecipeOp> backward) {
  ModuleGathers out;
  out.forward.resize(forward.size());
  out.backward.resize(backward.size());
  if (!gathering.gathers()) return out;
  std::vector<Use> trace;
  const auto add = [&](std::span<const RecipeOp> ops, bool backward_pass) {
    for (size_t i = 0; i < ops.size(); ++i) {
      const int64_t elements = gathering.elements[graph.twin_slot(ops[i].op)];
      if (elements > 0 && !ops[i].reused) trace.push_back({ops[i].op, elements, backward_pass, i});
    }
  };
  add(forward, false);
  add(backward, true);
  TraceCoordinator(gathering.limits, std::move(trace), graph.op_count()).run(out);
  return out;
}

}  // namespace memsim::sim
