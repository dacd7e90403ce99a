#pragma once
/// A rank's forward and backward of one microbatch through one model chunk, compiled into
/// allocation and free deltas per op from the graph's tensor lifetimes: a tensor lives from
/// the op that makes it (or, if it comes from another chunk, from the chunk's start) to its
/// last reader, or, if saved, until the backward of the earliest op saving it. Without
/// autograd (RankProgram::no_grad, serving's passes) the recipe is the forward alone, and
/// nothing is saved.

#include <cstdint>
#include <vector>

#include "sim/memory_event.h"
#include "sim/rank_program.h"

namespace memsim::sim {

/// An allocation or free of one quantity (its size looked up in the program's `sizes`).
/// Which quantities are allocated and freed, and in what order, does not depend on sizes,
/// so one recipe serves every configuration of the same shape.
struct RecipeDelta {
  QuantityId quantity = 0;
  int8_t sign = 1;  ///< +1: allocation, -1: free
  Category category = Category::kTemporary;
  bool host = false;  ///< in host memory (offloaded activations), not on the GPU
};

/// A delta's bytes: positive for an allocation, negative for a free.
inline Bytes delta_bytes(const RecipeDelta& delta, const std::vector<Bytes>& sizes) {
  const Bytes size = sizes[delta.quantity];
  return delta.sign > 0 ? size : -size;
}

/// Which gradients an op's backward computes: all, or (a split backward) those of its
/// inputs or those of its weights.
enum class BackwardPart : uint8_t { kWhole, kInputs, kWeights };

/// One op's forward, recompute or backward: deltas [begin, split) happen when it starts,
/// [split, end) when it ends. A backward on a rank that makes gradients on demand also
/// allocates its parameters' gradients first, in the step's first backward.
struct RecipeOp {
  OpId op = 0;
  int32_t layer = kNoIndex;
  Phase phase = Phase::kForward;
  uint32_t begin = 0;
  uint32_t split = 0;
  uint32_t end = 0;
  /// A recomputation that reuses what the op's forward kept (RecomputeSpan::reused): it
  /// takes no time and no workspace.
  bool reused = false;
  BackwardPart part = BackwardPart::kWhole;
};

struct MicrobatchRecipe {
  std::vector<RecipeOp> forward;
  std::vector<RecipeOp> backward;  ///< recomputation included, in the order it runs
  /// A split backward's input and weight steps (RankProgram::split_backward), else empty.
  std::vector<RecipeOp> backward_input;
  std::vector<RecipeOp> backward_weight;
  std::vector<RecipeDelta> deltas;

  /// What one microbatch keeps on the GPU from its forward to its backward: where the
  /// forward ends there.
  Bytes saved_bytes(const std::vector<Bytes>& sizes) const;
};

/// The recipe of `program.chunks[chunk]`: tensor lifetimes from the graph, recomputation,
/// and what is held around each layer's runs and through each backward.
MicrobatchRecipe compile_recipe(const RankProgram& program, size_t chunk);

}  // namespace memsim::sim
