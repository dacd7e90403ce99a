#include "strategies/data_parallel.h"

#include <algorithm>

#include <fmt/format.h>

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

std::vector<sim::HeldBuffer> held_buffers(int prefetch, bool by_module) {
  using sim::HeldSpan;
  const sim::HeldBuffer gathered =
      by_module ? sim::HeldBuffer{HeldSpan::kModuleTrace, Category::kWeights, 0, 0}
                : sim::HeldBuffer{HeldSpan::kLayerRuns, Category::kWeights, kGatheredParameters,
                                  prefetch};
  return {{HeldSpan::kBackwardPass, Category::kTemporary, kGradientBucket, 0},
          gathered,
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
/// kind, not times `count`) the full gradients and ZeRO-3's gathered weights (per twin slot
/// when gathered module by module).
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
    if (stays_whole(p, dp)) {
      if (!p.tied) part.persistent += p.elements() * p.count;
      continue;
    }
    if (gathers_modules(dp)) {
      states.gathered_per_twin[in.graph.twin_slot(p.op)] += weight;
    } else {
      states.gathered[in.graph.layer_slot(p.layer)] += weight;
    }
    part.gathered += weight * p.count;
  }
  return part;
}

/// ZeRO steps the fp32 master shard with fp32 gradients: 16-bit gradients of the shard are
/// flattened and cast to fp32 at the step, the cast's input freed before the optimizer runs
/// (DeepSpeed's stage_1_and_2.py, step: single_grad_partition = flatten(...).to(fp32);
/// Megatron-LM's DistributedOptimizer._copy_model_grads_to_main_grads, .float()); ZeRO-3
/// does so a sub-group at a time and frees each after its step (stage3.py,
/// _prepare_fp32_grad_for_sub_group). Gradients kept in fp32, or no master, need no copy.
Bytes with_fp32_gradients(const StageInputs& in, int64_t shard_elements,
                          const StageStates& states) {
  const Precision& precision = in.precision;
  const int64_t master = precision.master_bytes();
  if (master == 0 || precision.gradient_bytes() == master) return states.step_workspace;
  const Bytes fp32 = sim::bytes_of({shard_elements}, master);
  const Bytes flat = sim::bytes_of({shard_elements}, precision.gradient_bytes());
  return fp32 + std::max(flat, states.step_workspace);
}

/// Shards the whole states in `states`: ZeRO-1 the optimizer states and master weights,
/// ZeRO-2 the gradients, ZeRO-3 the weights (small tensors kept whole); offload moves the
/// optimizer's partition (and ZeRO-3's parameters) to host memory.
void shard_states(const StageInputs& in, const Partition& part, StageStates& states) {
  const DataParallelism& dp = in.parallel.dp;
  const Precision& precision = in.precision;
  const int64_t n = dp.shard_degree();
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
    const int64_t stepped =
        dp.zero == 3 ? std::min(shard(elements, n), dp.sub_group_elements) : shard(elements, n);
    states.step_workspace = optimizer_step_workspace(
        in.optimizer, stepped, largest_param(in.params), precision.state_bytes());
    states.step_workspace = with_fp32_gradients(in, stepped, states);
  }
  // DDP's Reducer allocates its buckets when it is built (torch/csrc/distributed/c10d/
  // reducer.cpp, initialize_buckets); unless gradients are views of them, they copy every
  // gradient: PyTorch's DistributedDataParallel docs (2.x), gradient_as_bucket_view.
  if (dp.zero == 0 && n > 1 && !dp.gradient_as_bucket_view) {
    states.bucket_copies = full[Category::kGradients];
    states.gpu[Category::kGradients] += states.bucket_copies;
  }
  states.gradients_resident_in_full = dp.zero < 2 && !offload;
  if (states.gradients_resident_in_full)
    std::fill(states.gradients.begin(), states.gradients.end(), Bytes{});
  if (dp.zero >= 1 || offload) {
    const int64_t buckets = dp.zero < 3 ? dp.reduce_buckets : 1;
    states.reduce_bucket =
        sim::bytes_of({std::min(dp.reduce_bucket_elements, elements)}, precision.gradient_bytes()) *
        buckets;
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
  const int64_t tp = in.parallel.tp.degree;
  const double bandwidth = group_bandwidth(in.cluster, tp, dp.shard_degree());
  const Bytes gradient_bytes = sim::bytes_of({held}, in.precision.gradient_bytes());
  const Bytes weight_bytes = sim::bytes_of({held}, in.precision.weight_bytes());
  states.overlaps_compute = dp.overlap_communication;
  if (dp.zero == 0) {
    states.reduce_s = all_reduce_s(gradient_bytes, dp.degree, bandwidth);
  } else if (dp.zero < 3) {
    states.reduce_s = all_gather_s(gradient_bytes, dp.degree, bandwidth);
    states.gather_after_s = all_gather_s(weight_bytes, dp.degree, bandwidth);
  } else {
    const int64_t shards = dp.shard_degree();
    states.forward_communication_s = all_gather_s(gathered, shards, bandwidth);
    // Backward gathers again unless the gathered parameters were kept, and reduce-scatters.
    const bool gathers_again = dp.sharding == Sharding::kZero || dp.reshard_after_forward;
    states.backward_communication_s = (gathers_again ? 2 : 1) * states.forward_communication_s;
    // HSDP: the replicas all-reduce their gradient shards after the last backward.
    if (dp.replicate > 1) {
      states.reduce_s =
          all_reduce_s(Bytes(sim::ceil_div(gradient_bytes.value(), shards)), dp.replicate,
                       group_bandwidth(in.cluster, tp * shards, dp.replicate));
    }
  }
  if (dp.offload != Offload::kNone) {
    const double part = static_cast<double>(sim::ceil_div(gradient_bytes.value(), dp.degree));
    states.offload_s = 2.0 * part / in.cluster.gpu->host_link_bytes_per_s;
  }
}

void shard_stage(const StageInputs& in, StageStates& states) {
  const Partition part = partition(in, states);
  if (sharded_by_fsdp(in.parallel.dp)) {
    shard_like_fsdp(in, part.elements, states);
  } else {
    shard_states(in, part, states);
  }
  synchronise(in, part, states);
}

}  // namespace

int64_t owned_parameters(const std::vector<RankParam>& params, const DataParallelism& dp,
                         int64_t dp_rank) {
  int64_t owned = 0;
  for (const RankParam& p : params)
    owned += p.owned;
  if (dp.zero < 3) return owned;
  // HSDP's mesh is (replicate, shard): ranks dp_rank and dp_rank + shards hold one shard.
  const int64_t shards = dp.shard_degree();
  const int64_t part = shard(owned, shards);
  return std::clamp<int64_t>(owned - (dp_rank % shards) * part, 0, part);
}

namespace {

// The plan's fields the pass reads.
constexpr auto kZero = MEMSIM_PLAN_FIELD(parallel.dp.zero);
constexpr auto kOffload = MEMSIM_PLAN_FIELD(parallel.dp.offload);
constexpr auto kBucket = MEMSIM_PLAN_FIELD(parallel.dp.reduce_bucket_elements);
constexpr auto kPrefetch = MEMSIM_PLAN_FIELD(parallel.dp.prefetch_layers);
constexpr auto kPersistence = MEMSIM_PLAN_FIELD(parallel.dp.persistence_threshold);
constexpr auto kSubGroup = MEMSIM_PLAN_FIELD(parallel.dp.sub_group_elements);
constexpr auto kOverlap = MEMSIM_PLAN_FIELD(parallel.dp.overlap_communication);
constexpr auto kBucketView = MEMSIM_PLAN_FIELD(parallel.dp.gradient_as_bucket_view);
constexpr auto kBuckets = MEMSIM_PLAN_FIELD(parallel.dp.reduce_buckets);

/// DeepSpeed's second reduce bucket is stage_1_and_2.py's; ZeRO-3 reduces its own way.
bool second_bucket_without_zero12(const Plan& plan) {
  const DataParallelism& dp = plan.parallel.dp;
  return dp.reduce_buckets > 1 && (dp.zero == 0 || dp.zero == 3);
}

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
  program.held = held_buffers(settings.gathered_ahead, settings.gathering.gathers());
  program.gathering = settings.gathering;
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
               integer_row("parallel.reduce_buckets",
                           "ZeRO-1/2 buckets held through each backward: 2 with DeepSpeed's "
                           "overlap_comm (1)",
                           kBuckets, 1, 2),
               integer_row("parallel.prefetch_layers",
                           "ZeRO-3 layers gathered ahead of the running one (1)", kPrefetch, 0,
                           1 << 20),
               integer_row("parallel.persistence_threshold",
                           "ZeRO-3 tensors smaller than this stay whole (1e5)", kPersistence, 0,
                           int64_t{1} << 40),
               integer_row("parallel.sub_group_size",
                           "ZeRO-3 elements the optimizer steps at a time (1e9)", kSubGroup, 1,
                           int64_t{1} << 40),
               flag_row("parallel.overlap_communication",
                        "overlap gradient reduction and gathers with compute", kOverlap),
               flag_row("parallel.gradient_as_bucket_view",
                        "plain data parallelism: gradients are views of the all-reduce buckets "
                        "(true), or DDP's default buckets that copy them",
                        kBucketView)},
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
                  }},
                 {"parallel.reduce_buckets parallel.zero", "two reduce buckets need ZeRO-1/2",
                  second_bucket_without_zero12,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "parallel.reduce_buckets = 2 is DeepSpeed's ZeRO-1/2 with overlap_comm; "
                        "zero = {} holds no such buckets",
                        plan.parallel.dp.zero);
                  }}},
      .shape_chunks = hold_buffers,
      .shape_stage = shard_stage,
  };
}

}  // namespace memsim::strategies
