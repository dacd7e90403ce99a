#include "strategies/compiled_plan.h"

#include <cmath>

#include "sim/check.h"
#include "sim/simulator.h"
#include "strategies/data_parallel.h"
#include "strategies/model_states.h"
#include "strategies/tensor_parallel.h"
#include "strategies/time_model.h"

namespace memsim::strategies {

namespace {

std::vector<sim::OpId> all_ops(const sim::LayerGraph& graph) {
  return {graph.forward_order().begin(), graph.forward_order().end()};
}

/// Every tensor's bytes on one rank under `tp`.
std::vector<sim::Bytes> tensor_bytes(const sim::LayerGraph& graph, const sim::DimSizes& dims,
                                     const TensorParallelism& tp, const Precision& precision) {
  std::vector<sim::Bytes> bytes;
  bytes.reserve(graph.tensor_count());
  for (sim::TensorId t = 0; t < graph.tensor_count(); ++t) {
    const sim::TensorSpec& spec = graph.tensor(t).spec;
    bytes.push_back(
        sim::bytes_of(rank_activation_elements(spec.shape, dims, tp), precision.bytes(spec.dtype)));
  }
  return bytes;
}

/// The programs of the ranks of one pipeline stage (all ranks, until pipelining).
sim::RankProgram compile_rank(const TrainingPlan& plan, const sim::LayerGraph& graph,
                              sim::Bytes& cpu, OverheadParts& overheads) {
  using sim::Category;
  sim::RankProgram program;
  program.graph = &graph;
  const TensorParallelism& tp = plan.parallel.tp;
  const DataParallelism& dp = plan.parallel.dp;
  const std::vector<sim::OpId> ops = all_ops(graph);

  // 1-2. Tensor parallel sharding and precision: every tensor's bytes on this rank, and
  // the sequence-parallel communication buffers of the sharded layers.
  const sim::DimSizes full =
      sim::model_dims(plan.model, plan.training.seq_len, plan.training.micro_batch);
  const sim::DimSizes dims = rank_dims(full, tp);
  program.tensor_bytes = tensor_bytes(graph, dims, tp, plan.precision);
  TensorParallelism unsplit = tp;
  unsplit.sequence_parallel = false;
  const std::vector<sim::Bytes> whole_sequence = tensor_bytes(graph, dims, unsplit, plan.precision);

  // 3-4. Model states of this rank's parameters, sharded by ZeRO (every TP rank holds the
  // same amount: the vocabulary is padded and KV heads replicate evenly).
  const std::vector<RankParam> params = rank_params(graph, ops, full, tp, 0);
  const ShardedStates states = shard_states(params, plan.model.layers, graph.op_count(), dp,
                                            plan.precision, plan.training.optimizer);
  const bool on_demand = plan.training.gradient_buffers == GradientBuffers::kOnDemand &&
                         states.gradients_resident_in_full;
  program.resident = states.gpu;
  if (on_demand) program.resident[Category::kGradients] = sim::Bytes{};
  program.gradients_on_demand = on_demand;
  program.layers.gathered_weights = states.gathered_per_layer;
  program.layers.backward_gradients = states.gradients_per_layer;
  program.layers.prefetch = static_cast<int>(dp.zero == 3 ? dp.prefetch_layers : 0);
  program.backward_buffer = states.reduce_bucket;
  cpu = states.cpu;

  program.op_costs.resize(graph.op_count());
  for (sim::OpId op : ops) {
    sim::OpCost& cost = program.op_costs[op];
    if (on_demand) cost.parameter_gradients = states.gradients_per_op[op];
    cost.forward_buffer = sequence_parallel_buffer(graph, graph.op(op), whole_sequence, tp);
    cost.backward_buffer = cost.forward_buffer;
    cost.forward_s = compute_seconds(forward_flops(graph.op(op), dims), plan.cluster.gpu,
                                     plan.cluster.compute_efficiency);
    cost.backward_s = 2.0 * cost.forward_s;
  }

  // 5. Checkpointing.
  program.recompute =
      recompute_spans(graph, plan.checkpointing, 0, static_cast<int32_t>(plan.model.layers) - 1);

  // 6. Schedule: gradient accumulation over the step's microbatches.
  program.microbatches = plan.microbatches();

  // 7. Overheads. The allocator reserve is a share of what the step allocates beyond its
  // resident state, so it needs one walk without it.
  overheads.cuda_context = plan.overheads.cuda_context;
  overheads.process_groups = (tp.degree > 1 ? 1 : 0) + (dp.degree > 1 ? 1 : 0);
  overheads.communication = plan.overheads.nccl_per_group * overheads.process_groups;
  program.resident[Category::kOverhead] = overheads.cuda_context + overheads.communication;
  const sim::Bytes dynamic = sim::simulate(program).peak - program.resident.total();
  overheads.allocator_reserve = sim::Bytes(static_cast<int64_t>(
      std::ceil(plan.overheads.allocator_reserve * static_cast<double>(dynamic.value()))));
  program.resident[Category::kOverhead] += overheads.allocator_reserve;
  return program;
}

}  // namespace

CompiledPlan::CompiledPlan(TrainingPlan plan)
    : plan_(std::move(plan)), graph_(std::make_unique<sim::LayerGraph>(plan_.model)) {
  MEMSIM_CHECK(plan_.parallel.tp.degree * plan_.parallel.pp * plan_.parallel.dp.degree ==
               world_size());
  RankKind& kind = kinds_.emplace_back();
  kind.program = compile_rank(plan_, *graph_, kind.cpu, kind.overheads);
}

RankPlacement CompiledPlan::placement(int64_t rank) const {
  const int64_t tp = plan_.parallel.tp.degree;
  const int64_t dp = plan_.parallel.dp.degree;
  return {rank, rank / (tp * dp), rank % tp, (rank / tp) % dp};
}

size_t CompiledPlan::program_index(int64_t rank) const {
  MEMSIM_CHECK(rank >= 0 && rank < world_size());
  return 0;
}

const sim::RankProgram& CompiledPlan::program(int64_t rank) const {
  return kinds_[program_index(rank)].program;
}

int64_t CompiledPlan::rank_parameters(int64_t rank) const {
  const RankPlacement where = placement(rank);
  const sim::DimSizes full = sim::model_dims(plan_.model, 1, 1);
  const auto params =
      rank_params(*graph_, all_ops(*graph_), full, plan_.parallel.tp, where.tp_rank);
  return owned_parameters(params, plan_.parallel.dp, where.dp_rank);
}

sim::Bytes CompiledPlan::rank_cpu_bytes(int64_t rank) const {
  return kinds_[program_index(rank)].cpu;
}

const OverheadParts& CompiledPlan::overheads(int64_t rank) const {
  return kinds_[program_index(rank)].overheads;
}

}  // namespace memsim::strategies
