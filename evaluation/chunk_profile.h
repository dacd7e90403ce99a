#pragma once
/// A chunk's recipe with its sizes left open: every delta of the compiled recipe names the
/// quantity it allocates or frees (a kind of tensor, an op's buffer, a layer's gathered
/// parameters...), so the chunk's forward and backward can be re-sized for any
/// configuration of the same shape without recompiling. The order of allocations and frees
/// does not depend on sizes; only which prefix of a pass is fullest does, and that is
/// settled per configuration among a few candidate prefixes: those that no other prefix
/// dominates quantity by quantity.

#include <cstdint>
#include <utility>
#include <vector>

#include "evaluation/chunk_times.h"
#include "sim/layer_graph.h"
#include "sim/quantity_index.h"
#include "sim/rank_program.h"
#include "strategies/data_parallel.h"
#include "strategies/pipeline.h"
#include "strategies/strategy_pass.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// A sum of quantities with integer coefficients.
struct LinearForm {
  std::vector<std::pair<int32_t, int64_t>> terms;
  int64_t evaluate(const std::vector<int64_t>& quantities) const {
    int64_t sum = 0;
    for (const auto& [q, coefficient] : terms)
      sum += coefficient * quantities[q];
    return sum;
  }
  std::pair<int64_t, int64_t> evaluate(const std::vector<int64_t>& first,
                                       const std::vector<int64_t>& second) const {
    int64_t a = 0;
    int64_t b = 0;
    for (const auto& [q, coefficient] : terms) {
      a += coefficient * first[q];
      b += coefficient * second[q];
    }
    return {a, b};
  }
};

/// Sums of quantities, each stored as its difference from the one before: successive
/// prefixes of a pass differ in a few quantities, so evaluating them all costs about as
/// much as evaluating one.
struct FormChain {
  std::vector<LinearForm> steps;  ///< the first sum, then each difference
  /// Each sum's value, in order.
  void evaluate(const std::vector<int64_t>& quantities, std::vector<int64_t>& out) const;
  /// The same for two sets of quantities at once.
  void evaluate(const std::vector<int64_t>& first, const std::vector<int64_t>& second,
                std::vector<int64_t>& out_first, std::vector<int64_t>& out_second) const;
};

/// One pass of a chunk: the prefixes that can be fullest, and where the pass ends, each
/// split where the context's quantities end and the stage's begin, so each part can be
/// evaluated (and kept) on its own.
struct PassProfile {
  FormChain context_peaks;
  FormChain stage_peaks;
  LinearForm context_net;
  LinearForm stage_net;
  size_t candidates() const { return context_peaks.steps.size(); }
};

struct ChunkProfile {
  PassProfile forward;
  PassProfile backward;  ///< recomputation included
  /// With parameter gradients made on demand; empty unless the form asks for it.
  PassProfile first_backward;
  /// A split backward's input and weight steps (empty unless the settings split it), the
  /// weight step also with gradients made on demand.
  PassProfile input;
  PassProfile weight;
  PassProfile first_weight;
  PassProfile host_forward;  ///< activations offloaded to host memory
  PassProfile host_backward;
  bool offloads = false;  ///< whether any activations go to host memory
  bool split = false;     ///< whether the backward is split
  /// Whether what the chunk reads from outside takes gradients: all but the embedding's.
  bool inputs_take_gradients = true;
  std::vector<OpRuns> runs;  ///< what the chunk's compute time is made of
};

/// Writes `settings` into `program`: what each strategy pass does to its chunks.
void apply_recipe_settings(const RecipeSettings& settings, sim::RankProgram& program);

/// All a chunk's profile depends on besides the model: chunks of equal forms share one.
/// Its shape is canonical (canonical_shape): alike chunks have one form wherever they are.
struct ChunkForm {
  ChunkShape shape;
  RecipeSettings settings;
  /// What the plan's stages may do with parameter gradients (plan_gradient_lifetime): unless
  /// they keep them all step, the profile has the first backward, which makes them (and
  /// frees each as its op ends, under kOpBackward). Plans that never do skip building it.
  sim::GradientLifetime gradients = sim::GradientLifetime::kWholeStep;
  bool operator==(const ChunkForm&) const = default;
};

/// The profile of a chunk of `form`.
ChunkProfile profile_chunk(const sim::LayerGraph& graph, const sim::QuantityIndex& index,
                           const ChunkForm& form);

}  // namespace memsim::evaluation
