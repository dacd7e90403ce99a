#pragma once
/// Optimizers as a registry table: each entry names itself, documents its parameters with
/// their defaults, and says how many bytes of state it keeps for one parameter tensor.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/units.h"

namespace memsim::strategies {

/// One parameter tensor as the optimizer sees it: a matrix, or a vector (cols == 0).
struct ParamTensor {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t elements() const { return cols == 0 ? rows : rows * cols; }
};

/// How a step runs over the parameters: one kernel over every tensor, updating in place
/// (PyTorch's fused=True, apex's, Transformer Engine's and DeepSpeed's FusedAdam, bitsandbytes'
/// 8-bit kernels); PyTorch's foreach path, one op over a whole group's list of tensors at a
/// time; or its single-tensor path, parameter after parameter.
enum class StepImplementation : uint8_t { kFused, kForeach, kSingleTensor };

/// The temporaries one implementation of an optimizer's step allocates while it runs, in
/// elements of the states' dtype.
struct StepTemporaries {
  StepImplementation implementation = StepImplementation::kFused;
  const char* name = "fused";
  /// As large as this many copies of every parameter the rank steps, at once (the foreach
  /// path's results over the whole group).
  int64_t group_copies = 0;
  /// As large as this many copies of the largest parameter tensor (the single-tensor path's
  /// results for one parameter).
  int64_t tensor_copies = 0;
};

struct OptimizerParameter {
  const char* name;
  double default_value;
  const char* description;
};

/// Values of an optimizer's parameters; unset ones take the registry's default.
struct OptimizerSettings {
  std::string name = "adamw";
  std::map<std::string, double> values;
  /// The optimizer's first implementation (OptimizerInfo::implementations) when unset.
  std::optional<StepImplementation> implementation;
  bool operator==(const OptimizerSettings&) const = default;
};

struct OptimizerInfo {
  const char* name;
  const char* description;
  std::vector<OptimizerParameter> parameters;
  /// State bytes for `tensor`; `state_bytes` is the precision recipe's bytes per state
  /// element (4 under mixed precision, 2 under pure bf16).
  sim::Bytes (*state_bytes)(const ParamTensor& tensor, int64_t state_bytes,
                            const OptimizerSettings& settings);
  /// The implementations memsim knows, the default first, each with its source.
  std::vector<StepTemporaries> implementations;
};

const std::vector<OptimizerInfo>& optimizers();
const OptimizerInfo* find_optimizer(const std::string& name);

/// The value of `parameter` in `settings`, or its default.
double optimizer_parameter(const OptimizerSettings& settings, const std::string& parameter);

/// The temporaries of the step `settings` chooses.
const StepTemporaries& step_temporaries(const OptimizerSettings& settings);

/// Bytes the step allocates while it runs on a rank that steps `elements` parameter
/// elements, the largest of its tensors `largest` of them, its states `state_bytes` bytes
/// an element.
sim::Bytes optimizer_step_workspace(const OptimizerSettings& settings, int64_t elements,
                                    int64_t largest, int64_t state_bytes);

/// Optimizer-state bytes of one tensor under `settings`.
sim::Bytes optimizer_state_bytes(const OptimizerSettings& settings, const ParamTensor& tensor,
                                 int64_t state_bytes);

}  // namespace memsim::strategies
