// Data parallelism's stage hook, through the registry (strategies::stage_states): ZeRO's
// partitioning of the model states, offload to host memory, and the synchronisation after
// the last backward.

#include "strategies/data_parallel.h"

#include <doctest/doctest.h>

#include "evaluation/evaluate.h"
#include "hardware/gpu_catalog.h"
#include "sim/layer_graph.h"
#include "strategies/communication.h"
#include "strategies/strategy_pass.h"
#include "support/test_support.h"

namespace {

using memsim::sim::Bytes;
using memsim::sim::Category;
using memsim::strategies::Offload;
using memsim::strategies::StageStates;

/// One stage holding the whole of Llama 2 7B under bf16 mixed precision and AdamW.
struct WholeModelStage {
  memsim::sim::ModelSpec model = memsim::testing::preset("llama2-7b");
  memsim::sim::LayerGraph graph{model};
  std::vector<memsim::strategies::RankParam> params;
  memsim::strategies::Parallelism parallel;
  memsim::strategies::Precision precision{memsim::strategies::PrecisionRecipe::kBf16Mixed};
  memsim::strategies::OptimizerSettings optimizer;
  memsim::strategies::Cluster cluster;
  int64_t psi = graph.parameter_count();

  explicit WholeModelStage(int zero, int64_t dp = 64) {
    const auto order = graph.forward_order();
    params = memsim::strategies::rank_params(graph, {order.begin(), order.end()},
                                             memsim::sim::model_dims(model, 1, 1), {}, 0, true);
    parallel.dp.degree = dp;
    parallel.dp.zero = zero;
    parallel.dp.persistence_threshold = 0;  // every tensor partitioned
    optimizer.name = "adamw";
    cluster.gpu = memsim::hardware::gpus().front();
    cluster.gpus_per_node = 8;
    cluster.nodes = dp / 8;
  }
  StageStates states() const {
    return memsim::strategies::stage_states(
        {params, graph, parallel, precision, optimizer, cluster});
  }
};

int64_t part(int64_t bytes, int64_t n) {
  return (bytes + n - 1) / n;
}

}  // namespace

TEST_CASE("ZeRO-1, 2 and 3 partition 12, 14 and 16 of the 16 bytes per parameter") {
  // Rajbhandari et al. 2020, §5 and Figure 1: with mixed-precision Adam a rank keeps
  // 2Ψ + 2Ψ + 12Ψ/N (ZeRO-1), 2Ψ + 14Ψ/N (ZeRO-2) and 16Ψ/N (ZeRO-3), each partition
  // padded to a whole share.
  const int64_t n = 64;
  const WholeModelStage plain(0, n);
  const int64_t psi = plain.psi;
  CHECK(plain.states().gpu.total().value() == 16 * psi);
  const StageStates zero1 = WholeModelStage(1, n).states();
  CHECK(zero1.gpu[Category::kWeights].value() == 2 * psi);
  CHECK(zero1.gpu[Category::kGradients].value() == 2 * psi);
  CHECK(zero1.gpu[Category::kMasterWeights].value() == part(4 * psi, n));
  CHECK(zero1.gpu[Category::kOptimizer].value() == part(8 * psi, n));
  const StageStates zero2 = WholeModelStage(2, n).states();
  CHECK(zero2.gpu[Category::kGradients].value() == part(2 * psi, n));
  CHECK(zero2.gpu[Category::kWeights].value() == 2 * psi);
  const StageStates zero3 = WholeModelStage(3, n).states();
  CHECK(zero3.gpu[Category::kWeights].value() == 2 * part(psi, n));
  // Only ZeRO-0/1 keep every gradient whole; from ZeRO-2 a layer's gradients are made in
  // full and reduced, and ZeRO-3 gathers a layer's weights around its runs.
  CHECK(plain.states().gradients_resident_in_full);
  CHECK(zero1.gradients_resident_in_full);
  CHECK_FALSE(zero2.gradients_resident_in_full);
  Bytes gathered;
  for (const Bytes b : zero3.gathered)
    gathered += b;
  CHECK(gathered > Bytes{});
  for (const Bytes b : zero2.gathered)
    CHECK(b == Bytes{});
}

TEST_CASE("offload keeps the optimizer's partition and fp32 gradients in host memory") {
  // ZeRO-Offload (Ren et al. 2021): the fp32 master weights, Adam's moments and the fp32
  // gradients of the rank's partition live in host memory; with ZeRO-3 the parameters too.
  const int64_t n = 8;
  WholeModelStage stage(2, n);
  stage.parallel.dp.offload = Offload::kOptimizer;
  const StageStates states = stage.states();
  const int64_t psi = stage.psi;
  CHECK(states.gpu[Category::kMasterWeights] == Bytes{});
  CHECK(states.gpu[Category::kOptimizer] == Bytes{});
  CHECK(states.cpu.value() == part(4 * psi, n) + part(8 * psi, n) + 4 * part(psi, n));
  CHECK(states.offload_s > 0.0);
  WholeModelStage params_too(3, n);
  params_too.parallel.dp.offload = Offload::kOptimizerAndParams;
  CHECK(params_too.states().gpu[Category::kWeights] == Bytes{});
  CHECK(params_too.states().cpu.value() == states.cpu.value() + 2 * part(psi, n));
}

TEST_CASE("synchronisation after the last backward: all-reduce, or reduce-scatter and gather") {
  // Plain data parallelism all-reduces the gradients; ZeRO-1/2 reduce-scatter them and
  // all-gather the updated parameters; ZeRO-3 reduces layer by layer during backward.
  const int64_t n = 16;
  const WholeModelStage plain(0, n);
  const double bandwidth = memsim::strategies::group_bandwidth(plain.cluster, 1, n);
  const Bytes gradients = Bytes(2 * plain.psi);
  CHECK(plain.states().reduce_s ==
        doctest::Approx(memsim::strategies::all_reduce_s(gradients, n, bandwidth)));
  CHECK(plain.states().gather_after_s == 0.0);
  const StageStates zero1 = WholeModelStage(1, n).states();
  CHECK(zero1.reduce_s ==
        doctest::Approx(memsim::strategies::all_gather_s(gradients, n, bandwidth)));
  CHECK(zero1.gather_after_s > 0.0);
  const StageStates zero3 = WholeModelStage(3, n).states();
  CHECK(zero3.reduce_s == 0.0);
  CHECK(zero3.gather_after_s == 0.0);
  // ZeRO-3 gathers every partitioned weight in forward, and again in backward beside the
  // reduce-scatter of its gradients.
  const Bytes weights = Bytes(2 * plain.psi);
  CHECK(zero3.forward_communication_s ==
        doctest::Approx(memsim::strategies::all_gather_s(weights, n, bandwidth)));
  CHECK(zero3.backward_communication_s == 2 * zero3.forward_communication_s);
  CHECK(zero1.forward_communication_s == 0.0);
  // The reduction hides behind the last backward when communication overlaps compute.
  WholeModelStage overlapping(0, n);
  overlapping.parallel.dp.overlap_communication = true;
  const StageStates overlapped = overlapping.states();
  CHECK(overlapped.sync_s(overlapped.reduce_s) == 0.0);
  WholeModelStage exposed(0, n);
  exposed.parallel.dp.overlap_communication = false;
  CHECK(exposed.states().sync_s(1.0) == exposed.states().reduce_s);
}

TEST_CASE("the optimizer step's temporaries cover what the rank steps: its shard, or nothing") {
  // foreach AdamW: one fp32 copy of the second moment of every element the rank steps.
  // ZeRO first casts the shard's bf16 gradients to fp32 (4 bytes an element), and their
  // flat bf16 copy (2) is freed before the step's own temporaries (4) are made.
  for (int zero : {0, 1, 2, 3}) {
    CAPTURE(zero);
    WholeModelStage stage(zero);
    stage.optimizer.implementation = memsim::strategies::StepImplementation::kForeach;
    const int64_t stepped = zero == 0 ? stage.psi : part(stage.psi, 64);
    const int64_t fp32_gradients = zero >= 1 ? 4 * stepped : 0;
    CHECK(stage.states().step_workspace.value() == fp32_gradients + 4 * stepped);
    // Offloaded, the step runs in host memory.
    if (zero >= 1) {
      stage.parallel.dp.offload = Offload::kOptimizer;
      CHECK(stage.states().step_workspace.value() == 0);
    }
  }
  // single-tensor AdamW: the sqrt and quotient of the largest tensor, the embedding (or the
  // head): 32000 × 4096 elements, fewer than an 8th of 6.7 B (whose flat bf16 gradients
  // are larger still); a 64th holds less than it.
  WholeModelStage eighth(1, 8);
  eighth.optimizer.implementation = memsim::strategies::StepImplementation::kSingleTensor;
  const int64_t an_eighth = part(eighth.psi, 8);
  CHECK(2 * 4 * 32000LL * 4096 < 2 * an_eighth);
  CHECK(eighth.states().step_workspace.value() == 4 * an_eighth + 2 * an_eighth);
  WholeModelStage sixty_fourth(1, 64);
  sixty_fourth.optimizer.implementation = memsim::strategies::StepImplementation::kSingleTensor;
  const int64_t a_64th = part(sixty_fourth.psi, 64);
  CHECK(sixty_fourth.states().step_workspace.value() == 4 * a_64th + 2 * 4 * a_64th);
}

TEST_CASE("ZeRO-1/2 cast the shard's 16-bit gradients to fp32 at the step, unless kept in fp32") {
  WholeModelStage zero1(1, 8);  // fused AdamW: no temporaries of its own
  const int64_t shard = part(zero1.psi, 8);
  CHECK(zero1.states().step_workspace.value() == 4 * shard + 2 * shard);
  // Gradients in fp32 (Megatron-LM's main_grad) are stepped as they are.
  zero1.precision.gradients = memsim::strategies::Dtype::kFp32;
  CHECK(zero1.states().step_workspace.value() == 0);
  // Without an fp32 master (pure bf16) the step runs in bf16.
  WholeModelStage pure(2, 8);
  pure.precision.recipe = memsim::strategies::PrecisionRecipe::kBf16;
  CHECK(pure.states().step_workspace.value() == 0);
}

namespace {

/// Llama 2 7B sharded by FSDP2 over `dp` ranks (`replicate` replicas of them).
/// An FSDP layout; by default torchtitan's FSDP2 (fp32 reductions), resharding.
struct FsdpLayout {
  memsim::strategies::Sharding sharding = memsim::strategies::Sharding::kFsdp2;
  bool reshard = true;
  int64_t replicate = 1;
  memsim::strategies::PrecisionRecipe recipe = memsim::strategies::PrecisionRecipe::kBf16Mixed;
  memsim::strategies::ReduceDtype reduce = memsim::strategies::ReduceDtype::kFp32;
};

StageStates fsdp_states(int64_t dp, const FsdpLayout& layout = {}) {
  WholeModelStage stage(3, dp);
  stage.parallel.dp.sharding = layout.sharding;
  stage.parallel.dp.reshard_after_forward = layout.reshard;
  stage.parallel.dp.replicate = layout.replicate;
  stage.parallel.dp.reduce_dtype = layout.reduce;
  stage.precision.recipe = layout.recipe;
  return stage.states();
}

Bytes sum(const std::vector<Bytes>& bytes) {
  Bytes total;
  for (Bytes b : bytes)
    total += b;
  return total;
}

}  // namespace

TEST_CASE("FSDP2 keeps the fp32 shard alone, and makes fp32 gradient shards in backward") {
  const int64_t n = 8;
  const WholeModelStage zero3(3, n);
  const int64_t psi = zero3.psi;
  const StageStates deepspeed = zero3.states();
  const StageStates fsdp2 = fsdp_states(n);
  // Under mixed precision the fp32 shard is the parameter and the master: no 16-bit shard,
  // 4Ψ/N + 8Ψ/N for Adam, where DeepSpeed keeps 2Ψ/N + 4Ψ/N + 8Ψ/N + 2Ψ/N of gradients.
  CHECK(fsdp2.gpu[Category::kWeights].value() == 0);
  CHECK(fsdp2.gpu[Category::kMasterWeights].value() == part(4 * psi, n));
  CHECK(fsdp2.gpu[Category::kOptimizer].value() == part(8 * psi, n));
  CHECK(fsdp2.gpu[Category::kGradients].value() == 0);
  CHECK(deepspeed.gpu[Category::kWeights].value() == 2 * part(psi, n));
  // Gradient shards (fp32, each parameter's padded on its own) come with the backward.
  CHECK(fsdp2.gradients_made_in_backward);
  CHECK_FALSE(fsdp2.gradients_resident_in_full);
  const auto twins = static_cast<int64_t>(fsdp2.gradients_per_twin.size());
  CHECK(sum(fsdp2.gradients_per_twin).value() >= part(4 * psi, n));
  CHECK(sum(fsdp2.gradients_per_twin).value() <= part(4 * psi, n) + twins);
  // Around a block's backward: its bf16 gradients and the fp32 reduce-scatter input, 6
  // bytes a parameter where DeepSpeed holds the 2 of its gradients; no bucket.
  for (size_t slot = 0; slot < fsdp2.gradients.size(); ++slot) {
    CAPTURE(slot);
    CHECK(fsdp2.gradients[slot] == deepspeed.gradients[slot] * 3);
    CHECK(fsdp2.gathered[slot] == deepspeed.gathered[slot]);
  }
  CHECK(fsdp2.reduce_bucket.value() == 0);
  CHECK(deepspeed.reduce_bucket.value() > 0);
  // The optimizer steps the fp32 shard with fp32 gradients; DeepSpeed casts its bf16 ones
  // first (fp32 and the flat bf16 copy: 6 bytes an element of the shard).
  CHECK(fsdp2.step_workspace.value() == 0);
  CHECK(deepspeed.step_workspace.value() == 6 * part(psi, n));
}

TEST_CASE("FSDP2 without resharding keeps the gathered parameters; HSDP shards per replica") {
  const int64_t n = 8;
  const int64_t psi = WholeModelStage(3, n).psi;
  const StageStates kept = fsdp_states(n, {.reshard = false});
  CHECK(kept.gpu[Category::kWeights].value() == 2 * psi);
  CHECK(sum(kept.gathered).value() == 0);
  // Two replicas of 8 shards hold what one group of 8 does, and all-reduce the shards'
  // gradients after the last backward.
  const StageStates hsdp = fsdp_states(16, {.replicate = 2});
  const StageStates fsdp = fsdp_states(n);
  CHECK(hsdp.gpu == fsdp.gpu);
  CHECK(hsdp.reduce_s > 0.0);
  CHECK(fsdp.reduce_s == 0.0);
  // In one dtype (pure bf16) the shard is the weights, the gradients bf16 throughout.
  const StageStates pure = fsdp_states(n, {.recipe = memsim::strategies::PrecisionRecipe::kBf16,
                                           .reduce = memsim::strategies::ReduceDtype::kGradients});
  CHECK(pure.gpu[Category::kWeights].value() == part(2 * psi, n));
  CHECK(pure.gpu[Category::kMasterWeights].value() == 0);
  CHECK(sum(pure.gradients_per_twin).value() >= part(2 * psi, n));
  CHECK(pure.gradients[1].value() == fsdp.gradients[1].value() / 3 * 2);
}

TEST_CASE("around a block's backward FSDP2 copies the gradients to reduce them, FSDP1 to cast") {
  using memsim::strategies::ReduceDtype;
  using memsim::strategies::Sharding;
  const int64_t n = 8;
  const StageStates deepspeed = WholeModelStage(3, n).states();
  const auto held = [&](Sharding sharding, ReduceDtype reduce) {
    const StageStates states = fsdp_states(n, {.sharding = sharding, .reduce = reduce});
    // Whatever the reduction, the shards are fp32 and the same.
    CHECK(sum(states.gradients_per_twin) == sum(fsdp_states(n).gradients_per_twin));
    return states.gradients[1];
  };
  // DeepSpeed's slot holds the bf16 gradients, 2 bytes a parameter: FSDP2 adds its
  // reduce-scatter input in the reduce dtype; FSDP1 reduces the flat gradient in place
  // unless it casts it.
  const Bytes bf16 = deepspeed.gradients[1];
  CHECK(held(Sharding::kFsdp2, ReduceDtype::kFp32) == bf16 * 3);
  CHECK(held(Sharding::kFsdp2, ReduceDtype::kGradients) == bf16 * 2);
  CHECK(held(Sharding::kFsdp2, ReduceDtype::kBf16) == bf16 * 2);
  CHECK(held(Sharding::kFsdp1, ReduceDtype::kFp32) == bf16 * 3);
  CHECK(held(Sharding::kFsdp1, ReduceDtype::kGradients) == bf16);
  // Both versions keep the fp32 shard alone, and gather the same per block.
  const StageStates fsdp1 = fsdp_states(n, {.sharding = Sharding::kFsdp1});
  CHECK(fsdp1.gpu == fsdp_states(n).gpu);
  CHECK(fsdp1.gathered == fsdp_states(n).gathered);
}

TEST_CASE("HSDP's shard of the parameters repeats in every replica") {
  WholeModelStage stage(3, 16);
  stage.parallel.dp.sharding = memsim::strategies::Sharding::kFsdp2;
  stage.parallel.dp.replicate = 2;
  const int64_t psi = stage.psi;
  const auto owned = [&](int64_t rank) {
    return memsim::strategies::owned_parameters(stage.params, stage.parallel.dp, rank);
  };
  CHECK(owned(0) == part(psi, 8));
  CHECK(owned(8) == owned(0));
  CHECK(owned(7) == psi - 7 * part(psi, 8));
  CHECK(owned(15) == owned(7));
}

TEST_CASE("DDP's buckets copy every gradient unless gradients are views of them") {
  WholeModelStage ddp(0, 8);
  const int64_t psi = ddp.psi;
  CHECK(ddp.states().bucket_copies.value() == 0);
  ddp.parallel.dp.gradient_as_bucket_view = false;
  const StageStates copies = ddp.states();
  CHECK(copies.bucket_copies.value() == 2 * psi);
  CHECK(copies.gpu[Category::kGradients].value() == 4 * psi);
  // One GPU has no DDP; ZeRO reduces its own way.
  WholeModelStage alone(0, 1);
  alone.parallel.dp.gradient_as_bucket_view = false;
  CHECK(alone.states().bucket_copies.value() == 0);
  WholeModelStage zero1(1, 8);
  zero1.parallel.dp.gradient_as_bucket_view = false;
  CHECK(zero1.states().bucket_copies.value() == 0);
}

TEST_CASE("DDP's bucket copies stay while gradients made on demand come and go") {
  // Every moment of a one-stage step holds the buckets, so the peak moves by exactly them.
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("llama2-7b"), 512, 1);
  plan.model.layers = 2;
  plan.parallel.dp.degree = 2;
  plan.cluster.gpus_per_node = 2;
  plan.training.global_batch = 4;
  plan.training.gradient_buffers = memsim::strategies::GradientBuffers::kOnDemand;
  const auto views = memsim::evaluation::evaluate(plan);
  plan.parallel.dp.gradient_as_bucket_view = false;
  const auto copies = memsim::evaluation::evaluate(plan);
  const int64_t gradients = 2 * views.parameters;
  CHECK(copies.peak.value() - views.peak.value() == gradients);
}

TEST_CASE("DeepSpeed's overlap_comm holds two reduce buckets under ZeRO-1 and 2") {
  WholeModelStage zero2(2, 8);
  zero2.parallel.dp.reduce_bucket_elements = 1000;
  const Bytes one = zero2.states().reduce_bucket;
  CHECK(one.value() == 2 * 1000);
  zero2.parallel.dp.reduce_buckets = 2;
  CHECK(zero2.states().reduce_bucket == one * 2);
  // Never more than the rank's gradients, per bucket.
  zero2.parallel.dp.reduce_bucket_elements = int64_t{1} << 40;
  CHECK(zero2.states().reduce_bucket.value() == 2 * 2 * zero2.psi);
}

TEST_CASE("ZeRO-3 steps its shard a sub-group at a time, each with its fp32 gradients") {
  WholeModelStage zero3(3, 8);  // fused AdamW
  const int64_t shard = part(zero3.psi, 8);
  CHECK(shard < 1'000'000'000);  // DeepSpeed's sub_group_size holds the whole shard
  CHECK(zero3.states().step_workspace.value() == 4 * shard + 2 * shard);
  zero3.parallel.dp.sub_group_elements = 100'000'000;
  CHECK(zero3.states().step_workspace.value() == (4 + 2) * 100'000'000LL);
  // FSDP2 steps its fp32 shard with the fp32 gradients the reduction made: nothing to cast.
  zero3.parallel.dp.sharding = memsim::strategies::Sharding::kFsdp2;
  CHECK(zero3.states().step_workspace.value() == 0);
}
