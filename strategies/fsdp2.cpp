// FSDP2: PyTorch's fully_shard (torch/distributed/fsdp/_fully_shard, PyTorch 2.9) as
// torchtitan applies it (torchtitan b5bcd76, torchtitan/distributed/fsdp.py), one unit per
// transformer block; its keys and what they need, and what a rank keeps of its states.
//
// Each parameter is sharded on dim 0 (padded to a multiple of the ranks,
// FSDPParam._init_sharded_param) in the dtype it was created in: fp32 under mixed precision,
// so the shard is the master copy and no 16-bit shard exists; MixedPrecisionPolicy.param_dtype
// applies only to what is gathered. A block's backward makes its gradients whole in
// param_dtype; foreach_reduce copies them into a reduce-scatter input of reduce_dtype (fp32 in
// torchtitan: mixed_precision_reduce) and frees them, and the reduced shard becomes the
// parameter's .grad, in its own dtype (_fsdp_collectives.py). No bucket beyond that input.

#include <algorithm>

#include <fmt/format.h>

#include "strategies/data_parallel.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

using sim::Bytes;
using sim::Category;

void shard_like_fsdp2(const StageInputs& in, int64_t elements, StageStates& states) {
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
  const int64_t reduced = master ? precision.master_bytes() : gradient;
  // Around a block's backward: its whole gradients and the reduce-scatter input.
  for (Bytes& layer : states.gradients)
    layer = Bytes(layer.value() / gradient * (gradient + reduced));
  // Its parameters' gradient shards from then on.
  for (Bytes& twin : states.gradients_per_twin)
    twin = Bytes(sim::ceil_div(twin.value() / gradient * reduced, n));
  states.gradients_resident_in_full = false;
  states.gradients_made_in_backward = true;
  states.step_workspace = optimizer_step_workspace(
      in.optimizer, sim::ceil_div(elements, n), largest_param(in.params), precision.state_bytes());
}

namespace {

constexpr auto kSharding = MEMSIM_PLAN_FIELD(parallel.dp.sharding);
constexpr auto kReshard = MEMSIM_PLAN_FIELD(parallel.dp.reshard_after_forward);
constexpr auto kReplicate = MEMSIM_PLAN_FIELD(parallel.dp.replicate);

std::vector<SettingKey::Word> sharding_words() {
  std::vector<SettingKey::Word> words;
  for (Sharding sharding : kAllShardings)
    words.push_back({sharding_name(sharding), static_cast<int64_t>(sharding)});
  return words;
}

bool fsdp2(const Plan& plan) {
  return plan.parallel.dp.sharding == Sharding::kFsdp2;
}
/// fully_shard shards parameters, gradients and optimizer states together; keeping the
/// gathered parameters (reshard_after_forward=False) is its ZeRO-2 (torchtitan docs/fsdp.md).
bool fsdp2_partial_zero(const Plan& plan) {
  return fsdp2(plan) && (plan.parallel.dp.zero == 1 || plan.parallel.dp.zero == 2);
}
bool reshard_without_fsdp2(const Plan& plan) {
  return !plan.parallel.dp.reshard_after_forward && !sharded_by_fsdp2(plan.parallel.dp);
}
bool replicate_without_fsdp2(const Plan& plan) {
  return plan.parallel.dp.replicate > 1 && !sharded_by_fsdp2(plan.parallel.dp);
}
bool replicate_not_dividing(const Plan& plan) {
  const DataParallelism& dp = plan.parallel.dp;
  return dp.degree % dp.replicate != 0 || (dp.replicate > 1 && dp.shard_degree() == 1);
}
bool fsdp2_offload(const Plan& plan) {
  return fsdp2(plan) && plan.parallel.dp.offload != Offload::kNone;
}

}  // namespace

StrategyPass fsdp2_pass() {
  return {
      .name = "FSDP2",
      .keys = {choice_row<Sharding>("parallel.sharding",
                                    "who shards under ZeRO-3: zero (DeepSpeed's 16-bit and fp32 "
                                    "shards) | fsdp2 (PyTorch's fully_shard)",
                                    kSharding, sharding_words()),
               flag_row("parallel.reshard_after_forward",
                        "FSDP2 frees a block's gathered parameters after its forward (true)",
                        kReshard),
               integer_row("parallel.dp_replicate",
                           "HSDP: replicas of the model, each sharded over dp / dp_replicate (1)",
                           kReplicate, 1, int64_t{1} << 20)},
      .checks = {{"parallel.sharding parallel.zero", "FSDP2 shards all states or none",
                  fsdp2_partial_zero,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "parallel.zero = {} with sharding: fsdp2: fully_shard shards parameters, "
                        "gradients and optimizer states together; use zero: 3 (with "
                        "reshard_after_forward: false to keep parameters gathered, its ZeRO-2)",
                        plan.parallel.dp.zero);
                  }},
                 {"parallel.reshard_after_forward parallel.sharding parallel.zero",
                  "reshard_after_forward is FSDP2's", reshard_without_fsdp2,
                  [](const Plan&) -> std::string {
                    return "parallel.reshard_after_forward applies to FSDP2: set sharding: fsdp2 "
                           "and zero: 3";
                  }},
                 {"parallel.dp_replicate parallel.sharding parallel.zero", "HSDP needs FSDP2",
                  replicate_without_fsdp2,
                  [](const Plan&) -> std::string {
                    return "parallel.dp_replicate (HSDP) applies to FSDP2: set sharding: fsdp2 and "
                           "zero: 3";
                  }},
                 {"parallel.dp_replicate parallel.dp", "dp_replicate does not split dp",
                  replicate_not_dividing,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "parallel.dp_replicate = {} must divide dp = {} and leave more than one "
                        "rank to shard over",
                        plan.parallel.dp.replicate, plan.parallel.dp.degree);
                  }},
                 {"parallel.offload parallel.sharding", "FSDP2's offload is not modelled",
                  fsdp2_offload,
                  [](const Plan&) -> std::string {
                    return "parallel.offload with sharding: fsdp2: memsim does not model FSDP2's "
                           "CPUOffloadPolicy; use sharding: zero for DeepSpeed's offload";
                  }}},
  };
}

}  // namespace memsim::strategies
