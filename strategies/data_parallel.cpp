#include "strategies/data_parallel.h"

#include <algorithm>

#include "strategies/communication.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

using sim::Bytes;
using sim::Category;

/// One rank's part of `total` split `dp` ways with padding: ⌈total / dp⌉.
int64_t shard(int64_t total, int64_t dp) {
  return sim::ceil_div(total, dp);
}
Bytes shard(Bytes total, int64_t dp) {
  return Bytes(sim::ceil_div(total.value(), dp));
}

}  // namespace

std::vector<sim::HeldBuffer> held_buffers(int prefetch) {
  using sim::HeldSpan;
  return {{HeldSpan::kBackwardPass, Category::kTemporary, kGradientBucket, 0},
          {HeldSpan::kLayerRuns, Category::kWeights, kGatheredParameters, prefetch},
          {HeldSpan::kBackwardRuns, Category::kGradients, kLayerGradients, 0}};
}

namespace {

/// What the rank's parameters come to over the stage (each counted `count` times).
struct Partition {
  int64_t elements = 0;    ///< its own (tied views excluded)
  int64_t persistent = 0;  ///< ZeRO-3: small tensors kept whole
  Bytes gathered;          ///< ZeRO-3: what it all-gathers in one pass
};

/// Walks the parameters once: the stage's totals, and per layer slot (one layer of each
/// kind, not times `count`) the full gradients and ZeRO-3's gathered weights.
Partition partition(const StageInputs& in, StageStates& states) {
  const DataParallelism& dp = in.parallel.dp;
  const Precision& precision = in.precision;
  Partition part;
  for (const RankParam& p : in.params) {
    const Bytes weight = sim::bytes_of({p.elements()}, precision.weight_bytes());
    states.gradients[in.graph.layer_slot(p.layer)] +=
        sim::bytes_of({p.elements()}, precision.gradient_bytes());
    if (!p.tied) part.elements += p.elements() * p.count;
    if (dp.zero != 3) continue;
    if (p.elements() < dp.persistence_threshold) {
      if (!p.tied) part.persistent += p.elements() * p.count;
    } else {
      states.gathered[in.graph.layer_slot(p.layer)] += weight;
      part.gathered += weight * p.count;
    }
  }
  return part;
}

/// Shards the whole states in `states`: ZeRO-1 the optimizer states and master weights,
/// ZeRO-2 the gradients, ZeRO-3 the weights (small tensors kept whole); offload moves the
/// optimizer's partition (and ZeRO-3's parameters) to host memory.
void shard_states(const StageInputs& in, const Partition& part, StageStates& states) {
  const DataParallelism& dp = in.parallel.dp;
  const Precision& precision = in.precision;
  const int64_t n = dp.degree;
  const sim::CategoryBytes full = states.gpu;
  const bool offload = dp.offload != Offload::kNone;
  const int64_t elements = part.elements;
  const int64_t persistent = part.persistent;

  // Optimizer states and fp32 master weights: sharded from ZeRO-1 on.
  const Bytes master =
      dp.zero >= 1 ? shard(full[Category::kMasterWeights], n) : full[Category::kMasterWeights];
  const Bytes optimizer =
      dp.zero >= 1 ? shard(full[Category::kOptimizer], n) : full[Category::kOptimizer];
  // Gradients: whole under ZeRO-0/1, this rank's shard from ZeRO-2 on. With offload the
  // optimizer steps on the CPU from fp32 gradients kept there (ZeRO-Offload).
  const Bytes gradients =
      dp.zero >= 2 ? shard(full[Category::kGradients], n) : full[Category::kGradients];
  // Weights: whole below ZeRO-3; then this rank's shard plus the small tensors kept whole.
  const Bytes weights = dp.zero == 3 ? sim::bytes_of({shard(elements - persistent, n) + persistent},
                                                     precision.weight_bytes())
                                     : full[Category::kWeights];

  states.gpu = {};
  states.gpu[Category::kWeights] = weights;
  if (offload) {
    states.cpu = master + optimizer + sim::bytes_of({shard(elements, n)}, 4);
    if (dp.offload == Offload::kOptimizerAndParams) {
      states.gpu[Category::kWeights] = sim::bytes_of({persistent}, precision.weight_bytes());
      states.cpu += weights - states.gpu[Category::kWeights];
    }
  } else {
    states.gpu[Category::kMasterWeights] = master;
    states.gpu[Category::kOptimizer] = optimizer;
    states.gpu[Category::kGradients] = gradients;
  }
  // The optimizer steps what it holds: this rank's shard from ZeRO-1 on, nothing on the GPU
  // when it steps in host memory.
  if (offload) {
    states.step_workspace = Bytes{};
  } else if (dp.zero >= 1) {
    states.step_workspace = optimizer_step_workspace(
        in.optimizer, shard(elements, n), largest_param(in.params), precision.state_bytes());
  }
  states.gradients_resident_in_full = dp.zero < 2 && !offload;
  if (states.gradients_resident_in_full)
    std::fill(states.gradients.begin(), states.gradients.end(), Bytes{});
  if (dp.zero >= 1 || offload) {
    states.reduce_bucket =
        sim::bytes_of({std::min(dp.reduce_bucket_elements, elements)}, precision.gradient_bytes());
  }
}

/// Gradient synchronisation after the last backward: an all-reduce, or ZeRO's
/// reduce-scatter then all-gather of the updated parameters; ZeRO-3 instead gathers each
/// layer's parameters in forward and again in backward, and reduce-scatters its gradients
/// there. The reduction overlaps the last microbatch's backward (added by the evaluation,
/// which knows its length). Offload adds the shards' trips over PCIe.
void synchronise(const StageInputs& in, const Partition& part, StageStates& states) {
  const DataParallelism& dp = in.parallel.dp;
  const int64_t held = part.elements;
  const Bytes gathered = part.gathered;
  const double bandwidth = group_bandwidth(in.cluster, in.parallel.tp.degree, dp.degree);
  const Bytes gradient_bytes = sim::bytes_of({held}, in.precision.gradient_bytes());
  const Bytes weight_bytes = sim::bytes_of({held}, in.precision.weight_bytes());
  states.overlaps_compute = dp.overlap_communication;
  if (dp.zero == 0) {
    states.reduce_s = all_reduce_s(gradient_bytes, dp.degree, bandwidth);
  } else if (dp.zero < 3) {
    states.reduce_s = all_gather_s(gradient_bytes, dp.degree, bandwidth);
    states.gather_after_s = all_gather_s(weight_bytes, dp.degree, bandwidth);
  } else {
    states.forward_communication_s = all_gather_s(gathered, dp.degree, bandwidth);
    states.backward_communication_s = 2 * states.forward_communication_s;
  }
  if (dp.offload != Offload::kNone) {
    const double part = static_cast<double>(sim::ceil_div(gradient_bytes.value(), dp.degree));
    states.offload_s = 2.0 * part / in.cluster.gpu->host_link_bytes_per_s;
  }
}

void shard_stage(const StageInputs& in, StageStates& states) {
  const Partition part = partition(in, states);
  shard_states(in, part, states);
  synchronise(in, part, states);
}

}  // namespace

int64_t owned_parameters(const std::vector<RankParam>& params, const DataParallelism& dp,
                         int64_t dp_rank) {
  int64_t owned = 0;
  for (const RankParam& p : params)
    owned += p.owned;
  if (dp.zero < 3) return owned;
  const int64_t part = shard(owned, dp.degree);
  return std::clamp<int64_t>(owned - dp_rank * part, 0, part);
}

namespace {

// The plan's fields the pass reads.
constexpr auto kZero = MEMSIM_PLAN_FIELD(parallel.dp.zero);
constexpr auto kOffload = MEMSIM_PLAN_FIELD(parallel.dp.offload);
constexpr auto kBucket = MEMSIM_PLAN_FIELD(parallel.dp.reduce_bucket_elements);
constexpr auto kPrefetch = MEMSIM_PLAN_FIELD(parallel.dp.prefetch_layers);
constexpr auto kPersistence = MEMSIM_PLAN_FIELD(parallel.dp.persistence_threshold);
constexpr auto kOverlap = MEMSIM_PLAN_FIELD(parallel.dp.overlap_communication);

/// ZeRO-Offload moves the optimizer's partition, and parameters are partitioned, and so
/// offloadable, only by ZeRO-3: DeepSpeed's docs/_pages/config-json.md (v0.14) gives
/// `offload_optimizer` as "available only with ZeRO stage 1, 2 and 3" and `offload_param`
/// as "available only with ZeRO stage 3".
bool offload_without_zero(const Plan& plan) {
  return plan.parallel.dp.offload != Offload::kNone && plan.parallel.dp.zero == 0;
}
bool param_offload_without_zero3(const Plan& plan) {
  return plan.parallel.dp.offload == Offload::kOptimizerAndParams && plan.parallel.dp.zero != 3;
}

void hold_buffers(const RecipeSettings& settings, sim::RankProgram& program) {
  program.held = held_buffers(settings.gathered_ahead);
}

}  // namespace

StrategyPass data_parallel_pass() {
  return {
      .name = "data parallelism",
      .keys = {integer_row("parallel.zero", "ZeRO stage: 0 (plain data parallel), 1, 2 or 3", kZero,
                           0, 3),
               field_row("parallel.offload", "none | optimizer | optimizer+params (to host memory)",
                         kOffload),
               integer_row("parallel.reduce_bucket", "ZeRO gradient bucket, in elements (5e8)",
                           kBucket, 1, int64_t{1} << 40),
               integer_row("parallel.prefetch_layers",
                           "ZeRO-3 layers gathered ahead of the running one (1)", kPrefetch, 0,
                           1 << 20),
               integer_row("parallel.persistence_threshold",
                           "ZeRO-3 tensors smaller than this stay whole (1e5)", kPersistence, 0,
                           int64_t{1} << 40),
               flag_row("parallel.overlap_communication",
                        "overlap gradient reduction and gathers with compute", kOverlap)},
      .checks = {{"parallel.offload parallel.zero", "offload needs ZeRO", offload_without_zero,
                  [](const Plan&) -> std::string {
                    return "parallel.offload needs ZeRO (zero: 1, 2 or 3), which offloads the "
                           "optimizer's partition";
                  }},
                 {"parallel.offload parallel.zero", "parameter offload needs ZeRO-3",
                  param_offload_without_zero3,
                  [](const Plan&) -> std::string {
                    return "parallel.offload = optimizer+params needs zero: 3 (parameters are "
                           "partitioned only by ZeRO-3)";
                  }}},
      .shape_chunks = hold_buffers,
      .shape_stage = shard_stage,
  };
}

}  // namespace memsim::strategies
