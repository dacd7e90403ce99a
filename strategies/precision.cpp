#include "strategies/precision.h"

#include <variant>

#include <fmt/format.h>

#include "sim/check.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

int64_t dtype_bytes(Dtype dtype) {
  return dtype == Dtype::kFp32 ? 4 : 2;
}

const std::vector<RecipeInfo>& precision_recipes() {
  // Mixed precision keeps 16-bit weights and gradients, an fp32 master copy and fp32 Adam
  // moments: 2 + 2 + 4 + 8 = 16 bytes per parameter, the accounting of Rajbhandari et
  // al. 2020 (ZeRO), §3.1. Pure bf16 keeps everything in bf16: 2 + 2 + 4 = 8 with Adam.
  // Autocast over fp32 parameters (torch.autocast; the Hugging Face Trainer's bf16=True or
  // fp16=True on a model loaded in fp32) keeps fp32 weights, gradients and states, runs the
  // matmuls in 16 bits and the residual stream, the norms and the loss in fp32.
  static const std::vector<RecipeInfo> recipes = {
      {PrecisionRecipe::kFp32, "fp32", "everything fp32: 4 + 4 + 8 = 16 bytes/param with Adam", 4,
       4, 0, 4, 4, 4, false},
      {PrecisionRecipe::kBf16Mixed, "bf16-mixed",
       "bf16 weights, gradients and activations; fp32 master weights and optimizer states", 2, 2, 4,
       4, 2, 2, false},
      {PrecisionRecipe::kFp16Mixed, "fp16-mixed",
       "fp16 weights, gradients and activations; fp32 master weights and optimizer states", 2, 2, 4,
       4, 2, 2, false},
      {PrecisionRecipe::kBf16, "bf16",
       "everything bf16, optimizer states too, no master copy: 8 bytes/param with Adam", 2, 2, 0, 2,
       2, 2, false},
      {PrecisionRecipe::kAmpBf16, "amp-bf16",
       "autocast to bf16 over fp32 weights, gradients and optimizer states; an fp32 residual "
       "stream, bf16 matmuls that keep bf16 copies of their inputs and weights",
       4, 4, 0, 4, 2, 4, true},
      {PrecisionRecipe::kAmpFp16, "amp-fp16",
       "autocast to fp16 over fp32 weights, gradients and optimizer states; an fp32 residual "
       "stream, fp16 matmuls that keep fp16 copies of their inputs and weights",
       4, 4, 0, 4, 2, 4, true},
  };
  return recipes;
}

const RecipeInfo* find_recipe(const std::string& name) {
  for (const RecipeInfo& info : precision_recipes()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

const RecipeInfo& Precision::info() const {
  const RecipeInfo& info = precision_recipes()[static_cast<size_t>(recipe)];
  MEMSIM_CHECK(info.recipe == recipe);  // the table lists recipes in enum order
  return info;
}

int64_t Precision::gradient_bytes() const {
  return gradients ? dtype_bytes(*gradients) : info().gradient_bytes;
}

int64_t Precision::activation_bytes() const {
  return activations ? dtype_bytes(*activations) : info().activation_bytes;
}

int64_t Precision::stream_bytes() const {
  return activations ? dtype_bytes(*activations) : info().stream_bytes;
}

int64_t Precision::bytes(sim::DtypeClass dtype) const {
  switch (dtype) {
    case sim::DtypeClass::kActivation:
      return activation_bytes();
    case sim::DtypeClass::kStream:
      return stream_bytes();
    case sim::DtypeClass::kMask:
      return 1;
    case sim::DtypeClass::kFp32:
      return 4;
    case sim::DtypeClass::kIndex:
      return 8;
  }
  MEMSIM_CHECK(false);
}

namespace {

std::vector<SettingKey::Word> recipe_words() {
  std::vector<SettingKey::Word> words;
  for (const RecipeInfo& info : precision_recipes())
    words.push_back({info.name, static_cast<int64_t>(info.recipe)});
  return words;
}

/// torch.autocast caches each parameter's 16-bit cast until the outermost autocast region
/// exits (torch/amp/autocast_mode.py, __exit__: clear_autocast_cache): a checkpointed
/// forward drops what it saves but not that cache, which memsim does not model.
bool autocast_with_checkpointing(const Plan& plan) {
  return plan.mode == Mode::kTraining && plan.precision.info().autocast &&
         !std::holds_alternative<NoCheckpointing>(plan.training.chunk_passes.checkpointing);
}

/// The graph a recipe makes: autocast's casts, and the residual stream's dtype.
void cast_the_graph(const TrainingPlan& plan, sim::GraphOptions& options) {
  options.autocast = plan.precision.info().autocast;
  options.fp32_stream = plan.precision.stream_bytes() == 4;
}

std::vector<SettingKey::Word> dtype_words() {
  return {{"fp32", static_cast<int64_t>(Dtype::kFp32)},
          {"bf16", static_cast<int64_t>(Dtype::kBf16)},
          {"fp16", static_cast<int64_t>(Dtype::kFp16)}};
}

}  // namespace

StrategyPass precision_pass() {
  return {
      .name = "mixed precision",
      .keys = {mapping_row("precision", "recipe name, or {recipe, gradients, activations}",
                           MEMSIM_PLAN_FIELD(precision), {}),
               choice_row<PrecisionRecipe>("precision.recipe",
                                           "fp32 | bf16-mixed | fp16-mixed | bf16 | amp-bf16 | "
                                           "amp-fp16",
                                           MEMSIM_PLAN_FIELD(precision.recipe), recipe_words()),
               choice_row<Dtype>("precision.gradients",
                                 "gradient dtype override: fp32 | bf16 | fp16",
                                 MEMSIM_PLAN_FIELD(precision.gradients), dtype_words()),
               choice_row<Dtype>("precision.activations",
                                 "activation dtype override: fp32 | bf16 | fp16",
                                 MEMSIM_PLAN_FIELD(precision.activations), dtype_words())},
      .checks = {{"precision.recipe checkpointing", "autocast with activation checkpointing",
                  autocast_with_checkpointing,
                  [](const Plan& plan) -> std::string {
                    return fmt::format(
                        "precision.recipe = {} with checkpointing: autocast caches every "
                        "weight's 16-bit copy until the forward ends even where checkpointing "
                        "drops what it saves, which memsim does not model yet",
                        plan.precision.info().name);
                  }}},
      .shape_graph = cast_the_graph,
  };
}

}  // namespace memsim::strategies
