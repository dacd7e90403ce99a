#include <algorithm>

#include "sim/check.h"
#include "sim/recipe_compiler.h"

namespace memsim::sim {

MicrobatchRecipe RecipeCompiler::compile_split() {
  MEMSIM_CHECK(program_.recompute.empty() && !program_.host_moves);
  run_forward_pass();
  const bool inputs_take_gradients =
      std::any_of(received_.begin(), received_.end(),
                  [&](TensorId t) { return graph_.tensor(t).requires_grad; });
  if (!inputs_take_gradients) {
    run_backward_pass(recipe_.backward_weight);
  } else {
    find_weight_savers();
    for (int pos = chunk_.last; pos >= chunk_.first; --pos)
      input_backward(pos);
    for (int pos = chunk_.first; pos <= chunk_.last; ++pos) {
      if (has_weights(pos)) weight_backward(pos);
    }
  }
  check_all_freed();
  return std::move(recipe_);
}

void RecipeCompiler::find_weight_savers() {
  last_weight_saver_.assign(graph_.tensor_count(), -1);
  saved_without_weights_.assign(graph_.tensor_count(), false);
  for (int pos = chunk_.first; pos <= chunk_.last; ++pos) {
    if (has_weights(pos)) last_weighted_ = pos;
    for (TensorId t : op_at(pos).saved) {
      if (has_weights(pos)) {
        last_weight_saver_[t] = pos;
      } else {
        saved_without_weights_[t] = true;
      }
    }
  }
}

void RecipeCompiler::input_backward(int pos) {
  const OpNode& node = op_at(pos);
  RecipeOp& op = open(recipe_.backward_input, pos, Phase::kBackward);
  op.part = BackwardPart::kInputs;
  take_gradients(pos, node);
  work(op, pos, node.backward_workspace);
  for (TensorId t : node.outputs) {
    if (grad_alive_[t] && !has_weights(pos)) free(t, Category::kTemporary, grad_alive_);
  }
  send_gradients(pos);
  if (pos == chunk_.first) {
    for (TensorId t = 0; t < graph_.tensor_count(); ++t) {
      if (alive_[t] && release_[t] > last_weighted_) free(t, category_[t], alive_);
    }
  }
  close(op, pos, Phase::kBackward);
}

void RecipeCompiler::weight_backward(int pos) {
  const OpNode& node = op_at(pos);
  RecipeOp& op = open(recipe_.backward_weight, pos, Phase::kBackward);
  op.part = BackwardPart::kWeights;
  work(op, pos, {});
  for (TensorId t : node.saved) {
    if (alive_[t] && last_weight_saver_[t] == pos && !saved_without_weights_[t])
      free(t, category_[t], alive_);
  }
  if (pos == last_weighted_) {
    for (TensorId t = 0; t < graph_.tensor_count(); ++t) {
      if (alive_[t]) free(t, category_[t], alive_);
      if (grad_alive_[t]) free(t, Category::kTemporary, grad_alive_);
    }
  }
  close(op, pos, Phase::kBackward);
}

}  // namespace memsim::sim
