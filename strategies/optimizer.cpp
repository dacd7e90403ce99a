#include "strategies/optimizer.h"

#include "sim/check.h"

namespace memsim::strategies {

namespace {

using sim::Bytes;
using sim::checked_mul;

Bytes per_element(const ParamTensor& tensor, int64_t states, int64_t state_bytes) {
  return Bytes(checked_mul(checked_mul(tensor.elements(), states), state_bytes));
}

// bitsandbytes' Optimizer2State (bnb.optim.Adam8bit/AdamW8bit): two uint8 states plus one
// fp32 absmax per block of 256 elements per state; tensors under min_8bit_size (4096)
// elements keep fp32 states (bitsandbytes/optim/optimizer.py, init_state).
Bytes adam8bit_bytes(const ParamTensor& tensor, int64_t /*state_bytes*/,
                     const OptimizerSettings& settings) {
  const int64_t n = tensor.elements();
  const auto min_8bit = static_cast<int64_t>(optimizer_parameter(settings, "min_8bit_size"));
  if (n < min_8bit) return Bytes(checked_mul(n, 2 * 4));
  const auto block = static_cast<int64_t>(optimizer_parameter(settings, "block_size"));
  return Bytes(checked_mul(n, 2)) + Bytes(checked_mul(sim::ceil_div(n, block), 2 * 4));
}

// Adafactor (Shazeer & Stern 2018; transformers.optimization.Adafactor): the second
// moment of a matrix is factored into a row and a column vector; vectors keep it whole.
// The first moment exists only with beta1 set (the default keeps none).
Bytes adafactor_bytes(const ParamTensor& tensor, int64_t state_bytes,
                      const OptimizerSettings& settings) {
  const int64_t second = tensor.cols == 0 ? tensor.rows : tensor.rows + tensor.cols;
  Bytes bytes(checked_mul(second, state_bytes));
  if (optimizer_parameter(settings, "beta1") > 0.0) bytes += per_element(tensor, 1, state_bytes);
  return bytes;
}

}  // namespace

const std::vector<OptimizerInfo>& optimizers() {
  static const std::vector<OptimizerInfo> table = {
      {"adamw",
       "AdamW: first and second moments per parameter",
       {},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings&) {
         return per_element(t, 2, sb);
       }},
      {"adam",
       "Adam: first and second moments per parameter",
       {},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings&) {
         return per_element(t, 2, sb);
       }},
      {"sgd",
       "SGD; with momentum, one buffer per parameter",
       {{"momentum", 0.9, "momentum factor; 0 keeps no state"}},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings& s) {
         return per_element(t, optimizer_parameter(s, "momentum") > 0.0 ? 1 : 0, sb);
       }},
      {"lion",
       "Lion (Chen et al. 2023): one momentum buffer per parameter",
       {},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings&) {
         return per_element(t, 1, sb);
       }},
      {"adam8bit",
       "8-bit Adam (bitsandbytes): two 1-byte states and an fp32 scale per block",
       {{"block_size", 256, "elements per quantisation block (one fp32 absmax per state)"},
        {"min_8bit_size", 4096, "tensors with fewer elements keep fp32 states"}},
       adam8bit_bytes},
      {"adafactor",
       "Adafactor: factored second moment (row + column) for matrices",
       {{"beta1", 0.0, "first-moment decay; 0 keeps no first moment (the default)"}},
       adafactor_bytes},
  };
  return table;
}

const OptimizerInfo* find_optimizer(const std::string& name) {
  for (const OptimizerInfo& info : optimizers()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

double optimizer_parameter(const OptimizerSettings& settings, const std::string& parameter) {
  if (auto it = settings.values.find(parameter); it != settings.values.end()) return it->second;
  const OptimizerInfo* info = find_optimizer(settings.name);
  MEMSIM_CHECK(info != nullptr);
  for (const OptimizerParameter& p : info->parameters) {
    if (parameter == p.name) return p.default_value;
  }
  MEMSIM_CHECK(false);
}

sim::Bytes optimizer_state_bytes(const OptimizerSettings& settings, const ParamTensor& tensor,
                                 int64_t state_bytes) {
  const OptimizerInfo* info = find_optimizer(settings.name);
  MEMSIM_CHECK(info != nullptr);
  return info->state_bytes(tensor, state_bytes, settings);
}

}  // namespace memsim::strategies
