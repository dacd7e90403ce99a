// PyTorch's FSDP as frameworks apply it, one unit per transformer block: FSDP2's fully_shard
// (torch/distributed/fsdp/_fully_shard, PyTorch 2.9) as torchtitan does (torchtitan b5bcd76,
// torchtitan/distributed/fsdp.py), and FSDP1's FullyShardedDataParallel as accelerate does
// for the Hugging Face Trainer (accelerate 16cb6eb, utils/dataclasses.py,
// FullyShardedDataParallelPlugin: fsdp_version 1 unless FSDP_VERSION says 2); their keys and
// what they need, and what a rank keeps of its states.
//
// Each parameter (FSDP1: each unit's flat parameter) is sharded in the dtype it was created
// in: fp32 under mixed precision, so the shard is the master copy and no 16-bit shard exists;
// the mixed-precision policy's param_dtype applies only to what is gathered. A block's
// backward makes its gradients whole in param_dtype. FSDP2's foreach_reduce copies them into
// a reduce-scatter input of reduce_dtype and frees them (_fsdp_collectives.py); FSDP1's
// post-backward hook reduce-scatters the flat gradient where it is, after a copy only when
// reduce_dtype differs (torch/distributed/fsdp/_runtime_utils.py, _post_backward_hook:
// flat_param.grad.to(handle._reduce_dtype)). Either way the reduced shard becomes the
// parameter's gradient in its own dtype. No bucket beyond that input. reduce_dtype defaults
// to param_dtype (MixedPrecisionPolicy, MixedPrecision); torchtitan reduces in fp32
// (mixed_precision_reduce), accelerate in param_dtype (set_mixed_precision).

#include <algorithm>

#include <fmt/format.h>

#include "strategies/data_parallel.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

using sim::Bytes;
using sim::Category;

namespace {

int64_t reduce_bytes(ReduceDtype dtype, int64_t gradient_bytes) {
  switch (dtype) {
    case ReduceDtype::kGradients:
      return gradient_bytes;
    case ReduceDtype::kFp32:
      return 4;
    case ReduceDtype::kBf16:
    case ReduceDtype::kFp16:
      return 2;
  }
  return gradient_bytes;
}

}  // namespace

void shard_like_fsdp(const StageInputs& in, int64_t elements, StageStates& states) {
  const DataParallelism& dp = in.parallel.dp;
  const Precision& precision = in.precision;
  const int64_t n = dp.shard_degree();
  const sim::CategoryBytes full = states.gpu;
  const bool master = precision.master_bytes() > 0;
  const Category sharded = master ? Category::kMasterWeights : Category::kWeights;
  states.gpu = {};
  states.gpu[sharded] = Bytes(sim::ceil_div(full[sharded].value(), n));
  states.gpu[Category::kOptimizer] = Bytes(sim::ceil_div(full[Category::kOptimizer].value(), n));
  if (!dp.reshard_after_forward) {
    // The gathered parameters stay from the first forward to the last backward.
    states.gpu[Category::kWeights] += full[Category::kWeights];
    std::fill(states.gathered.begin(), states.gathered.end(), Bytes{});
  }
  const int64_t gradient = precision.gradient_bytes();
  const int64_t reduced = reduce_bytes(dp.reduce_dtype, gradient);
  const bool copies = dp.sharding == Sharding::kFsdp2 || reduced != gradient;
  // Around a block's backward: its whole gradients and the reduce-scatter input.
  for (Bytes& layer : states.gradients)
    layer = Bytes(layer.value() / gradient * (gradient + (copies ? reduced : 0)));
  // Its parameters' gradient shards from then on, in the parameters' own dtype.
  const int64_t sharded_grad = master ? precision.master_bytes() : gradient;
  for (Bytes& twin : states.gradients_per_twin)
    twin = Bytes(sim::ceil_div(twin.value() / gradient * sharded_grad, n));
  states.gradients_resident_in_full = false;
  states.gradients_made_in_backward = true;
  states.step_workspace = optimizer_step_workspace(
      in.optimizer, sim::ceil_div(elements, n), largest_param(in.params), precision.state_bytes());
}

namespace {

constexpr auto kSharding = MEMSIM_PLAN_FIELD(parallel.dp.sharding);
constexpr auto kReshard = MEMSIM_PLAN_FIELD(parallel.dp.reshard_after_forward);
constexpr auto kReplicate = MEMSIM_PLAN_FIELD(parallel.dp.replicate);
constexpr auto kReduceDtype = MEMSIM_PLAN_FIELD(parallel.dp.reduce_dtype);

std::vector<SettingKey::Word> sharding_words() {
  std::vector<SettingKey::Word> words;
  for (Sharding sharding : kAllShardings)
    words.push_back({sharding_name(sharding), static_cast<int64_t>(sharding)});
  return words;
}

bool fsdp(const Plan& plan) {
  return plan.parallel.dp.sharding != Sharding::kZero;
}
/// FSDP shards parameters, gradients and optimizer states together; keeping the gathered
/// parameters (reshard_after_forward=False, FSDP1's SHARD_GRAD_OP) is its ZeRO-2
/// (torchtitan docs/fsdp.md).
bool fsdp_partial_zero(const Plan& plan) {
  return fsdp(plan) && (plan.parallel.dp.zero == 1 || plan.parallel.dp.zero == 2);
}
bool reshard_without_fsdp(const Plan& plan) {
  return !plan.parallel.dp.reshard_after_forward && !sharded_by_fsdp(plan.parallel.dp);
}
bool replicate_without_fsdp(const Plan& plan) {
  return plan.parallel.dp.replicate > 1 && !sharded_by_fsdp(plan.parallel.dp);
}
bool reduce_dtype_without_fsdp(const Plan& plan) {
  return plan.parallel.dp.reduce_dtype != ReduceDtype::kGradients &&
         !sharded_by_fsdp(plan.parallel.dp);
}
bool replicate_not_dividing(const Plan& plan) {
  const DataParallelism& dp = plan.parallel.dp;
  return dp.degree % dp.replicate != 0 || (dp.replicate > 1 && dp.shard_degree() == 1);
}
bool fsdp_offload(const Plan& plan) {
  return fsdp(plan) && plan.parallel.dp.offload != Offload::kNone;
}

}  // namespace

StrategyPass fsdp_pass() {
  return {
      .name = "FSDP",
      .keys = {choice_row<Sharding>("parallel.sharding",
                                    "who shards under ZeRO-3: zero (DeepSpeed's 16-bit and fp32 "
                                    "shards) | fsdp2 (PyTorch's fully_shard) | fsdp1 (PyTorch's "
                                    "FullyShardedDataParallel)",
                                    kSharding, sharding_words()),
               flag_row("parallel.reshard_after_forward",
                        "FSDP frees a block's gathered parameters after its forward (true)",
                        kReshard),
               integer_row("parallel.dp_replicate",
                           "HSDP: replicas of the model, each sharded over dp / dp_replicate (1)",
                           kReplicate, 1, int64_t{1} << 20),
               choice_row<ReduceDtype>(
                   "parallel.reduce_dtype",
                   "FSDP reduce-scatters gradients in: gradients (their own "
                   "dtype, the default) | fp32 | bf16 | fp16",
                   kReduceDtype,
                   {{"gradients", static_cast<int64_t>(ReduceDtype::kGradients)},
                    {"fp32", static_cast<int64_t>(ReduceDtype::kFp32)},
                    {"bf16", static_cast<int64_t>(ReduceDtype::kBf16)},
                    {"fp16", static_cast<int64_t>(ReduceDtype::kFp16)}})},
      .checks = {{"parallel.sharding parallel.zero", "FSDP shards all states or none",
                  fsdp_partial_zero,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "parallel.zero = {} with sharding: {}: FSDP shards parameters, "
                        "gradients and optimizer states together; use zero: 3 (with "
                        "reshard_after_forward: false to keep parameters gathered, its ZeRO-2)",
                        plan.parallel.dp.zero, sharding_name(plan.parallel.dp.sharding));
                  }},
                 {"parallel.reshard_after_forward parallel.sharding parallel.zero",
                  "reshard_after_forward is FSDP's", reshard_without_fsdp,
                  [](const Plan&) -> std::string {
                    return "parallel.reshard_after_forward applies to FSDP: set "
                           "sharding: fsdp2 or fsdp1, and zero: 3";
                  }},
                 {"parallel.dp_replicate parallel.sharding parallel.zero", "HSDP needs FSDP",
                  replicate_without_fsdp,
                  [](const Plan&) -> std::string {
                    return "parallel.dp_replicate (HSDP) applies to FSDP: set sharding: "
                           "fsdp2 or fsdp1, and zero: 3";
                  }},
                 {"parallel.reduce_dtype parallel.sharding parallel.zero", "reduce_dtype is FSDP's",
                  reduce_dtype_without_fsdp,
                  [](const Plan&) -> std::string {
                    return "parallel.reduce_dtype is FSDP's mixed-precision "
                           "reduce_dtype: set sharding: fsdp2 or fsdp1, and zero: 3";
                  }},
                 {"parallel.dp_replicate parallel.dp", "dp_replicate does not split dp",
                  replicate_not_dividing,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "parallel.dp_replicate = {} must divide dp = {} and leave more than one "
                        "rank to shard over",
                        plan.parallel.dp.replicate, plan.parallel.dp.degree);
                  }},
                 {"parallel.offload parallel.sharding", "FSDP's offload is not modelled",
                  fsdp_offload,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "parallel.offload with sharding: {}: memsim does not model FSDP's CPU "
                        "offload; use sharding: zero for DeepSpeed's offload",
                        sharding_name(plan.parallel.dp.sharding));
                  }}},
  };
}

}  // namespace memsim::strategies
