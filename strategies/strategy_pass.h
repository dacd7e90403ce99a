#pragma once
/// A strategy as a registered pass: the scenario keys it reads, the layouts it refuses, and
/// what it does to the layer graph and to each chunk's program. Both evaluations (the
/// walk's programs and the fast evaluation's chunk profiles) build through the same hooks,
/// so a pass is one file, its test and a line in the registry (strategy_passes.cpp);
/// docs/architecture.md walks through adding one.

#include <string>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/rank_program.h"
#include "strategies/model_states.h"
#include "strategies/plan.h"
#include "strategies/setting_key.h"

namespace memsim::strategies {

/// A layout a strategy refuses: the scenario keys that decide it (the one at fault first,
/// space separated), a short phrase for counting skipped sweep points, and the message.
/// `fails` reads neither the global batch nor the microbatch count: a sweep judges a
/// point's layout once for all its global batches (resolve_parallel_layout).
struct PassCheck {
  const char* keys = "";
  const char* summary = "";
  bool (*fails)(const Plan& plan) = nullptr;
  std::string (*message)(const Plan& plan) = nullptr;
};

/// What shapes a chunk's program beyond its ops: the layers ZeRO-3 gathers ahead (from the
/// plan's data parallelism) and the passes' own settings. The fast evaluation's chunk
/// profiles are keyed by it.
struct RecipeSettings {
  int gathered_ahead = 0;
  sim::ModuleGathering gathering;  ///< ZeRO-3 gathering module by module (module_gathering)
  bool split_backward = false;     ///< the schedule splits backwards (ScheduleInfo)
  bool pipelined = false;          ///< the model runs in pipeline stages (pp > 1)
  ChunkPassSettings passes;
  bool operator==(const RecipeSettings&) const = default;
};
/// `plan`'s recipe settings on its model's training `graph`, for the walk's programs and
/// the fast evaluation's chunks alike.
RecipeSettings recipe_settings(const TrainingPlan& plan, const sim::LayerGraph& graph);

/// What shapes a pipeline stage's model states: its rank's parameters (one TP rank's, each
/// kind of layer's counted once per layer) and the plan's settings they are held under.
struct StageInputs {
  const std::vector<RankParam>& params;
  const sim::LayerGraph& graph;
  const Parallelism& parallel;
  const Precision& precision;
  const OptimizerSettings& optimizer;
  const Cluster& cluster;
};
/// A stage's states: whole_states, then every pass's stage hook in registry order.
StageStates stage_states(const StageInputs& inputs);

struct StrategyPass {
  const char* name = "";
  std::vector<SettingKey> keys{};  ///< the scenario keys it reads (its schema)
  std::vector<PassCheck> checks{};
  /// Shapes the training graph: how the framework builds the model's ops.
  void (*shape_graph)(const TrainingPlan& plan, sim::GraphOptions& options) = nullptr;
  /// Shapes each chunk's program: what it keeps, recomputes, moves or holds. It reads only
  /// `settings`, which key the fast evaluation's chunk profiles.
  void (*shape_chunks)(const RecipeSettings& settings, sim::RankProgram& program) = nullptr;
  /// Shapes each stage's model states: what it shards, moves to host memory or holds
  /// around its layers, and what it synchronises after the steps.
  void (*shape_stage)(const StageInputs& inputs, StageStates& states) = nullptr;
};

/// Every registered pass, in the order they apply.
const std::vector<StrategyPass>& strategy_passes();

/// Every pass's checks, in registry order: the layout problems after the core's.
const std::vector<PassCheck>& pass_checks();

/// How the training plan's framework builds the model's graph (serving builds it as
/// defined).
sim::GraphOptions graph_options(const TrainingPlan& plan);

/// Applies every pass's chunk hook to `program`.
void shape_chunks(const RecipeSettings& settings, sim::RankProgram& program);

}  // namespace memsim::strategies
