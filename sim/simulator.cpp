#include "sim/simulator.h"

#include <algorithm>

#include "sim/check.h"
#include "sim/microbatch_recipe.h"
#include "sim/schedule_walk.h"

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

/// A recipe with sizes and times filled in (a training program's, or a serving pass's),
/// deltas of no bytes left out: what the walk replays, step after step, without looking
/// anything up.
struct SizedRecipe {
  struct Delta {
    Bytes bytes;
    Category category;
    bool host;
  };
  struct Op {
    RecipeOp op;  ///< its begin, split and end index `deltas`
    double duration_s;
    Bytes parameter_gradients;  ///< made by its backward when gradients are made on demand
    Bytes freed_gradients;      ///< freed as its backward ends (stepped in backward)
    Bytes added_gradients;      ///< made anew and added to those it finds, while it runs
    Bytes waiting_gradients;    ///< made anew for a shared weight, held to the pass's end
  };
  std::vector<Op> forward;
  std::vector<Op> backward;
  std::vector<Op> backward_input;
  std::vector<Op> backward_weight;
  std::vector<Delta> deltas;
  Bytes saved;

  /// `sizes` per quantity of the program's index, `op_times` per OpId.
  SizedRecipe(const MicrobatchRecipe& recipe, const RankProgram& program,
              const std::vector<Bytes>& sizes, const std::vector<OpTimes>& op_times)
      : saved(recipe.saved_bytes(sizes)) {
    MEMSIM_CHECK(static_cast<int>(sizes.size()) == program.index->count());
    MEMSIM_CHECK(static_cast<int>(op_times.size()) == program.graph->op_count());
    const auto copy = [&](uint32_t from, uint32_t to) {
      for (uint32_t i = from; i < to; ++i) {
        const RecipeDelta& d = recipe.deltas[i];
        const Bytes bytes = delta_bytes(d, sizes);
        if (bytes.value() != 0) deltas.push_back({bytes, d.category, d.host});
      }
      return static_cast<uint32_t>(deltas.size());
    };
    const auto add = [&](const std::vector<RecipeOp>& ops, std::vector<Op>& out) {
      for (const RecipeOp& op : ops) {
        const bool backward = op.phase == Phase::kBackward;
        Op& sized = out.emplace_back(Op{op, duration_s(op, op_times[op.op]), {}, {}, {}, {}});
        // An input step leaves the weight gradients to the weight step.
        if (backward && op.part != BackwardPart::kInputs) {
          const int slot = program.graph->twin_slot(op.op);
          sized.parameter_gradients = sizes[program.index->parameter_gradients(slot)];
          sized.freed_gradients = sizes[program.index->freed_gradients(slot)];
          sized.added_gradients = sizes[program.index->added_gradients(slot)];
          sized.waiting_gradients = sizes[program.index->waiting_gradients(slot)];
        }
        sized.op.begin = static_cast<uint32_t>(deltas.size());
        sized.op.split = copy(op.begin, op.split);
        sized.op.end = copy(op.split, op.end);
      }
    };
    add(recipe.forward, forward);
    add(recipe.backward, backward);
    add(recipe.backward_input, backward_input);
    add(recipe.backward_weight, backward_weight);
  }

  static double duration_s(const RecipeOp& op, const OpTimes& times) {
    if (op.reused) return 0.0;
    if (op.phase != Phase::kBackward) return times.forward_s;
    switch (op.part) {
      case BackwardPart::kInputs:
        return times.backward_s - times.weight_s;
      case BackwardPart::kWeights:
        return times.weight_s;
      case BackwardPart::kWhole:
        break;
    }
    return times.backward_s;
  }

  /// The ops a step of `kind` runs.
  const std::vector<Op>& pass(StepKind kind) const {
    switch (kind) {
      case StepKind::kForward:
        return forward;
      case StepKind::kBackwardInput:
        return backward_input;
      case StepKind::kBackwardWeight:
        return backward_weight;
      case StepKind::kBackward:
        break;
    }
    return backward;
  }
};

class Walker {
 public:
  Walker(const RankProgram& program, EventSink* sink) : program_(program), sink_(sink) {
    MEMSIM_CHECK(program.graph != nullptr && program.index != nullptr);
  }

  /// The training step: the schedule's steps with the program's sizes and times.
  RankResult run() {
    std::vector<SizedRecipe> recipes;
    for (size_t c = 0; c < program_.chunks.size(); ++c) {
      recipes.emplace_back(compile_recipe(program_, c), program_, program_.sizes,
                           program_.op_times);
    }
    hold();
    double busy = 0.0;
    walk_steps(program_.steps, static_cast<int64_t>(recipes.size()), [&](const StepState& at) {
      const ScheduledStep& step = at.step;
      if (step.start_s > now_) {
        span(now_, step.start_s, Phase::kIdle, kNoIndex, kNoIndex);
        now_ = step.start_s;
      }
      const SizedRecipe& recipe = recipes[step.chunk];
      const double start = now_;
      const ChunkSpan& chunk = program_.chunks[step.chunk];
      const bool forward = step.kind == StepKind::kForward;
      const double wait = forward                                  ? chunk.forward_wait_s
                          : step.kind == StepKind::kBackwardWeight ? 0.0
                                                                   : chunk.backward_wait_s;
      if (wait > 0.0) {
        span(now_, now_ + wait, Phase::kCommunication, step.microbatch, step.chunk);
        now_ += wait;
      }
      replay(recipe, recipe.pass(step.kind), step, at.first_backward);
      span(start, now_, forward ? Phase::kForward : Phase::kBackward, step.microbatch, step.chunk,
           step.kind);
      busy += now_ - start;
    });
    const double last_step_end = now_;
    if (program_.sync_s > 0.0) {
      span(now_, now_ + program_.sync_s, Phase::kCommunication, kNoIndex, kNoIndex);
      now_ += program_.sync_s;
    }
    span(now_, now_ + program_.optimizer_s, Phase::kOptimizer, kNoIndex, kNoIndex);
    emit(program_.optimizer_workspace, Category::kTemporary, Phase::kOptimizer, kNoIndex, kNoIndex);
    now_ += program_.optimizer_s;
    emit(-program_.optimizer_workspace, Category::kTemporary, Phase::kOptimizer, kNoIndex,
         kNoIndex);
    if (program_.gradients != GradientLifetime::kWholeStep) {
      // zero_grad(set_to_none=True): gradients are released after the step (stepped in
      // backward, a shared weight's, stepped at the pass's end).
      emit(-gradients_made_, Category::kGradients, Phase::kOptimizer, kNoIndex, kNoIndex);
    }
    RankResult result = tracker_.result();
    for (const SizedRecipe& recipe : recipes)
      result.activations_per_microbatch += recipe.saved;
    result.step_time_s = now_;
    result.host_peak = host_peak_;
    result.busy_s = busy;
    result.last_step_end_s = last_step_end;
    return result;
  }

  /// Serving: the one chunk's recipe, compiled once, replayed pass after pass with each
  /// pass's sizes and times, the KV cache growing as each starts.
  RankResult serve(size_t count, const std::function<ServingPass(size_t)>& pass) {
    MEMSIM_CHECK(program_.no_grad && program_.chunks.size() == 1);
    const MicrobatchRecipe recipe = compile_recipe(program_, 0);
    hold();
    for (size_t i = 0; i < count; ++i) {
      const ServingPass priced = pass(i);
      const SizedRecipe sized(recipe, program_, priced.sizes, priced.op_times);
      const double start = now_;
      emit(priced.kv_growth, Category::kKvCache, Phase::kForward, priced.index, kNoIndex);
      replay(sized, sized.forward, {StepKind::kForward, priced.index, 0, 0.0}, false);
      span(start, now_, Phase::kForward, priced.index, 0);
    }
    RankResult result = tracker_.result();
    result.step_time_s = now_;
    result.busy_s = now_;
    result.last_step_end_s = now_;
    return result;
  }

 private:
  /// What the rank holds throughout, from time 0.
  void hold() {
    for (Category category : kAllCategories) {
      emit(program_.resident[category], category, Phase::kIdle, kNoIndex, kNoIndex);
    }
  }
  void emit(Bytes delta, Category category, Phase phase, int32_t microbatch, int32_t layer) {
    if (delta.value() == 0) return;
    const MemoryEvent event{now_, delta, category, phase, microbatch, layer};
    tracker_.apply(event);
    if (sink_ != nullptr) sink_->record(event);
  }
  void span(double start, double end, Phase phase, int32_t microbatch, int32_t chunk,
            StepKind kind = StepKind::kForward) {
    if (sink_ != nullptr && end > start) sink_->span({start, end, phase, microbatch, chunk, kind});
  }

  void replay(const SizedRecipe& recipe, const std::vector<SizedRecipe::Op>& ops,
              const ScheduledStep& step, bool first_backward) {
    const std::vector<SizedRecipe::Delta>& deltas = recipe.deltas;
    double recompute_start = -1.0;
    Bytes waiting;
    for (const SizedRecipe::Op& sized : ops) {
      const RecipeOp& op = sized.op;
      if (op.phase == Phase::kRecompute && recompute_start < 0.0) recompute_start = now_;
      if (op.phase != Phase::kRecompute && recompute_start >= 0.0) {
        span(recompute_start, now_, Phase::kRecompute, step.microbatch, step.chunk);
        recompute_start = -1.0;
      }
      const bool makes_gradients =
          first_backward && program_.gradients != GradientLifetime::kWholeStep;
      if (makes_gradients) {
        emit(sized.parameter_gradients, Category::kGradients, op.phase, step.microbatch, op.layer);
        gradients_made_ += sized.parameter_gradients;
      }
      // Gradients that exist already get a fresh one added to them (sized zero unless the
      // stage adds them so).
      const Bytes added = makes_gradients ? Bytes{} : sized.added_gradients;
      emit(added, Category::kGradients, op.phase, step.microbatch, op.layer);
      if (!makes_gradients && sized.waiting_gradients.value() != 0) {
        emit(sized.waiting_gradients, Category::kGradients, op.phase, step.microbatch, op.layer);
        waiting += sized.waiting_gradients;
      }
      for (uint32_t i = op.begin; i < op.split; ++i)
        apply(deltas[i], op, step);
      now_ += sized.duration_s;
      for (uint32_t i = op.split; i < op.end; ++i)
        apply(deltas[i], op, step);
      emit(-added, Category::kGradients, op.phase, step.microbatch, op.layer);
      if (makes_gradients && program_.gradients == GradientLifetime::kOpBackward) {
        emit(-sized.freed_gradients, Category::kGradients, op.phase, step.microbatch, op.layer);
        gradients_made_ -= sized.freed_gradients;
      }
    }
    if (waiting.value() != 0)
      emit(-waiting, Category::kGradients, Phase::kBackward, step.microbatch, kNoIndex);
  }
  /// A delta on the GPU is an event; one in host memory only counts towards the host peak.
  void apply(const SizedRecipe::Delta& delta, const RecipeOp& op, const ScheduledStep& step) {
    if (delta.host) {
      host_live_ += delta.bytes;
      host_peak_ = std::max(host_peak_, host_live_);
      return;
    }
    emit(delta.bytes, delta.category, op.phase, step.microbatch, op.layer);
  }

  const RankProgram& program_;
  EventSink* sink_;
  PeakTracker tracker_;
  Bytes gradients_made_;  ///< on demand, in the step's first backward
  Bytes host_live_;
  Bytes host_peak_;
  double now_ = 0.0;
};

}  // namespace

RankResult simulate(const RankProgram& program, EventSink* sink) {
  return Walker(program, sink).run();
}

RankResult simulate_serving(const RankProgram& program, size_t count,
                            const std::function<ServingPass(size_t)>& pass, EventSink* sink) {
  return Walker(program, sink).serve(count, pass);
}

}  // namespace memsim::sim
