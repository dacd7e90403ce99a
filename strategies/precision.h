#pragma once
/// Precision recipes: the one place element counts become bytes. A recipe fixes the
/// bytes per element of weights, gradients, fp32 master copies, optimizer states and
/// activations; a scenario may override the gradient and activation dtypes.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/op_table.h"

namespace memsim::strategies {

enum class PrecisionRecipe { kFp32, kBf16Mixed, kFp16Mixed, kBf16, kAmpBf16, kAmpFp16 };

/// A numeric type a scenario can name for gradients or activations.
enum class Dtype { kFp32, kBf16, kFp16 };

int64_t dtype_bytes(Dtype dtype);

struct RecipeInfo {
  PrecisionRecipe recipe;
  const char* name;
  const char* description;
  int64_t weight_bytes;
  int64_t gradient_bytes;
  int64_t master_bytes;  ///< fp32 master copy, 0 when none
  int64_t state_bytes;   ///< one optimizer state element (an Adam moment)
  int64_t activation_bytes;
  int64_t stream_bytes;  ///< the residual stream's (sim::DtypeClass::kStream)
  bool autocast;         ///< torch.autocast over fp32 parameters
};

/// The recipes, in the order `memsim` lists them.
const std::vector<RecipeInfo>& precision_recipes();
const RecipeInfo* find_recipe(const std::string& name);

struct Precision {
  PrecisionRecipe recipe = PrecisionRecipe::kBf16Mixed;
  std::optional<Dtype> gradients{};    ///< e.g. fp32 (Megatron's main_grad): 18 bytes/param
  std::optional<Dtype> activations{};  ///< e.g. fp32 activations under a mixed recipe

  const RecipeInfo& info() const;
  int64_t weight_bytes() const { return info().weight_bytes; }
  int64_t gradient_bytes() const;
  int64_t master_bytes() const { return info().master_bytes; }
  int64_t state_bytes() const { return info().state_bytes; }
  int64_t activation_bytes() const;
  int64_t stream_bytes() const;
  /// Bytes of one element of a tensor of `dtype` class.
  int64_t bytes(sim::DtypeClass dtype) const;
  bool operator==(const Precision&) const = default;
};

}  // namespace memsim::strategies
