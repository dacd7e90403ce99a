#pragma once
/// Weaves the buffers strategies hold around a rank's ops (RankProgram::held) into the
/// passes of a compiled recipe: each buffer allocated and freed where its span says.

#include <vector>

#include "sim/microbatch_recipe.h"
#include "sim/rank_program.h"

namespace memsim::sim {

class HeldWeaver {
 public:
  /// `deltas`: the unwoven recipe's, which the passes' ops point into.
  HeldWeaver(const RankProgram& program, const std::vector<RecipeDelta>& deltas);

  /// Plans the module gathers (RankProgram::gathering) of the unwoven recipe's passes,
  /// before they are woven.
  void plan_gathers(const std::vector<RecipeOp>& forward, const std::vector<RecipeOp>& backward);

  /// `ops` (a forward or backward pass) with the held buffers' deltas around them, written
  /// to `out`. Around an op, the buffers that start there start in the order `held` lists
  /// them, before the op's own deltas; those that end there end after them, in the reverse
  /// order.
  std::vector<RecipeOp> weave(const std::vector<RecipeOp>& ops, bool backward,
                              std::vector<RecipeDelta>& out);

 private:
  void push(QuantityId quantity, int8_t sign, Category category) {
    out_->push_back({quantity, sign, category});
  }
  void copy(uint32_t begin, uint32_t end) {
    out_->insert(out_->end(), deltas_.begin() + begin, deltas_.begin() + end);
  }
  /// Buffer `b`'s deltas before and after op `i` of `ops`, in run `run`.
  void start(size_t b, const std::vector<RecipeOp>& ops, size_t run, size_t i, bool backward_op,
             bool first_of_run);
  void end(size_t b, const std::vector<RecipeOp>& ops, size_t run, size_t i, bool last_of_run);
  /// Each op's gathered parameters in `ops`, with `sign`.
  void push_gathered(const std::vector<OpId>& ops, int8_t sign, Category category);
  const GatherEvents& gather_events(size_t i) const {
    return backward_ ? gathers_.backward[i] : gathers_.forward[i];
  }

  const RankProgram& program_;
  const QuantityIndex& index_;
  const std::vector<HeldBuffer>& held_;
  const std::vector<RecipeDelta>& deltas_;
  std::vector<RecipeDelta>* out_ = nullptr;
  bool backward_ = false;                          ///< weaving a backward pass
  std::vector<size_t> run_start_;                  ///< each run's first op in the pass
  std::vector<std::vector<int32_t>> held_layers_;  ///< per buffer: the layers it holds now
  std::vector<bool> made_;                         ///< per buffer: held in the running backward run
  ModuleGathers gathers_;                          ///< plan_gathers'
};

}  // namespace memsim::sim
