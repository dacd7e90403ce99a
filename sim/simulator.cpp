#include "sim/simulator.h"

#include "sim/check.h"
#include "sim/microbatch_recipe.h"

namespace memsim::sim {

void PeakTracker::apply(const MemoryEvent& event) {
  live_[event.category] += event.delta;
  live_total_ += event.delta;
  MEMSIM_CHECK(live_[event.category].value() >= 0);
  if (live_[event.category] > result_.max_by_category[event.category]) {
    result_.max_by_category[event.category] = live_[event.category];
  }
  if (live_total_ > result_.peak) {
    result_.peak = live_total_;
    result_.at_peak = live_;
    result_.peak_moment = {event.t_s, event.phase, event.microbatch, event.layer};
  }
}

namespace {

class Walker {
 public:
  Walker(const RankProgram& program, EventSink* sink)
      : program_(program), recipe_(compile_recipe(program)), sink_(sink) {}

  RankResult run() {
    for (Category category : kAllCategories) {
      emit(program_.resident[category], category, Phase::kIdle, kNoIndex, kNoIndex);
    }
    Bytes gradients_made;
    for (int64_t mb = 0; mb < program_.microbatches; ++mb) {
      const auto microbatch = static_cast<int32_t>(mb);
      replay(recipe_.forward, microbatch, false, gradients_made);
      replay(recipe_.backward, microbatch, mb == 0, gradients_made);
    }
    now_ += program_.optimizer_s;
    if (program_.gradients_on_demand) {
      // zero_grad(set_to_none=True): gradients are released after the step.
      emit(-gradients_made, Category::kGradients, Phase::kOptimizer, kNoIndex, kNoIndex);
    }
    RankResult result = tracker_.result();
    result.activations_per_microbatch = recipe_.saved_bytes;
    result.step_time_s = now_;
    return result;
  }

 private:
  void emit(Bytes delta, Category category, Phase phase, int32_t microbatch, int32_t layer) {
    if (delta.value() == 0) return;
    const MemoryEvent event{now_, delta, category, phase, microbatch, layer};
    tracker_.apply(event);
    if (sink_ != nullptr) sink_->record(event);
  }

  void replay(const std::vector<RecipeOp>& ops, int32_t microbatch, bool first_backward,
              Bytes& gradients_made) {
    for (const RecipeOp& op : ops) {
      if (first_backward && program_.gradients_on_demand) {
        emit(op.parameter_gradients, Category::kGradients, op.phase, microbatch, op.layer);
        gradients_made += op.parameter_gradients;
      }
      for (uint32_t i = op.begin; i < op.split; ++i) {
        emit(recipe_.deltas[i].bytes, recipe_.deltas[i].category, op.phase, microbatch, op.layer);
      }
      now_ += op.duration_s;
      for (uint32_t i = op.split; i < op.end; ++i) {
        emit(recipe_.deltas[i].bytes, recipe_.deltas[i].category, op.phase, microbatch, op.layer);
      }
    }
  }

  const RankProgram& program_;
  MicrobatchRecipe recipe_;
  EventSink* sink_;
  PeakTracker tracker_;
  double now_ = 0.0;
};

}  // namespace

RankResult simulate(const RankProgram& program, EventSink* sink) {
  return Walker(program, sink).run();
}

}  // namespace memsim::sim
