#include "evaluation/compiled_plan.h"

#include "evaluation/chunk_profile.h"
#include "evaluation/chunk_times.h"
#include "evaluation/plan_context.h"
#include "evaluation/stage_sizes.h"
#include "sim/check.h"
#include "sim/simulator.h"
#include "strategies/communication.h"
#include "strategies/model_states.h"
#include "strategies/schedules.h"
#include "strategies/strategy_pass.h"

namespace memsim::evaluation {

struct CompiledPlan::Stage {
  sim::RankProgram program;
  std::vector<sim::OpId> ops;
  sim::Bytes cpu;
  OverheadParts overheads;
};

sim::RankProgram stage_program(const TrainingPlan& plan, const sim::LayerGraph& graph,
                               const sim::QuantityIndex& index, const PlanContext& context,
                               const StageFacts& facts, int64_t stage) {
  const PipelineParallelism& pp = plan.parallel.pp;
  sim::RankProgram program;
  program.graph = &graph;
  program.index = &index;
  program.sizes = stage_sizes(context, facts, index);
  program.chunks = stage_chunks(graph, chunk_layers(plan.model.layers, pp), stage, pp);
  program.resident = facts.resident;
  program.gradients = facts.gradients;
  apply_recipe_settings(recipe_settings(plan, graph), program);
  program.op_times.resize(graph.op_count());
  for (sim::OpId op : ops_in(graph, program.chunks)) {
    program.op_times[op] = context.twin_times(graph.twin_slot(op));
  }
  program.optimizer_s = facts.optimizer_s;
  program.optimizer_workspace = facts.states.step_workspace;
  return program;
}

CompiledPlan::~CompiledPlan() = default;

CompiledPlan::CompiledPlan(TrainingPlan plan)
    : plan_(std::move(plan)),
      graph_(std::make_unique<sim::LayerGraph>(plan_.model, graph_options(plan_))),
      index_(
          std::make_unique<sim::QuantityIndex>(*graph_, std::span<const int>{}, kHeldQuantities)) {
  const PipelineParallelism& pp = plan_.parallel.pp;
  const sim::LayerGraph& graph = *graph_;
  MEMSIM_CHECK(plan_.parallel.tp.degree * pp.stages * plan_.parallel.dp.degree == world_size());
  const ScheduleInfo* schedule = find_schedule(pp.schedule);
  MEMSIM_CHECK(schedule != nullptr);

  // 1. Pipeline partition; 2-3. sharding and precision, the same on every stage.
  chunk_layers_ = strategies::chunk_layers(plan_.model.layers, pp);
  const PlanContext context(context_inputs(plan_, plan_.cluster), graph, index_->classes());
  const FactsInputs facts_in = facts_inputs(plan_, plan_.training.optimizer, plan_.cluster);

  std::vector<std::vector<sim::ScheduledStep>> steps;
  std::vector<std::vector<ChunkTimes>> times;
  for (int64_t s = 0; s < pp.stages; ++s) {
    // 4-6. Model states, ZeRO and offload, checkpointing.
    const std::vector<ChunkShape> shapes = stage_shapes(chunk_layers_, s, pp);
    const StageExtent extent = stage_extent(graph, shapes);
    const StageFacts facts = stage_facts(facts_in, graph, extent,
                                         param_groups(graph, plan_.parallel.tp, extent.embedding));
    Stage& stage = stages_.emplace_back();
    stage.program = stage_program(plan_, graph, *index_, context, facts, s);
    stage.ops = ops_in(graph, stage.program.chunks);
    stage.cpu = facts.states.cpu;
    stage.overheads = facts.overheads;

    // 7. The stage's steps, timed below once every stage's chunk times are known.
    steps.push_back(schedule->steps(s, pp.stages, pp.virtual_stages, plan_.microbatches()));
    std::vector<ChunkTimes> chunk;
    for (size_t c = 0; c < stage.program.chunks.size(); ++c)
      chunk.push_back(chunk_times(op_runs(stage.program, c), context, !shapes[c].embedding));
    double window = 0.0;
    for (const ChunkTimes& t : chunk)
      window += t.backward_s;
    add_layer_communication(facts.states, stage.program.chunks, chunk);
    stage.program.sync_s = facts.states.sync_s(window);
    times.push_back(chunk);
  }

  // 7. Time the schedule across stages: activations (or their gradients) cross to the next
  // stage over the link between the stages' nodes.
  const double transfer = pipeline_transfer_s(plan_, context);
  std::vector<std::vector<double>> starts;
  const PipelineTiming timing = time_schedule(*schedule, steps, times, transfer, &starts);
  for (int64_t s = 0; s < pp.stages; ++s) {
    for (size_t i = 0; i < steps[s].size(); ++i)
      steps[s][i].start_s = starts[s][i];
  }
  bubble_fraction_ = timing.bubble_fraction;

  // 8. The allocator reserve: a share of what the step allocates beyond its resident
  // state, so it needs one walk without it.
  for (int64_t s = 0; s < pp.stages; ++s) {
    Stage& stage = stages_[s];
    stage.program.steps = std::move(steps[s]);
    const sim::Bytes dynamic = sim::simulate(stage.program).peak - stage.program.resident.total();
    stage.overheads.allocator_reserve = allocator_reserve(plan_, dynamic);
    stage.program.resident[sim::Category::kOverhead] += stage.overheads.allocator_reserve;
  }
  model_flops_ = evaluation::model_flops_per_step(plan_, context);
}

RankPlacement rank_placement(const Parallelism& parallel, int64_t rank) {
  const int64_t tp = parallel.tp.degree;
  const int64_t dp = parallel.dp.degree;
  return {rank, rank / (tp * dp), rank % tp, (rank / tp) % dp};
}

RankPlacement CompiledPlan::placement(int64_t rank) const {
  return rank_placement(plan_.parallel, rank);
}

size_t CompiledPlan::program_index(int64_t rank) const {
  MEMSIM_CHECK(rank >= 0 && rank < world_size());
  return static_cast<size_t>(placement(rank).pp_stage);
}

size_t CompiledPlan::program_count() const {
  return stages_.size();
}

const sim::RankProgram& CompiledPlan::program(int64_t rank) const {
  return stages_[program_index(rank)].program;
}

int64_t CompiledPlan::rank_parameters(int64_t rank) const {
  const RankPlacement where = placement(rank);
  const sim::DimSizes full = sim::model_dims(plan_.model, 1, 1);
  const auto& ops = stages_[where.pp_stage].ops;
  const auto params = rank_params(*graph_, ops, full, plan_.parallel.tp, where.tp_rank,
                                  has_embedding(*graph_, ops));
  return owned_parameters(params, plan_.parallel.dp, where.dp_rank);
}

sim::Bytes CompiledPlan::rank_cpu_bytes(int64_t rank) const {
  return stages_[program_index(rank)].cpu;
}

const OverheadParts& CompiledPlan::overheads(int64_t rank) const {
  return stages_[program_index(rank)].overheads;
}

}  // namespace memsim::evaluation
