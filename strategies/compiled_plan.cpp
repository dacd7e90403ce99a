#include "strategies/compiled_plan.h"

#include <cmath>

#include "sim/check.h"
#include "sim/simulator.h"
#include "strategies/communication.h"
#include "strategies/data_parallel.h"
#include "strategies/model_states.h"
#include "strategies/pipeline_timing.h"
#include "strategies/schedules.h"
#include "strategies/tensor_parallel.h"
#include "strategies/time_model.h"

namespace memsim::strategies {

struct CompiledPlan::Stage {
  sim::RankProgram program;
  std::vector<sim::OpId> ops;
  sim::Bytes cpu;
  OverheadParts overheads;
};

namespace {

using sim::Category;

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

/// Layer range [first, last] of a chunk's transformer layers (empty when last < first).
std::pair<int32_t, int32_t> chunk_layer_range(const std::vector<int64_t>& starts, int64_t g) {
  return {static_cast<int32_t>(starts[g]), static_cast<int32_t>(starts[g + 1] - 1)};
}

/// Forward and backward seconds of each of the program's chunks.
std::vector<ChunkTimes> chunk_times(const sim::LayerGraph& graph, const sim::RankProgram& program) {
  std::vector<ChunkTimes> times;
  for (const sim::ChunkSpan& chunk : program.chunks) {
    ChunkTimes t;
    for (int pos = chunk.first; pos <= chunk.last; ++pos) {
      const sim::OpCost& cost = program.op_costs[graph.forward_order()[pos]];
      t.forward_s += cost.forward_s;
      t.backward_s += cost.backward_s;
    }
    for (const sim::RecomputeSpan& span : program.recompute) {
      if (span.first < chunk.first || span.last > chunk.last) continue;
      for (int pos = span.first; pos <= span.last; ++pos) {
        t.backward_s += program.op_costs[graph.forward_order()[pos]].forward_s;
      }
    }
    times.push_back(t);
  }
  return times;
}

/// Elements of the parameters a rank updates (views of parameters it holds excluded).
int64_t held_elements(const std::vector<RankParam>& params) {
  int64_t n = 0;
  for (const RankParam& p : params) {
    if (!p.tied) n += p.elements();
  }
  return n;
}

}  // namespace

CompiledPlan::~CompiledPlan() = default;

CompiledPlan::CompiledPlan(TrainingPlan plan)
    : plan_(std::move(plan)), graph_(std::make_unique<sim::LayerGraph>(plan_.model)) {
  const TensorParallelism& tp = plan_.parallel.tp;
  const PipelineParallelism& pp = plan_.parallel.pp;
  const DataParallelism& dp = plan_.parallel.dp;
  const Cluster& cluster = plan_.cluster;
  const sim::LayerGraph& graph = *graph_;
  MEMSIM_CHECK(tp.degree * pp.stages * dp.degree == world_size());
  const ScheduleInfo* schedule = find_schedule(pp.schedule);
  MEMSIM_CHECK(schedule != nullptr);

  // 1. Pipeline partition.
  chunk_layers_ = strategies::chunk_layers(plan_.model.layers, pp);
  const std::vector<int64_t> starts = chunk_starts(chunk_layers_);

  // 2-3. Tensor parallel sharding and precision, the same on every stage.
  const sim::DimSizes full =
      sim::model_dims(plan_.model, plan_.training.seq_len, plan_.training.micro_batch);
  const sim::DimSizes dims = rank_dims(full, tp);
  const std::vector<sim::Bytes> bytes = tensor_bytes(graph, dims, tp, plan_.precision);
  TensorParallelism unsplit = tp;
  unsplit.sequence_parallel = false;
  const std::vector<sim::Bytes> whole_sequence =
      tensor_bytes(graph, dims, unsplit, plan_.precision);

  const double tp_bandwidth = group_bandwidth(cluster, 1, tp.degree);
  const double dp_bandwidth = group_bandwidth(cluster, tp.degree, dp.degree);
  const int64_t process_groups =
      (tp.degree > 1 ? 1 : 0) + (dp.degree > 1 ? 1 : 0) + (pp.stages > 1 ? 1 : 0);
  const auto microbatches = plan_.microbatches();
  std::vector<std::vector<sim::ScheduledStep>> steps;
  std::vector<std::vector<ChunkTimes>> times;

  for (int64_t s = 0; s < pp.stages; ++s) {
    Stage& stage = stages_.emplace_back();
    sim::RankProgram& program = stage.program;
    program.graph = &graph;
    program.chunks = stage_chunks(graph, chunk_layers_, s, pp.stages);
    stage.ops = ops_in(graph, program.chunks);
    program.tensor_bytes = bytes;

    // 4-5. Model states of this stage's parameters, sharded by ZeRO (every TP rank holds
    // the same amount: the vocabulary is padded and KV heads replicate evenly).
    const std::vector<RankParam> params = rank_params(graph, stage.ops, full, tp, 0);
    const ShardedStates states = shard_states(params, plan_.model.layers, graph.op_count(), dp,
                                              plan_.precision, plan_.training.optimizer);
    const bool on_demand = plan_.training.gradient_buffers == GradientBuffers::kOnDemand &&
                           states.gradients_resident_in_full;
    program.resident = states.gpu;
    if (on_demand) program.resident[Category::kGradients] = sim::Bytes{};
    program.gradients_on_demand = on_demand;
    program.layers.gathered_weights = states.gathered_per_layer;
    program.layers.backward_gradients = states.gradients_per_layer;
    program.layers.prefetch = static_cast<int>(dp.zero == 3 ? dp.prefetch_layers : 0);
    program.backward_buffer = states.reduce_bucket;
    stage.cpu = states.cpu;

    program.op_costs.resize(graph.op_count());
    for (sim::OpId op : stage.ops) {
      sim::OpCost& cost = program.op_costs[op];
      if (on_demand) cost.parameter_gradients = states.gradients_per_op[op];
      cost.forward_buffer = sequence_parallel_buffer(graph, graph.op(op), whole_sequence, tp);
      cost.backward_buffer = cost.forward_buffer;
      cost.forward_s = compute_seconds(forward_flops(graph.op(op), dims), cluster.gpu,
                                       cluster.compute_efficiency);
      cost.backward_s = 2.0 * cost.forward_s;
    }
    add_tensor_parallel_time(graph, stage.ops, whole_sequence, tp, tp_bandwidth, program.op_costs);

    // 6. Checkpointing, chunk by chunk.
    for (int64_t g = s; g < pp.chunks(); g += pp.stages) {
      const auto [first, last] = chunk_layer_range(starts, g);
      const auto spans = recompute_spans(graph, plan_.checkpointing, first, last);
      program.recompute.insert(program.recompute.end(), spans.begin(), spans.end());
    }

    // 7. The stage's steps (timed below, once every stage's chunk times are known). ZeRO-3
    // gathers a chunk's parameters in forward and again in backward, and reduce-scatters
    // its gradients; what prefetching does not hide behind compute adds to the step.
    steps.push_back(schedule->steps(s, pp.stages, pp.virtual_stages, microbatches));
    std::vector<ChunkTimes> chunk = chunk_times(graph, program);
    if (dp.zero == 3) {
      sim::Bytes gathered;
      for (sim::Bytes b : states.gathered_per_layer)
        gathered += b;
      const double gather =
          all_gather_s(gathered, dp.degree, dp_bandwidth) / static_cast<double>(chunk.size());
      for (ChunkTimes& t : chunk) {
        t.forward_s =
            dp.overlap_communication ? std::max(t.forward_s, gather) : t.forward_s + gather;
        t.backward_s = dp.overlap_communication ? std::max(t.backward_s, 2 * gather)
                                                : t.backward_s + 2 * gather;
      }
    }
    times.push_back(chunk);

    // Gradient synchronisation after the last backward: an all-reduce, or ZeRO's
    // reduce-scatter then all-gather of the updated parameters; the reduction overlaps
    // the last microbatch's backward. Offload adds the shards' trips over PCIe.
    const sim::Elements held{held_elements(params)};
    const sim::Bytes gradient_bytes = sim::bytes_of(held, plan_.precision.gradient_bytes());
    const sim::Bytes weight_bytes = sim::bytes_of(held, plan_.precision.weight_bytes());
    double reduce = 0.0;
    double exposed_after = 0.0;
    if (dp.zero == 0) {
      reduce = all_reduce_s(gradient_bytes, dp.degree, dp_bandwidth);
    } else if (dp.zero < 3) {
      reduce = all_gather_s(gradient_bytes, dp.degree, dp_bandwidth);
      exposed_after = all_gather_s(weight_bytes, dp.degree, dp_bandwidth);
    }
    double window = 0.0;
    for (const ChunkTimes& t : chunk)
      window += t.backward_s;
    program.sync_s =
        (dp.overlap_communication ? std::max(0.0, reduce - window) : reduce) + exposed_after;
    if (dp.offload != Offload::kNone) {
      const double shard = static_cast<double>(sim::ceil_div(gradient_bytes.value(), dp.degree));
      program.sync_s += 2.0 * shard / cluster.gpu.host_link_bytes_per_s;
    }
    // The optimizer reads and writes the states it holds, bound by memory bandwidth.
    const sim::Bytes states_on_gpu = program.resident.total();
    program.optimizer_s =
        2.0 * static_cast<double>(states_on_gpu.value()) / cluster.gpu.memory_bandwidth_bytes_per_s;

    // 8. Overheads (the allocator reserve once the schedule is timed).
    stage.overheads.cuda_context = plan_.overheads.cuda_context;
    stage.overheads.process_groups = process_groups;
    stage.overheads.communication = plan_.overheads.nccl_per_group * process_groups;
    program.resident[Category::kOverhead] =
        stage.overheads.cuda_context + stage.overheads.communication;
  }

  // 7. Time the schedule across stages: activations (or their gradients) cross to the
  // next stage over the link between the stages' nodes.
  const sim::Bytes boundary = sim::bytes_of(
      rank_activation_elements({sim::Dim::kSeq, sim::Dim::kBatch, sim::Dim::kHidden}, dims, tp),
      plan_.precision.activation_bytes());
  const double transfer = pp.stages > 1
                              ? static_cast<double>(boundary.value()) /
                                    group_bandwidth(cluster, tp.degree * dp.degree, pp.stages)
                              : 0.0;
  const PipelineTiming timing = time_schedule(steps, times, transfer);
  bubble_fraction_ = timing.bubble_fraction;

  for (int64_t s = 0; s < pp.stages; ++s) {
    Stage& stage = stages_[s];
    stage.program.steps = std::move(steps[s]);
    // The allocator reserve is a share of what the step allocates beyond its resident
    // state, so it needs one walk without it.
    const sim::Bytes dynamic = sim::simulate(stage.program).peak - stage.program.resident.total();
    stage.overheads.allocator_reserve = sim::Bytes(static_cast<int64_t>(
        std::ceil(plan_.overheads.allocator_reserve * static_cast<double>(dynamic.value()))));
    stage.program.resident[Category::kOverhead] += stage.overheads.allocator_reserve;
  }

  // Model FLOPs: forward and backward (3 × forward) of every op, whole, for every
  // microbatch of every data-parallel replica.
  const sim::DimSizes whole =
      sim::model_dims(plan_.model, plan_.training.seq_len, plan_.training.micro_batch);
  double forward = 0.0;
  for (sim::OpId op : graph.forward_order())
    forward += forward_flops(graph.op(op), whole);
  model_flops_ = 3.0 * forward * static_cast<double>(microbatches * dp.degree);
}

RankPlacement CompiledPlan::placement(int64_t rank) const {
  const int64_t tp = plan_.parallel.tp.degree;
  const int64_t dp = plan_.parallel.dp.degree;
  return {rank, rank / (tp * dp), rank % tp, (rank / tp) % dp};
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
  const auto params =
      rank_params(*graph_, stages_[where.pp_stage].ops, full, plan_.parallel.tp, where.tp_rank);
  return owned_parameters(params, plan_.parallel.dp, where.dp_rank);
}

sim::Bytes CompiledPlan::rank_cpu_bytes(int64_t rank) const {
  return stages_[program_index(rank)].cpu;
}

const OverheadParts& CompiledPlan::overheads(int64_t rank) const {
  return stages_[program_index(rank)].overheads;
}

}  // namespace memsim::strategies
