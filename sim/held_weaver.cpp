#include "sim/held_weaver.h"

#include <algorithm>

namespace memsim::sim {

HeldWeaver::HeldWeaver(const RankProgram& program, const std::vector<RecipeDelta>& deltas)
    : program_(program),
      index_(*program.index),
      held_(program.held),
      deltas_(deltas),
      held_layers_(program.held.size()),
      made_(program.held.size(), false) {}

void HeldWeaver::plan_gathers(const std::vector<RecipeOp>& forward,
                              const std::vector<RecipeOp>& backward) {
  gathers_ = plan_module_gathers(program_.gathering, *program_.graph, forward, backward);
}

void HeldWeaver::push_gathered(const std::vector<OpId>& ops, int8_t sign, Category category) {
  for (OpId op : ops)
    push(index_.gathered_parameters(program_.graph->twin_slot(op)), sign, category);
}

std::vector<RecipeOp> HeldWeaver::weave(const std::vector<RecipeOp>& ops, bool backward,
                                        std::vector<RecipeDelta>& out) {
  out_ = &out;
  backward_ = backward;
  run_start_.clear();
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i == 0 || ops[i].layer != ops[i - 1].layer) run_start_.push_back(i);
  }
  const auto mark = [&] { return static_cast<uint32_t>(out.size()); };
  std::vector<RecipeOp> woven;
  size_t run = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const RecipeOp& op = ops[i];
    const bool first_of_run = run < run_start_.size() && run_start_[run] == i;
    const bool last_of_run = i + 1 == ops.size() || ops[i + 1].layer != op.layer;
    if (first_of_run) std::fill(made_.begin(), made_.end(), false);
    RecipeOp& w = woven.emplace_back(op);
    w.begin = mark();
    for (size_t b = 0; b < held_.size(); ++b)
      start(b, ops, run, i, backward && op.phase == Phase::kBackward, first_of_run);
    copy(op.begin, op.split);
    w.split = mark();
    copy(op.split, op.end);
    for (size_t b = held_.size(); b-- > 0;)
      end(b, ops, run, i, last_of_run);
    if (last_of_run) ++run;
    w.end = mark();
  }
  return woven;
}

void HeldWeaver::start(size_t b, const std::vector<RecipeOp>& ops, size_t run, size_t i,
                       bool backward_op, bool first_of_run) {
  const HeldBuffer& h = held_[b];
  switch (h.span) {
    case HeldSpan::kBackwardPass:
      if (backward_ && i == 0) push(index_.held_single(h.quantity), 1, h.category);
      break;
    case HeldSpan::kLayerRuns:
      if (!first_of_run) break;
      for (size_t next = run;
           next < run_start_.size() && next <= run + static_cast<size_t>(h.ahead); ++next) {
        const int32_t layer = ops[run_start_[next]].layer;
        std::vector<int32_t>& layers = held_layers_[b];
        if (std::find(layers.begin(), layers.end(), layer) != layers.end()) continue;
        layers.push_back(layer);
        push(index_.held_of_layer(h.quantity, layer), 1, h.category);
      }
      break;
    case HeldSpan::kModuleTrace:
      push_gathered(gather_events(i).gathered, 1, h.category);
      break;
    case HeldSpan::kBackwardRuns:
      if (!backward_op || made_[b]) break;
      push(index_.held_of_layer(h.quantity, ops[i].layer), 1, h.category);
      made_[b] = true;
      break;
  }
}

void HeldWeaver::end(size_t b, const std::vector<RecipeOp>& ops, size_t run, size_t i,
                     bool last_of_run) {
  const HeldBuffer& h = held_[b];
  const int32_t layer = ops[i].layer;
  switch (h.span) {
    case HeldSpan::kBackwardPass:
      if (backward_ && i + 1 == ops.size()) push(index_.held_single(h.quantity), -1, h.category);
      break;
    case HeldSpan::kLayerRuns: {
      if (!last_of_run) break;
      bool needed_soon = false;
      for (size_t next = run + 1;
           next < run_start_.size() && next <= run + static_cast<size_t>(h.ahead); ++next)
        needed_soon = needed_soon || ops[run_start_[next]].layer == layer;
      std::vector<int32_t>& layers = held_layers_[b];
      const auto it = std::find(layers.begin(), layers.end(), layer);
      if (needed_soon || it == layers.end()) break;
      layers.erase(it);
      push(index_.held_of_layer(h.quantity, layer), -1, h.category);
      break;
    }
    case HeldSpan::kModuleTrace:
      push_gathered(gather_events(i).released, -1, h.category);
      break;
    case HeldSpan::kBackwardRuns:
      if (last_of_run && made_[b]) push(index_.held_of_layer(h.quantity, layer), -1, h.category);
      break;
  }
}

}  // namespace memsim::sim
