#include "evaluation/chunk_times.h"

namespace memsim::evaluation {

std::vector<OpRuns> op_runs(const sim::RankProgram& program, size_t chunk) {
  const sim::LayerGraph& graph = *program.graph;
  const sim::ChunkSpan& span = program.chunks[chunk];
  const size_t slots = graph.twins().size();
  std::vector<int64_t> forward(slots, 0);
  std::vector<int64_t> recompute(slots, 0);
  for (int pos = span.first; pos <= span.last; ++pos)
    ++forward[graph.twin_slot(graph.forward_order()[pos])];
  for (const sim::RecomputeSpan& region : program.recompute) {
    if (region.first < span.first || region.last > span.last) continue;
    for (int pos = region.first; pos <= region.last; ++pos)
      ++recompute[graph.twin_slot(graph.forward_order()[pos])];
    for (int pos : region.reused)  // their forward's outputs are reused, not recomputed
      --recompute[graph.twin_slot(graph.forward_order()[pos])];
  }
  std::vector<OpRuns> runs;
  for (size_t slot = 0; slot < slots; ++slot) {
    if (forward[slot] != 0 || recompute[slot] != 0) {
      runs.push_back({static_cast<int32_t>(slot), forward[slot], recompute[slot]});
    }
  }
  return runs;
}

ChunkTimes chunk_times(const std::vector<OpRuns>& runs, const PlanContext& context,
                       bool inputs_take_gradients) {
  ChunkTimes times;
  for (const OpRuns& run : runs) {
    const sim::OpTimes& op = context.twin_times(run.slot);
    times.forward_s += static_cast<double>(run.forward) * op.forward_s;
    times.backward_s += static_cast<double>(run.forward) * op.backward_s +
                        static_cast<double>(run.recompute) * op.forward_s;
    times.weight_s += static_cast<double>(run.forward) * op.weight_s;
  }
  // The first stage's weight step is its whole backward (sim/microbatch_recipe.cpp).
  if (!inputs_take_gradients) times.weight_s = times.backward_s;
  return times;
}

}  // namespace memsim::evaluation
