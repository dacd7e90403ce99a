#include "strategies/precision.h"

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
  static const std::vector<RecipeInfo> recipes = {
      {PrecisionRecipe::kFp32, "fp32", "everything fp32: 4 + 4 + 8 = 16 bytes/param with Adam", 4,
       4, 0, 4, 4},
      {PrecisionRecipe::kBf16Mixed, "bf16-mixed",
       "bf16 weights, gradients and activations; fp32 master weights and optimizer states", 2, 2, 4,
       4, 2},
      {PrecisionRecipe::kFp16Mixed, "fp16-mixed",
       "fp16 weights, gradients and activations; fp32 master weights and optimizer states", 2, 2, 4,
       4, 2},
      {PrecisionRecipe::kBf16, "bf16",
       "everything bf16, optimizer states too, no master copy: 8 bytes/param with Adam", 2, 2, 0, 2,
       2},
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

int64_t Precision::bytes(sim::DtypeClass dtype) const {
  switch (dtype) {
    case sim::DtypeClass::kActivation:
      return activation_bytes();
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
                                           "fp32 | bf16-mixed | fp16-mixed | bf16",
                                           MEMSIM_PLAN_FIELD(precision.recipe), recipe_words()),
               choice_row<Dtype>("precision.gradients",
                                 "gradient dtype override: fp32 | bf16 | fp16",
                                 MEMSIM_PLAN_FIELD(precision.gradients), dtype_words()),
               choice_row<Dtype>("precision.activations",
                                 "activation dtype override: fp32 | bf16 | fp16",
                                 MEMSIM_PLAN_FIELD(precision.activations), dtype_words())},
  };
}

}  // namespace memsim::strategies
