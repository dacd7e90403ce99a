#include "scenarios/layout_problems.h"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "scenarios/name_lookup.h"
#include "sim/limits.h"
#include "strategies/schedules.h"
#include "strategies/serving.h"
#include "strategies/strategy_pass.h"

namespace memsim::scenarios {

namespace {

using R = strategies::LayoutReason;
using strategies::Plan;

struct ReasonInfo {
  const char* keys;  ///< the dotted keys whose values decide it, the one at fault first
  const char* summary;
};

constexpr ReasonInfo kReasons[strategies::kCoreLayoutReasons] = {
    {"parallel.tp parallel.pp hardware.nodes hardware.gpus_per_node",
     "tp × pp does not divide the GPUs"},
    {"parallel.dp parallel.tp parallel.pp hardware.nodes hardware.gpus_per_node",
     "tp × pp × dp is not the number of GPUs"},
    {"parallel.virtual_stages parallel.schedule", "virtual stages need the interleaved schedule"},
    {"parallel.schedule parallel.pp", "interleaved needs pp ≥ 2"},
    {"parallel.layers_per_stage parallel.pp parallel.virtual_stages model.layers",
     "layers_per_stage does not match pp and the layers"},
    {"parallel.pp parallel.virtual_stages model.layers", "a pipeline chunk has no layers"},
    {"training.global_batch training.micro_batch parallel.dp hardware.nodes "
     "hardware.gpus_per_node",
     "global batch not divisible by micro_batch × dp"},
    {"parallel.schedule training.global_batch training.micro_batch parallel.pp parallel.dp",
     "interleaved needs microbatches a multiple of pp"},
    {"parallel.zero parallel.dp", "ZeRO with one data-parallel rank"},
    {"inference.prefill_chunk inference.prompt_len", "the prompt prefilled in too many chunks"},
    {"training.global_batch training.micro_batch parallel.dp",
     "more microbatches per step than memsim walks"},
    {"training.global_batch training.micro_batch parallel.dp model.layers",
     "more layers × microbatches than memsim walks"},
    {"training.global_batch parallel.pp parallel.virtual_stages training.micro_batch parallel.dp",
     "more microbatches × pipeline chunks than memsim times"},
    {"parallel.pp model.layers", "more pp × layers than memsim compiles"},
    {"training.seq_len inference.prompt_len inference.generate_len model",
     "sequences longer than the sliding attention window"},
};

/// The core's reasons from the table above, each strategy pass's check from its pass.
ReasonInfo reason_info(R reason) {
  const auto r = static_cast<size_t>(reason);
  if (r < strategies::kCoreLayoutReasons) return kReasons[r];
  const strategies::PassCheck& check =
      strategies::pass_checks().at(r - strategies::kCoreLayoutReasons);
  return {check.keys, check.summary};
}

}  // namespace

std::vector<std::string> layout_keys(strategies::LayoutReason reason) {
  std::vector<std::string> keys;
  std::string_view text = reason_info(reason).keys;
  while (!text.empty()) {
    const size_t space = std::min(text.find(' '), text.size());
    keys.emplace_back(text.substr(0, space));
    text.remove_prefix(std::min(space + 1, text.size()));
  }
  return keys;
}

const char* layout_summary(strategies::LayoutReason reason) {
  return reason_info(reason).summary;
}

namespace {

/// The message for a problem of the parallel layout against the model and cluster, or ""
/// for another kind of problem.
std::string layout_shape_message(R reason, const Plan& plan) {
  const int64_t tp = plan.parallel.tp.degree;
  const int64_t pp = plan.parallel.pp.stages;
  const int64_t dp = plan.parallel.dp.degree;
  const sim::ModelSpec& model = plan.model;
  switch (reason) {
    case R::kGpusNotDivisible:
      return fmt::format("parallel.tp × pp = {} × {} does not divide the {} GPUs", tp, pp,
                         plan.cluster.world_size());
    case R::kGpusMismatch:
      return fmt::format(
          "parallel.tp × pp × dp = {} × {} × {} = {} but the cluster has {} GPUs "
          "(hardware.nodes × gpus_per_node)",
          tp, pp, dp, tp * pp * dp, plan.cluster.world_size());
    case R::kVirtualStages: {
      std::vector<std::string> interleaved;
      for (const strategies::ScheduleInfo& info : strategies::schedules()) {
        if (info.interleaved) interleaved.emplace_back(info.name);
      }
      return fmt::format(
          "parallel.virtual_stages = {} needs a schedule of several chunks per stage: {}",
          plan.parallel.pp.virtual_stages, join_alternatives(interleaved));
    }
    case R::kInterleavedOneStage:
      return fmt::format(
          "the {} schedule needs pp ≥ 2: with one stage there is nothing to interleave",
          plan.parallel.pp.schedule);
    case R::kLayersPerStage: {
      int64_t sum = 0;
      for (int64_t n : plan.parallel.pp.layers_per_stage)
        sum += n;
      return fmt::format(
          "parallel.layers_per_stage has {} entries adding up to {}; expected {} "
          "(pp × virtual_stages) adding up to the model's {} layers",
          plan.parallel.pp.layers_per_stage.size(), sum, plan.parallel.pp.chunks(), model.layers);
    }
    case R::kEmptyChunk:
      return fmt::format(
          "parallel.pp = {} × virtual_stages = {} makes {} pipeline chunks for {} layers: a "
          "chunk would have no layers",
          pp, plan.parallel.pp.virtual_stages, plan.parallel.pp.chunks(), model.layers);
    default:
      return "";
  }
}

/// The message for a problem of the batch, the work it makes or a setting's range.
std::string batch_message(R reason, const Plan& plan) {
  const int64_t pp = plan.parallel.pp.stages;
  const int64_t dp = plan.parallel.dp.degree;
  switch (reason) {
    case R::kGlobalBatch:
      return fmt::format(
          "training.global_batch = {} is not divisible by micro_batch × dp = {} × "
          "{}",
          plan.training.global_batch, plan.training.micro_batch, dp);
    case R::kInterleavedMicrobatches:
      return fmt::format(
          "the {} schedule needs the {} microbatches per step "
          "(global_batch / (micro_batch × dp)) to be a multiple of pp = {}",
          plan.parallel.pp.schedule, plan.microbatches(), pp);
    case R::kPrefillPasses:
      return fmt::format(
          "inference.prefill_chunk = {} splits the {}-token prompt into {} passes; at most {}",
          plan.inference.prefill_chunk, plan.inference.prompt_len,
          strategies::prefill_passes(plan.inference), strategies::kMostPrefillPasses);
    case R::kTooManyMicrobatches:
      return fmt::format(
          "training.global_batch = {} makes {} microbatches per step (global_batch / "
          "(micro_batch × dp)); memsim walks at most {}: raise micro_batch or lower global_batch",
          plan.training.global_batch, plan.microbatches(), sim::kMostMicrobatches);
    case R::kTooManyLayerPasses:
      return fmt::format(
          "training.global_batch = {}: {} microbatches per step through {} layers are {} layer "
          "passes; memsim walks at most {}: raise micro_batch or lower global_batch",
          plan.training.global_batch, plan.microbatches(), plan.model.layers,
          strategies::layer_passes(plan), sim::kMostLayerPasses);
    case R::kTooManyPipelineSteps:
      return fmt::format(
          "training.global_batch = {}: {} microbatches per step through {} pipeline chunks (pp "
          "× virtual_stages) are {} steps to time; memsim times at most {}: raise micro_batch "
          "or lower global_batch",
          plan.training.global_batch, plan.microbatches(), plan.parallel.pp.chunks(),
          plan.microbatches() * plan.parallel.pp.chunks(), sim::kMostPipelineSteps);
    case R::kTooManyStageLayers:
      return fmt::format(
          "parallel.pp = {} stages of a {}-layer model: memsim compiles at most {} stage-layers "
          "(pp × layers)",
          plan.parallel.pp.stages, plan.model.layers, sim::kMostStageLayers);
    case R::kAttentionWindow:
      return fmt::format(
          "sequences of {} tokens are longer than the model's sliding attention window ({} "
          "tokens), which memsim does not model; keep them within it",
          strategies::sequence_tokens(plan), plan.model.attention_window);
    case R::kZeroWithoutDp:
      return fmt::format("parallel.zero = {} with dp = 1 shards nothing", plan.parallel.dp.zero);
    default:
      return "?";
  }
}

}  // namespace

std::string layout_message(R reason, const Plan& plan) {
  if (const auto r = static_cast<size_t>(reason); r >= strategies::kCoreLayoutReasons) {
    return strategies::pass_checks().at(r - strategies::kCoreLayoutReasons).message(plan);
  }
  std::string message = layout_shape_message(reason, plan);
  return message.empty() ? batch_message(reason, plan) : message;
}

}  // namespace memsim::scenarios
