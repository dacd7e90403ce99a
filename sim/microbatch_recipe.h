#pragma once
/// A rank's forward and backward of one microbatch through one model chunk, compiled into
/// allocation and free deltas per op from the graph's tensor lifetimes: a tensor lives from
/// the op that makes it (or, if it comes from another chunk, from the chunk's start) to its
/// last reader, or, if saved, until the backward of the earliest op saving it.

#include <cstdint>
#include <vector>

#include "sim/memory_event.h"
#include "sim/rank_program.h"

namespace memsim::sim {

/// What a delta's bytes belong to, so that a recipe can be re-sized without recompiling
/// (the order of allocations and frees does not depend on sizes).
struct Provenance {
  enum class Kind : uint8_t {
    kTensor,          ///< index: tensor id (activations, outputs, workspace)
    kGradient,        ///< index: tensor id whose gradient this is
    kForwardBuffer,   ///< index: op id
    kBackwardBuffer,  ///< index: op id
    kGathered,        ///< index: layer (ZeRO-3 gathered parameters)
    kLayerGradients,  ///< index: layer (full gradients before reduction)
    kBucket,          ///< the gradient bucket
  };
  Kind kind = Kind::kTensor;
  int32_t index = 0;
};

struct RecipeDelta {
  Bytes bytes;  ///< positive: allocation, negative: free
  Category category;
  Provenance source;
};

/// One op's forward, recompute or backward: deltas [begin, split) happen when it starts,
/// [split, end) when it ends.
struct RecipeOp {
  OpId op = 0;
  int32_t layer = kNoIndex;
  Phase phase = Phase::kForward;
  double duration_s = 0.0;
  uint32_t begin = 0;
  uint32_t split = 0;
  uint32_t end = 0;
  Bytes parameter_gradients;  ///< allocated at the start of the first backward, if on demand
};

struct MicrobatchRecipe {
  std::vector<RecipeOp> forward;
  std::vector<RecipeOp> backward;  ///< recomputation included, in the order it runs
  std::vector<RecipeDelta> deltas;
  Bytes saved_bytes;  ///< what one microbatch keeps from its forward to its backward
};

/// The recipe of `program.chunks[chunk]`. With `keep_empty`, deltas of zero bytes are kept
/// (and the per-layer residency woven in even when empty), so that the recipe's shape is the
/// same for every size.
MicrobatchRecipe compile_recipe(const RankProgram& program, size_t chunk, bool keep_empty = false);

}  // namespace memsim::sim
