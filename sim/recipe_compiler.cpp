#include "sim/recipe_compiler.h"

#include <algorithm>
#include <limits>

#include "sim/check.h"

namespace memsim::sim {

namespace {

/// Tensors an op makes in forward: its outputs and its own saved tensors, written over
/// `made` (reused: compiling a chunk asks this of every op three times).
const std::vector<TensorId>& made_in_forward(const LayerGraph& graph, const OpNode& node,
                                             std::vector<TensorId>& made) {
  made.assign(node.outputs.begin(), node.outputs.end());
  for (TensorId t : node.saved) {
    if (graph.tensor(t).role == TensorRole::kOwn) made.push_back(t);
  }
  return made;
}

/// The ops a chunk of `program` runs: without autograd, none of the loss, which only
/// training scores (unchunked, it ends the forward order).
ChunkSpan running_span(const RankProgram& program, ChunkSpan chunk) {
  if (!program.no_grad) return chunk;
  const LayerGraph& graph = *program.graph;
  const auto loss = [&](int pos) {
    return scores_the_loss(graph.op(graph.forward_order()[pos]).kind);
  };
  while (chunk.last > chunk.first && loss(chunk.last))
    --chunk.last;
  for (int pos = chunk.first; pos <= chunk.last; ++pos)
    MEMSIM_CHECK(!loss(pos));
  return chunk;
}

}  // namespace

RecipeCompiler::RecipeCompiler(const RankProgram& program, ChunkSpan chunk)
    : program_(program),
      index_(*program.index),
      graph_(*program.graph),
      order_(graph_.forward_order()),
      chunk_(chunk),
      alive_(graph_.tensor_count(), false),
      grad_alive_(graph_.tensor_count(), false),
      retained_(graph_.tensor_count(), false),
      release_(graph_.tensor_count(), std::numeric_limits<int>::max()),
      first_need_(graph_.tensor_count(), -1),
      last_use_(graph_.tensor_count(), -1),
      category_(graph_.tensor_count(), Category::kTemporary),
      region_of_(order_.size(), kNoRegion),
      reused_(order_.size(), false) {
  MEMSIM_CHECK(0 <= chunk.first && chunk.first <= chunk.last &&
               chunk.last < static_cast<int>(order_.size()));
  MEMSIM_CHECK(!program.no_grad || (program.recompute.empty() && !program.host_moves));
  chunk_ = running_span(program, chunk);
  for (size_t i = 0; i < program.recompute.size(); ++i) {
    const RecomputeSpan& span = program.recompute[i];
    MEMSIM_CHECK(span.first <= span.last);
    if (span.last < chunk.first || span.first > chunk.last) continue;
    MEMSIM_CHECK(chunk.first <= span.first && span.last <= chunk.last);
    for (int pos = span.first; pos <= span.last; ++pos) {
      MEMSIM_CHECK(region_of_[pos] == kNoRegion);
      region_of_[pos] = static_cast<int>(i);
    }
    for (int pos : span.reused) {
      MEMSIM_CHECK(span.first <= pos && pos <= span.last);
      reused_[pos] = true;
    }
  }
  find_lifetimes();
  plan_host_moves();
}

MicrobatchRecipe RecipeCompiler::compile() {
  run_forward_pass();
  if (!program_.no_grad) run_backward_pass(recipe_.backward);
  check_all_freed();
  return std::move(recipe_);
}

void RecipeCompiler::run_forward_pass() {
  for (int pos = chunk_.first; pos <= chunk_.last; ++pos) {
    run_forward(pos, recipe_.forward, Phase::kForward, retained_, last_use_, nullptr);
  }
}

void RecipeCompiler::run_backward_pass(std::vector<RecipeOp>& ops) {
  for (int pos = chunk_.last; pos >= chunk_.first; --pos) {
    reloading_ = reload_at_[pos - chunk_.first];
    const int region = region_of_[pos];
    if (region != kNoRegion && program_.recompute[region].last == pos) recompute(region);
    backward(pos, ops);
  }
}

void RecipeCompiler::check_all_freed() const {
  for (TensorId t = 0; t < graph_.tensor_count(); ++t) {
    MEMSIM_CHECK(!alive_[t] && !grad_alive_[t]);  // every microbatch frees what it made
  }
}

int RecipeCompiler::region_of_tensor(TensorId t) const {
  const int pos = producer_pos(t);
  return in_chunk(pos) ? region_of_[pos] : kNoRegion - 1;  // outside: no region of ours
}

void RecipeCompiler::find_lifetimes() {
  for (int pos = chunk_.first; pos <= chunk_.last; ++pos) {
    const OpNode& node = op_at(pos);
    for (TensorId t : program_.no_grad ? std::span<const TensorId>{} : node.saved) {
      if (region_of_[pos] == kNoRegion) retained_[t] = true;
      release_[t] = std::min(release_[t], pos);
      first_need_[t] = std::max(first_need_[t], pos);
    }
    for (TensorId t : node.held)
      last_use_[t] = std::max(last_use_[t], pos);
    for (TensorId t : node.inputs) {
      last_use_[t] = std::max(last_use_[t], pos);
      if (!in_chunk(producer_pos(t))) received_.push_back(t);
      if (region_of_[pos] != kNoRegion && region_of_tensor(t) != region_of_[pos]) {
        retained_[t] = true;
        release_[t] = std::min(release_[t], pos);
        first_need_[t] = std::max(first_need_[t], pos);
      }
    }
    for (TensorId t : made_in_forward(graph_, node, made_)) {
      last_use_[t] = std::max(last_use_[t], pos);
      if (reused_[pos]) {
        retained_[t] = true;
        first_need_[t] = std::max(first_need_[t], program_.recompute[region_of_[pos]].last);
      }
      for (OpId consumer : graph_.consumers(t)) {
        if (!in_chunk(graph_.position(consumer)) && graph_.tensor(t).requires_grad &&
            std::find(sent_.begin(), sent_.end(), t) == sent_.end()) {
          sent_.push_back(t);
        }
      }
    }
  }
  std::sort(received_.begin(), received_.end());
  received_.erase(std::unique(received_.begin(), received_.end()), received_.end());
  if (program_.keep_stage_outputs && !program_.no_grad) keep_stage_outputs();
}

void RecipeCompiler::keep_stage_outputs() {
  stage_outputs_ = sent_;
  for (int pos = chunk_.first; pos <= chunk_.last; ++pos) {
    const OpKind kind = op_at(pos).kind;
    if (kind != OpKind::kLmHead && kind != OpKind::kLmHeadChunk) continue;
    for (TensorId t : op_at(pos).outputs) {
      if (std::find(stage_outputs_.begin(), stage_outputs_.end(), t) == stage_outputs_.end())
        stage_outputs_.push_back(t);
    }
  }
  for (TensorId t : stage_outputs_) {
    retained_[t] = true;
    release_[t] = chunk_.first;
    first_need_[t] = std::max(first_need_[t], chunk_.first);
  }
}

void RecipeCompiler::plan_host_moves() {
  const auto positions = static_cast<size_t>(chunk_.last - chunk_.first + 1);
  leave_after_.assign(positions, {});
  reload_at_.assign(positions, {});
  shared_.assign(graph_.tensor_count(), false);
  if (!program_.host_moves) return;
  std::vector<KeptTensor> kept;
  for (TensorId t = 0; t < graph_.tensor_count(); ++t) {
    if (retained_[t] && in_chunk(first_need_[t])) kept.push_back({t, first_need_[t], last_use_[t]});
  }
  for (const HostMove& move : program_.host_moves(graph_, chunk_, kept)) {
    MEMSIM_CHECK(retained_[move.tensor] && in_chunk(move.leaves_after) &&
                 move.leaves_after >= last_use_[move.tensor] &&
                 move.back_at >= first_need_[move.tensor] && in_chunk(move.back_at));
    leave_after_[move.leaves_after - chunk_.first].push_back(move.tensor);
    reload_at_[move.back_at - chunk_.first].push_back(move.tensor);
    shared_[move.tensor] = move.share;
  }
}

RecipeOp& RecipeCompiler::open(std::vector<RecipeOp>& ops, int pos, Phase phase) {
  const auto at = static_cast<uint32_t>(recipe_.deltas.size());
  ops.push_back({order_[pos], op_at(pos).layer, phase, at, at, at});
  if (phase != Phase::kForward) {
    for (TensorId t : reloading_)
      push(index_.tensor(t), 1, Category::kActivations);
    host_frees_ = std::move(reloading_);
    reloading_.clear();
  }
  return ops.back();
}

void RecipeCompiler::close(RecipeOp& op, int pos, Phase phase) {
  for (TensorId t : host_frees_) {
    if (shared_[t]) {
      push(index_.tensor_share(t), -1, Category::kActivations);
    } else {
      push(index_.tensor(t), -1, Category::kActivations, true);
    }
  }
  host_frees_.clear();
  if (phase == Phase::kForward) {
    for (TensorId t : leave_after_[pos - chunk_.first]) {
      MEMSIM_CHECK(alive_[t]);
      push(index_.tensor(t), -1, Category::kActivations);
      if (!shared_[t]) push(index_.tensor(t), 1, Category::kActivations, true);
    }
  }
  op.end = mark();
}

void RecipeCompiler::cut_shares(int pos) {
  for (TensorId t : leave_after_[pos - chunk_.first]) {
    if (shared_[t]) push(index_.tensor_share(t), 1, Category::kActivations);
  }
}

void RecipeCompiler::push(QuantityId quantity, int8_t sign, Category category, bool host) {
  recipe_.deltas.push_back({quantity, sign, category, host});
}

void RecipeCompiler::alloc(TensorId t, Category category, std::vector<bool>& alive) {
  MEMSIM_CHECK(!alive[t]);
  alive[t] = true;
  push(index_.tensor(t), 1, category);
}

void RecipeCompiler::free(TensorId t, Category category, std::vector<bool>& alive) {
  MEMSIM_CHECK(alive[t]);
  alive[t] = false;
  push(index_.tensor(t), -1, category);
}

void RecipeCompiler::work(RecipeOp& op, int pos, const std::vector<TensorId>& workspace) {
  for (TensorId t : workspace)
    alloc(t, Category::kTemporary, alive_);
  const QuantityId buffer = index_.buffer(graph_.twin_slot(order_[pos]));
  push(buffer, 1, Category::kTemporary);
  op.split = mark();
  push(buffer, -1, Category::kTemporary);
  for (TensorId t : workspace)
    free(t, Category::kTemporary, alive_);
}

void RecipeCompiler::make(TensorId t, const std::vector<bool>& kept) {
  category_[t] = kept[t] ? Category::kActivations : Category::kTemporary;
  alloc(t, category_[t], alive_);
}

void RecipeCompiler::run_forward(int pos, std::vector<RecipeOp>& ops, Phase phase,
                                 const std::vector<bool>& kept, const std::vector<int>& last_use,
                                 std::vector<bool>* made_here) {
  const OpNode& node = op_at(pos);
  RecipeOp& op = open(ops, pos, phase);
  // Re-run, an op whose forward kept what it makes only hands that on.
  const bool reused = phase == Phase::kRecompute && reused_[pos];
  op.reused = reused;
  if (phase == Phase::kForward && pos == chunk_.first) {
    for (TensorId t : received_)
      make(t, kept);
  }
  const std::vector<TensorId>& made = made_in_forward(graph_, node, made_);
  for (TensorId t : made) {
    if (alive_[t]) continue;
    make(t, kept);
    if (made_here != nullptr) (*made_here)[t] = true;
  }
  if (phase == Phase::kForward) cut_shares(pos);
  if (reused) {
    op.split = mark();
  } else {
    work(op, pos, node.forward_workspace);
  }
  for (const auto* group : {&node.inputs, &node.held, &made}) {
    for (TensorId t : *group) {
      const bool ours = made_here == nullptr || (*made_here)[t];
      if (alive_[t] && ours && last_use[t] == pos && !kept[t]) free(t, category_[t], alive_);
    }
  }
  close(op, pos, phase);
}

void RecipeCompiler::recompute(int region) {
  const RecomputeSpan& span = program_.recompute[region];
  std::vector<bool> saved_here(graph_.tensor_count(), false);
  std::vector<bool> made_here(graph_.tensor_count(), false);
  std::vector<int> last_use_here(graph_.tensor_count(), -1);
  for (int pos = span.first; pos <= span.last; ++pos) {
    const OpNode& node = op_at(pos);
    for (TensorId t : node.saved)
      saved_here[t] = true;
    for (TensorId t : node.inputs)
      last_use_here[t] = pos;
    for (TensorId t : node.held)
      last_use_here[t] = pos;
    for (TensorId t : made_in_forward(graph_, node, made_)) {
      last_use_here[t] = std::max(last_use_here[t], pos);
      // Kept from forward, a reused op's tensors end with the re-run unless saved.
      if (reused_[pos]) made_here[t] = true;
    }
  }
  for (int pos = span.first; pos <= span.last; ++pos) {
    run_forward(pos, recipe_.backward, Phase::kRecompute, saved_here, last_use_here, &made_here);
  }
}

void RecipeCompiler::backward(int pos, std::vector<RecipeOp>& ops) {
  const OpNode& node = op_at(pos);
  RecipeOp& op = open(ops, pos, Phase::kBackward);
  take_gradients(pos, node);
  work(op, pos, node.backward_workspace);
  for (const auto* group : {&node.saved, &node.inputs}) {
    for (TensorId t : *group) {
      if (alive_[t] && release_[t] == pos) free(t, category_[t], alive_);
    }
  }
  for (TensorId t : node.outputs) {
    if (grad_alive_[t]) free(t, Category::kTemporary, grad_alive_);
  }
  send_gradients(pos);
  if (pos == chunk_.first) {
    for (TensorId t : stage_outputs_) {
      if (alive_[t]) free(t, category_[t], alive_);
    }
  }
  close(op, pos, Phase::kBackward);
}

void RecipeCompiler::take_gradients(int pos, const OpNode& node) {
  if (pos == chunk_.last) {
    for (TensorId t : sent_)
      alloc(t, Category::kTemporary, grad_alive_);
  }
  for (TensorId t : node.inputs) {
    if (graph_.tensor(t).requires_grad && !grad_alive_[t]) {
      alloc(t, Category::kTemporary, grad_alive_);
    }
  }
}

void RecipeCompiler::send_gradients(int pos) {
  if (pos != chunk_.first) return;
  for (TensorId t : received_) {
    if (grad_alive_[t]) free(t, Category::kTemporary, grad_alive_);
  }
}

}  // namespace memsim::sim
