#include "strategies/layout.h"

#include "sim/check.h"
#include "sim/limits.h"
#include "sim/units.h"
#include "strategies/data_parallel.h"
#include "strategies/schedules.h"
#include "strategies/serving.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

using R = LayoutReason;

void check_pipeline(const Plan& plan, bool interleaved, LayoutProblems& problems) {
  const PipelineParallelism& pp = plan.parallel.pp;
  if (pp.virtual_stages > 1 && !interleaved) problems.set(static_cast<size_t>(R::kVirtualStages));
  if (pp.stages == 1 && interleaved) problems.set(static_cast<size_t>(R::kInterleavedOneStage));
  if (!pp.layers_per_stage.empty()) {
    int64_t sum = 0;
    for (int64_t n : pp.layers_per_stage)
      sum += n;
    if (static_cast<int64_t>(pp.layers_per_stage.size()) != pp.chunks() ||
        sum != plan.model.layers) {
      problems.set(static_cast<size_t>(R::kLayersPerStage));
      return;
    }
  }
  // Balanced, every chunk gets at least items / chunks layers (the embedding and the loss
  // counting as one each when asked): with two or more each, none can be empty.
  if (pp.layers_per_stage.empty() && plan.model.layers >= 2 * pp.chunks() + 2) return;
  const std::vector<int64_t> layers = chunk_layers(plan.model.layers, pp);
  for (size_t g = 0; g < layers.size(); ++g) {
    const bool ends = g == 0 || g + 1 == layers.size();
    if (layers[g] < 0 || (layers[g] == 0 && !ends)) {
      problems.set(static_cast<size_t>(R::kEmptyChunk));
      return;
    }
  }
}

/// A training step's layer passes: each layer once per microbatch.
int64_t training_layer_passes(const Plan& plan, int64_t microbatches) {
  return sim::checked_mul(plan.model.layers, microbatches);
}

/// The walk's work within sim/limits.h. `microbatches`: the plan's (microbatches(), a
/// division a sweep makes once per point).
void check_work(const Plan& plan, int64_t microbatches, LayoutProblems& problems) {
  const PipelineParallelism& pp = plan.parallel.pp;
  if (pp.stages * plan.model.layers > sim::kMostStageLayers) {
    problems.set(static_cast<size_t>(R::kTooManyStageLayers));
  }
  if (microbatches > sim::kMostMicrobatches) {
    problems.set(static_cast<size_t>(R::kTooManyMicrobatches));
  } else if (training_layer_passes(plan, microbatches) > sim::kMostLayerPasses) {
    problems.set(static_cast<size_t>(R::kTooManyLayerPasses));
  } else if (microbatches * pp.chunks() > sim::kMostPipelineSteps) {
    problems.set(static_cast<size_t>(R::kTooManyPipelineSteps));
  }
}

}  // namespace

size_t layout_reason_count() {
  static const size_t count = [] {
    const size_t all = kCoreLayoutReasons + pass_checks().size();
    MEMSIM_CHECK(all <= LayoutProblems().size());
    return all;
  }();
  return count;
}

int64_t sequence_tokens(const Plan& plan) {
  if (plan.mode == Mode::kInference) return plan.inference.context();
  return plan.training.seq_len;
}

LayoutProblems resolve_parallel_layout(Plan& plan) {
  LayoutProblems problems;
  auto flag = [&](R reason) { problems.set(static_cast<size_t>(reason)); };
  const int64_t world = plan.cluster.world_size();
  const int64_t tp = plan.parallel.tp.degree;
  const int64_t stages = plan.parallel.pp.stages;
  const sim::ModelSpec& model = plan.model;
  DataParallelism& data = plan.parallel.dp;
  if (data.degree == 0) {
    if (world % (tp * stages) != 0) {
      flag(R::kGpusNotDivisible);
      return problems;
    }
    data.degree = world / (tp * stages);
  }
  const int64_t dp = data.degree;
  if (tp * stages * dp != world) flag(R::kGpusMismatch);
  check_pipeline(plan, find_schedule(plan.parallel.pp.schedule)->interleaved, problems);
  // With offload, ZeRO on one GPU is how the states leave it (ZeRO-Offload's use case);
  // FSDP on one rank still changes what it keeps (the fp32 shard alone, 16-bit copies of
  // a block only while it runs).
  if (data.zero > 0 && dp == 1 && data.offload == Offload::kNone && !sharded_by_fsdp(data))
    flag(R::kZeroWithoutDp);
  // Sliding-window attention is not simulated: sequences that would use it are refused.
  if (model.attention_window > 0 && sequence_tokens(plan) > model.attention_window) {
    flag(R::kAttentionWindow);
  }
  const std::vector<PassCheck>& checks = pass_checks();
  for (size_t c = 0; c < checks.size(); ++c) {
    if (checks[c].fails(plan)) problems.set(kCoreLayoutReasons + c);
  }
  // Serving has no steps and no global batch.
  if (plan.mode == Mode::kInference && prefill_passes(plan.inference) > kMostPrefillPasses) {
    flag(R::kPrefillPasses);
  }
  return problems;
}

LayoutProblems resolve_batch(Plan& plan, LayoutProblems parallel) {
  LayoutProblems problems = parallel;
  // Without dp there is no batch to check.
  if (plan.mode == Mode::kInference || problems.test(static_cast<size_t>(R::kGpusNotDivisible)))
    return problems;
  const int64_t per_step = plan.training.micro_batch * plan.parallel.dp.degree;
  if (plan.training.global_batch == 0) plan.training.global_batch = per_step;
  if (plan.training.global_batch % per_step != 0) {
    problems.set(static_cast<size_t>(R::kGlobalBatch));
    return problems;
  }
  const int64_t microbatches = plan.training.global_batch / per_step;
  if (microbatches % plan.parallel.pp.stages != 0 &&
      find_schedule(plan.parallel.pp.schedule)->whole_rounds) {
    problems.set(static_cast<size_t>(R::kInterleavedMicrobatches));
  }
  check_work(plan, microbatches, problems);
  return problems;
}

LayoutProblems resolve_layout(Plan& plan) {
  return resolve_batch(plan, resolve_parallel_layout(plan));
}

int64_t layer_passes(const Plan& plan) {
  if (plan.mode == Mode::kInference) return 0;
  return training_layer_passes(plan, plan.microbatches());
}

LayoutProblems layout_errors(LayoutProblems problems) {
  problems.reset(static_cast<size_t>(R::kZeroWithoutDp));
  return problems;
}

}  // namespace memsim::strategies
