#pragma once
/// Optimizers as a registry table: each entry names itself, documents its parameters with
/// their defaults, and says how many bytes of state it keeps for one parameter tensor.

#include <cstdint>
#include <map>
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

struct OptimizerParameter {
  const char* name;
  double default_value;
  const char* description;
};

/// Values of an optimizer's parameters; unset ones take the registry's default.
struct OptimizerSettings {
  std::string name = "adamw";
  std::map<std::string, double> values;
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
};

const std::vector<OptimizerInfo>& optimizers();
const OptimizerInfo* find_optimizer(const std::string& name);

/// The value of `parameter` in `settings`, or its default.
double optimizer_parameter(const OptimizerSettings& settings, const std::string& parameter);

/// Optimizer-state bytes of one tensor under `settings`.
sim::Bytes optimizer_state_bytes(const OptimizerSettings& settings, const ParamTensor& tensor,
                                 int64_t state_bytes);

}  // namespace memsim::strategies
