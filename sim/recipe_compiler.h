#pragma once
/// The recipe compiler of sim/microbatch_recipe.h: tensor lifetimes of one chunk of a
/// program, and the symbolic walk that turns them into deltas. Its split backward (input
/// and weight steps) is in split_recipe.cpp.

#include <span>
#include <vector>

#include "sim/microbatch_recipe.h"
#include "sim/rank_program.h"

namespace memsim::sim {

/// Tensor lifetimes of one chunk of a program, and the symbolic walk that turns them into
/// deltas.
class RecipeCompiler {
 public:
  static constexpr int kNoRegion = -1;

  RecipeCompiler(const RankProgram& program, ChunkSpan chunk);

  MicrobatchRecipe compile();

  /// The forward, then a split backward (PyTorch's, torch/distributed/pipelining/
  /// _backward.py and stage.py at commit 00722e6): stage_backward_input takes the input
  /// gradients with retain_graph=True, so every saved tensor stays; a prehook keeps the
  /// output gradients of each op with parameters for the weight step; detaching the outputs
  /// frees the nodes above the last such op (the loss). stage_backward_weight then runs
  /// the ops with parameters in parameter (forward) order without retaining the graph: each
  /// releases what it saved, unless an op without parameters or a later one saves it too;
  /// the rest, and the kept gradients, go as it ends. The first stage, whose inputs take no
  /// gradient, runs the whole backward as its weight step.
  MicrobatchRecipe compile_split();

 private:
  void run_forward_pass();
  void run_backward_pass(std::vector<RecipeOp>& ops);
  void check_all_freed() const;

  const OpNode& op_at(int pos) const { return graph_.op(order_[pos]); }
  bool has_weights(int pos) const { return !op_at(pos).params.empty(); }
  int producer_pos(TensorId t) const { return graph_.position(graph_.tensor(t).producer); }
  bool in_chunk(int pos) const { return chunk_.first <= pos && pos <= chunk_.last; }
  int region_of_tensor(TensorId t) const;

  // A tensor is kept from forward to backward if an op outside any recompute region saves
  // it, if a region reads it from outside (the region's checkpointed input), or if a
  // region's op reuses it (made by that op's forward). It is released by the backward of
  // the earliest op that saves it or reads it as such an input; one that only a region's
  // re-run reads dies there with its last reader. Without autograd nothing is saved: every
  // tensor dies with its last reader.
  void find_lifetimes();

  /// The stage's outputs, kept from their forward to the end of the chunk's backward: what
  /// it sends on and, on the last stage, the model's output, the LM head's logits (the loss
  /// runs outside the stage's module).
  void keep_stage_outputs();

  /// Which kept tensors the program's strategy moves to host memory, and when.
  void plan_host_moves();

  /// Opens op `pos`'s deltas. The first op the backward runs after reaching a position
  /// first brings back the activations from host memory that are due there.
  RecipeOp& open(std::vector<RecipeOp>& ops, int pos, Phase phase);
  /// Closes op `pos`'s deltas: what came back from host memory (or a share) leaves it; after
  /// the last forward op of a layer, its activations due to leave the GPU go to host memory
  /// (or leave their share).
  void close(RecipeOp& op, int pos, Phase phase);
  uint32_t mark() const { return static_cast<uint32_t>(recipe_.deltas.size()); }

  /// A tensor leaving as a share (HostMove::share) after op `pos`: the share is cut while
  /// the tensor is whole, with the op's allocations.
  void cut_shares(int pos);
  void push(QuantityId quantity, int8_t sign, Category category, bool host = false);
  /// A tensor or its gradient (same size): `alive` says which of the two.
  void alloc(TensorId t, Category category, std::vector<bool>& alive);
  void free(TensorId t, Category category, std::vector<bool>& alive);
  /// Op `pos` at work: its `workspace` and its buffer live while it runs; it ends at `split`.
  void work(RecipeOp& op, int pos, const std::vector<TensorId>& workspace);
  void make(TensorId t, const std::vector<bool>& kept);

  /// Runs op `pos` forward: makes its outputs, own tensors and workspace (reusing any that
  /// are still alive), then frees the workspace and every tensor read for the last time
  /// that this pass neither keeps nor found alive. Kept tensors count as activations. The
  /// chunk's first op first receives what the chunk reads from outside.
  void run_forward(int pos, std::vector<RecipeOp>& ops, Phase phase, const std::vector<bool>& kept,
                   const std::vector<int>& last_use, std::vector<bool>* made_here);

  // Re-runs a region's forward just before its backward: what the region's ops save is
  // kept; everything else it makes lives until its last reader inside the region.
  void recompute(int region);

  /// Runs op `pos` backward into `ops`. The chunk's last op first receives the gradients of
  /// what the chunk sent on; its first op ends by sending the gradients of what it received.
  void backward(int pos, std::vector<RecipeOp>& ops);
  /// The gradients op `pos`'s backward reads (at the chunk's last op, those received) and
  /// makes for its inputs.
  void take_gradients(int pos, const OpNode& node);
  void send_gradients(int pos);

  /// For the split backward: the last op with weights, and per tensor whether an op
  /// without weights saves it and the last op with weights that does.
  void find_weight_savers();
  /// Op `pos`'s input-gradient step: nothing saved is freed; an op with weights keeps its
  /// output gradients. As the pass ends, what only the ops above the last op with weights
  /// saved goes.
  void input_backward(int pos);
  /// Op `pos`'s weight-gradient step (its gradients themselves are the walk's).
  void weight_backward(int pos);

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

}  // namespace memsim::sim
