#include "strategies/compiled_plan.h"

#include "sim/check.h"
#include "strategies/model_states.h"
#include "strategies/tensor_parallel.h"
#include "strategies/time_model.h"

namespace memsim::strategies {

namespace {

sim::RankProgram compile_rank(const TrainingPlan& plan, const sim::LayerGraph& graph,
                              int64_t& parameters) {
  using sim::Category;
  sim::RankProgram program;
  program.graph = &graph;

  // 1. Tensor parallel sharding: the dimensions one rank sees.
  const sim::DimSizes full =
      sim::model_dims(plan.model, plan.training.seq_len, plan.training.micro_batch);
  const sim::DimSizes dims = rank_dims(full, plan.parallel.tp);

  // 2. Precision: every tensor's elements on this rank become bytes.
  program.tensor_bytes.reserve(graph.tensor_count());
  for (sim::TensorId t = 0; t < graph.tensor_count(); ++t) {
    const sim::TensorSpec& spec = graph.tensor(t).spec;
    program.tensor_bytes.push_back(
        sim::bytes_of(rank_activation_elements(spec.shape, dims, plan.parallel.tp),
                      plan.precision.bytes(spec.dtype)));
  }

  // 3. Model states of the ops this rank runs.
  const std::vector<sim::OpId> ops(graph.forward_order().begin(), graph.forward_order().end());
  const ModelStates states =
      model_states(graph, ops, full, dims, plan.precision, plan.training.optimizer);
  parameters = states.parameters;
  const bool on_demand = plan.training.gradient_buffers == GradientBuffers::kOnDemand;
  for (Category c : {Category::kWeights, Category::kMasterWeights, Category::kOptimizer}) {
    program.resident[c] = states.bytes[c];
  }
  if (!on_demand) program.resident[Category::kGradients] = states.bytes[Category::kGradients];
  program.resident[Category::kOverhead] = plan.overheads.cuda_context;
  program.gradients_on_demand = on_demand;

  program.op_costs.resize(graph.op_count());
  for (sim::OpId op : ops) {
    sim::OpCost& cost = program.op_costs[op];
    cost.parameter_gradients = states.gradients_per_op[op];
    cost.forward_s = compute_seconds(forward_flops(graph.op(op), dims), plan.cluster.gpu,
                                     plan.cluster.compute_efficiency);
    cost.backward_s = 2.0 * cost.forward_s;
  }

  // 4. Checkpointing.
  program.recompute =
      recompute_spans(graph, plan.checkpointing, 0, static_cast<int32_t>(plan.model.layers) - 1);

  // 5. Schedule: gradient accumulation over the step's microbatches.
  program.microbatches = plan.microbatches();
  return program;
}

}  // namespace

CompiledPlan::CompiledPlan(TrainingPlan plan)
    : plan_(std::move(plan)), graph_(std::make_unique<sim::LayerGraph>(plan_.model)) {
  MEMSIM_CHECK(plan_.parallel.tp.degree * plan_.parallel.pp * plan_.parallel.dp == world_size());
  int64_t parameters = 0;
  programs_.push_back(compile_rank(plan_, *graph_, parameters));
  parameters_.push_back(parameters);
}

RankPlacement CompiledPlan::placement(int64_t rank) const {
  const int64_t tp = plan_.parallel.tp.degree;
  const int64_t dp = plan_.parallel.dp;
  return {rank, rank / (tp * dp), rank % tp, (rank / tp) % dp};
}

size_t CompiledPlan::program_index(int64_t rank) const {
  MEMSIM_CHECK(rank >= 0 && rank < world_size());
  return 0;
}

const sim::RankProgram& CompiledPlan::program(int64_t rank) const {
  return programs_[program_index(rank)];
}

int64_t CompiledPlan::rank_parameters(int64_t rank) const {
  return parameters_[program_index(rank)];
}

}  // namespace memsim::strategies
