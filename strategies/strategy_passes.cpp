#include "strategies/data_parallel.h"
#include "strategies/schedules.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

// The registry: each pass's file defines its function; a new strategy adds a line to each list.
StrategyPass tensor_parallel_pass();
StrategyPass precision_pass();
StrategyPass data_parallel_pass();
StrategyPass module_gathering_pass();
StrategyPass fsdp_pass();
StrategyPass checkpointing_pass();
StrategyPass activation_offload_pass();
StrategyPass chunked_loss_pass();
StrategyPass optimizer_in_backward_pass();
StrategyPass torch_compile_pass();
StrategyPass loss_upcast_pass();
StrategyPass gradient_accumulation_pass();
StrategyPass split_backward_pass();
StrategyPass stage_outputs_pass();

const std::vector<StrategyPass>& strategy_passes() {
  static const std::vector<StrategyPass> passes = {
      tensor_parallel_pass(),    precision_pass(),     data_parallel_pass(),
      module_gathering_pass(),   fsdp_pass(),          checkpointing_pass(),
      activation_offload_pass(), chunked_loss_pass(),  optimizer_in_backward_pass(),
      torch_compile_pass(),      loss_upcast_pass(),   gradient_accumulation_pass(),
      split_backward_pass(),     stage_outputs_pass(),
  };
  return passes;
}

const std::vector<PassCheck>& pass_checks() {
  static const std::vector<PassCheck> checks = [] {
    std::vector<PassCheck> all;
    for (const StrategyPass& pass : strategy_passes())
      all.insert(all.end(), pass.checks.begin(), pass.checks.end());
    return all;
  }();
  return checks;
}

sim::GraphOptions graph_options(const TrainingPlan& plan) {
  sim::GraphOptions options;
  for (const StrategyPass& pass : strategy_passes()) {
    if (pass.shape_graph != nullptr) pass.shape_graph(plan, options);
  }
  return options;
}

RecipeSettings recipe_settings(const TrainingPlan& plan, const sim::LayerGraph& graph) {
  const ScheduleInfo* schedule = find_schedule(plan.parallel.pp.schedule);
  return {gathered_ahead(plan.parallel.dp), module_gathering(plan, graph),
          schedule != nullptr && schedule->split_backward, plan.parallel.pp.stages > 1,
          plan.training.chunk_passes};
}

StageStates stage_states(const StageInputs& inputs) {
  StageStates states =
      whole_states(inputs.params, inputs.graph, inputs.precision, inputs.optimizer);
  for (const StrategyPass& pass : strategy_passes()) {
    if (pass.shape_stage != nullptr) pass.shape_stage(inputs, states);
  }
  return states;
}

void shape_chunks(const RecipeSettings& settings, sim::RankProgram& program) {
  for (const StrategyPass& pass : strategy_passes()) {
    if (pass.shape_chunks != nullptr) pass.shape_chunks(settings, program);
  }
}

}  // namespace memsim::strategies
