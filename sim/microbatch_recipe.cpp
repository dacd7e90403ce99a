#include "sim/microbatch_recipe.h"

#include <algorithm>
#include <limits>

#include "sim/check.h"
#include "sim/held_weaver.h"

namespace memsim::sim {

namespace {

constexpr int kNoRegion = -1;

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

/// Tensor lifetimes of one chunk of a program, and the symbolic walk that turns them into
/// deltas.
class RecipeCompiler {
 public:
  RecipeCompiler(const RankProgram& program, ChunkSpan chunk)
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

  MicrobatchRecipe compile() {
    run_forward_pass();
    if (!program_.no_grad) run_backward_pass(recipe_.backward);
    check_all_freed();
    return std::move(recipe_);
  }

  /// The forward, then a split backward (PyTorch's, torch/distributed/pipelining/
  /// _backward.py and stage.py at commit 00722e6): stage_backward_input takes the input
  /// gradients with retain_graph=True, so every saved tensor stays; a prehook keeps the
  /// output gradients of each op with parameters for the weight step; detaching the outputs
  /// frees the nodes above the last such op (the loss). stage_backward_weight then runs
  /// the ops with parameters in parameter (forward) order without retaining the graph: each
  /// releases what it saved, unless an op without parameters or a later one saves it too;
  /// the rest, and the kept gradients, go as it ends. The first stage, whose inputs take no
  /// gradient, runs the whole backward as its weight step.
  MicrobatchRecipe compile_split() {
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

 private:
  void run_forward_pass() {
    for (int pos = chunk_.first; pos <= chunk_.last; ++pos) {
      run_forward(pos, recipe_.forward, Phase::kForward, retained_, last_use_, nullptr);
    }
  }
  void run_backward_pass(std::vector<RecipeOp>& ops) {
    for (int pos = chunk_.last; pos >= chunk_.first; --pos) {
      reloading_ = reload_at_[pos - chunk_.first];
      const int region = region_of_[pos];
      if (region != kNoRegion && program_.recompute[region].last == pos) recompute(region);
      backward(pos, ops);
    }
  }
  void check_all_freed() const {
    for (TensorId t = 0; t < graph_.tensor_count(); ++t) {
      MEMSIM_CHECK(!alive_[t] && !grad_alive_[t]);  // every microbatch frees what it made
    }
  }

  const OpNode& op_at(int pos) const { return graph_.op(order_[pos]); }
  bool has_weights(int pos) const { return !op_at(pos).params.empty(); }
  int producer_pos(TensorId t) const { return graph_.position(graph_.tensor(t).producer); }
  bool in_chunk(int pos) const { return chunk_.first <= pos && pos <= chunk_.last; }
  int region_of_tensor(TensorId t) const {
    const int pos = producer_pos(t);
    return in_chunk(pos) ? region_of_[pos] : kNoRegion - 1;  // outside: no region of ours
  }

  // A tensor is kept from forward to backward if an op outside any recompute region saves
  // it, if a region reads it from outside (the region's checkpointed input), or if a
  // region's op reuses it (made by that op's forward). It is released by the backward of
  // the earliest op that saves it or reads it as such an input; one that only a region's
  // re-run reads dies there with its last reader. Without autograd nothing is saved: every
  // tensor dies with its last reader.
  void find_lifetimes() {
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

  /// The stage's outputs, kept from their forward to the end of the chunk's backward: what
  /// it sends on and, on the last stage, the model's output, the LM head's logits (the loss
  /// runs outside the stage's module).
  void keep_stage_outputs() {
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

  /// Which kept tensors the program's strategy moves to host memory, and when.
  void plan_host_moves() {
    const auto positions = static_cast<size_t>(chunk_.last - chunk_.first + 1);
    leave_after_.assign(positions, {});
    reload_at_.assign(positions, {});
    shared_.assign(graph_.tensor_count(), false);
    if (!program_.host_moves) return;
    std::vector<KeptTensor> kept;
    for (TensorId t = 0; t < graph_.tensor_count(); ++t) {
      if (retained_[t] && in_chunk(first_need_[t]))
        kept.push_back({t, first_need_[t], last_use_[t]});
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

  /// Opens op `pos`'s deltas. The first op the backward runs after reaching a position
  /// first brings back the activations from host memory that are due there.
  RecipeOp& open(std::vector<RecipeOp>& ops, int pos, Phase phase) {
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
  /// Closes op `pos`'s deltas: what came back from host memory (or a share) leaves it; after
  /// the last forward op of a layer, its activations due to leave the GPU go to host memory
  /// (or leave their share).
  void close(RecipeOp& op, int pos, Phase phase) {
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
  uint32_t mark() const { return static_cast<uint32_t>(recipe_.deltas.size()); }

  /// A tensor leaving as a share (HostMove::share) after op `pos`: the share is cut while
  /// the tensor is whole, with the op's allocations.
  void cut_shares(int pos) {
    for (TensorId t : leave_after_[pos - chunk_.first]) {
      if (shared_[t]) push(index_.tensor_share(t), 1, Category::kActivations);
    }
  }
  void push(QuantityId quantity, int8_t sign, Category category, bool host = false) {
    recipe_.deltas.push_back({quantity, sign, category, host});
  }
  /// A tensor or its gradient (same size): `alive` says which of the two.
  void alloc(TensorId t, Category category, std::vector<bool>& alive) {
    MEMSIM_CHECK(!alive[t]);
    alive[t] = true;
    push(index_.tensor(t), 1, category);
  }
  void free(TensorId t, Category category, std::vector<bool>& alive) {
    MEMSIM_CHECK(alive[t]);
    alive[t] = false;
    push(index_.tensor(t), -1, category);
  }
  /// Op `pos` at work: its `workspace` and its buffer live while it runs; it ends at `split`.
  void work(RecipeOp& op, int pos, const std::vector<TensorId>& workspace) {
    for (TensorId t : workspace)
      alloc(t, Category::kTemporary, alive_);
    const QuantityId buffer = index_.buffer(graph_.twin_slot(order_[pos]));
    push(buffer, 1, Category::kTemporary);
    op.split = mark();
    push(buffer, -1, Category::kTemporary);
    for (TensorId t : workspace)
      free(t, Category::kTemporary, alive_);
  }
  void make(TensorId t, const std::vector<bool>& kept) {
    category_[t] = kept[t] ? Category::kActivations : Category::kTemporary;
    alloc(t, category_[t], alive_);
  }

  /// Runs op `pos` forward: makes its outputs, own tensors and workspace (reusing any that
  /// are still alive), then frees the workspace and every tensor read for the last time
  /// that this pass neither keeps nor found alive. Kept tensors count as activations. The
  /// chunk's first op first receives what the chunk reads from outside.
  void run_forward(int pos, std::vector<RecipeOp>& ops, Phase phase, const std::vector<bool>& kept,
                   const std::vector<int>& last_use, std::vector<bool>* made_here) {
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

  // Re-runs a region's forward just before its backward: what the region's ops save is
  // kept; everything else it makes lives until its last reader inside the region.
  void recompute(int region) {
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

  /// Runs op `pos` backward into `ops`. The chunk's last op first receives the gradients of
  /// what the chunk sent on; its first op ends by sending the gradients of what it received.
  void backward(int pos, std::vector<RecipeOp>& ops) {
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
  /// The gradients op `pos`'s backward reads (at the chunk's last op, those received) and
  /// makes for its inputs.
  void take_gradients(int pos, const OpNode& node) {
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
  void send_gradients(int pos) {
    if (pos != chunk_.first) return;
    for (TensorId t : received_) {
      if (grad_alive_[t]) free(t, Category::kTemporary, grad_alive_);
    }
  }

  /// For the split backward: the last op with weights, and per tensor whether an op
  /// without weights saves it and the last op with weights that does.
  void find_weight_savers() {
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
  /// Op `pos`'s input-gradient step: nothing saved is freed; an op with weights keeps its
  /// output gradients. As the pass ends, what only the ops above the last op with weights
  /// saved goes.
  void input_backward(int pos) {
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
  /// Op `pos`'s weight-gradient step (its gradients themselves are the walk's).
  void weight_backward(int pos) {
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

  const RankProgram& program_;
  const QuantityIndex& index_;
  const LayerGraph& graph_;
  std::span<const OpId> order_;
  ChunkSpan chunk_;
  std::vector<bool> alive_;
  std::vector<bool> grad_alive_;
  std::vector<bool> retained_;
  std::vector<int> release_;
  std::vector<int> first_need_;  ///< the op whose backward needs a kept tensor first
  std::vector<int> last_use_;
  std::vector<Category> category_;
  std::vector<int> region_of_;
  std::vector<bool> reused_;        ///< by position: a region's op whose forward output is kept
  std::vector<TensorId> received_;  ///< read by the chunk, made elsewhere
  std::vector<TensorId> sent_;      ///< made by the chunk, read elsewhere, with a gradient
  std::vector<TensorId> stage_outputs_;  ///< kept to the backward's end (keep_stage_outputs)
  std::vector<std::vector<TensorId>> leave_after_;  ///< by position in the chunk
  std::vector<std::vector<TensorId>> reload_at_;    ///< by position in the chunk
  std::vector<TensorId> reloading_;                 ///< due back before the next backward-pass op
  std::vector<TensorId> host_frees_;  ///< back on the GPU: leave host memory as the op ends
  std::vector<bool> shared_;          ///< per tensor: moved as a share (HostMove::share)
  std::vector<TensorId> made_;        ///< scratch for made_in_forward
  int last_weighted_ = -1;            ///< split backward: the last op with weights
  std::vector<int> last_weight_saver_;
  std::vector<bool> saved_without_weights_;
  MicrobatchRecipe recipe_;
};

}  // namespace

Bytes MicrobatchRecipe::saved_bytes(const std::vector<Bytes>& sizes) const {
  Bytes saved;
  for (const RecipeOp& op : forward) {
    for (uint32_t i = op.begin; i < op.end; ++i) {
      if (!deltas[i].host) saved += delta_bytes(deltas[i], sizes);
    }
  }
  return saved;
}

MicrobatchRecipe compile_recipe(const RankProgram& program, size_t chunk) {
  MEMSIM_CHECK(program.graph != nullptr && program.index != nullptr);
  MEMSIM_CHECK(chunk < program.chunks.size());
  MicrobatchRecipe recipe = RecipeCompiler(program, program.chunks[chunk]).compile();
  MicrobatchRecipe woven;
  HeldWeaver weaver(program, recipe.deltas);
  weaver.plan_gathers(recipe.forward, recipe.backward);
  woven.forward = weaver.weave(recipe.forward, false, woven.deltas);
  woven.backward = weaver.weave(recipe.backward, true, woven.deltas);
  if (program.split_backward) {
    // Parameters gathered module by module are not planned for split passes (ZeRO-3 and
    // split backwards exclude each other: strategies/split_backward.cpp).
    MEMSIM_CHECK(!program.gathering.gathers());
    // The weight step holds what a backward holds for gradients; the input step, only
    // what any pass holds.
    const MicrobatchRecipe split = RecipeCompiler(program, program.chunks[chunk]).compile_split();
    HeldWeaver split_weaver(program, split.deltas);
    std::vector<RecipeDelta> scratch;
    split_weaver.weave(split.forward, false, scratch);
    woven.backward_input = split_weaver.weave(split.backward_input, false, woven.deltas);
    woven.backward_weight = split_weaver.weave(split.backward_weight, true, woven.deltas);
  }
  return woven;
}

}  // namespace memsim::sim
