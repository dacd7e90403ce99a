#include "sim/microbatch_recipe.h"

#include "sim/check.h"
#include "sim/held_weaver.h"
#include "sim/recipe_compiler.h"

namespace memsim::sim {

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
