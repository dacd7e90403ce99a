#include "strategies/optimizer.h"

#include <algorithm>

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

// Adam and AdamW in PyTorch 2.x (torch/optim/adam.py, adamw.py):
// - _fused_adam(w): one kernel updates every tensor in place;
// - _multi_tensor_adam(w), the foreach path (PyTorch's CUDA default): exp_avg_sq_sqrt =
//   torch._foreach_sqrt(device_exp_avg_sqs) is one temporary as large as the second moment
//   of the whole group, divided and added to in place until the parameters are updated;
// - _single_tensor_adam(w): denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
//   holds the square root and the quotient of one parameter at once.
// Apex's, Transformer Engine's and DeepSpeed's FusedAdam update in place like the first.
std::vector<StepTemporaries> adam_implementations() {
  return {{StepImplementation::kFused, "fused", 0, 0},
          {StepImplementation::kForeach, "foreach", 1, 0},
          {StepImplementation::kSingleTensor, "single_tensor", 0, 2}};
}

}  // namespace

const std::vector<OptimizerInfo>& optimizers() {
  static const std::vector<OptimizerInfo> table = {
      {"adamw",
       "AdamW: first and second moments per parameter",
       {},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings&) {
         return per_element(t, 2, sb);
       },
       adam_implementations()},
      {"adam",
       "Adam: first and second moments per parameter",
       {},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings&) {
         return per_element(t, 2, sb);
       },
       adam_implementations()},
      {"sgd",
       "SGD; with momentum, one buffer per parameter",
       {{"momentum", 0.9, "momentum factor; 0 keeps no state"}},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings& s) {
         return per_element(t, optimizer_parameter(s, "momentum") > 0.0 ? 1 : 0, sb);
       },
       // torch/optim/sgd.py: every path updates the momentum buffer and the parameter in
       // place (without weight decay, which memsim's SGD does not take).
       {{StepImplementation::kFused, "fused", 0, 0},
        {StepImplementation::kForeach, "foreach", 0, 0},
        {StepImplementation::kSingleTensor, "single_tensor", 0, 0}}},
      {"lion",
       "Lion (Chen et al. 2023): one momentum buffer per parameter",
       {},
       [](const ParamTensor& t, int64_t sb, const OptimizerSettings&) {
         return per_element(t, 1, sb);
       },
       // lion-pytorch (lion_pytorch/lion_pytorch.py, update_fn): update =
       // exp_avg.clone().mul_(beta1).add(grad, ...).sign_() holds two copies of a parameter.
       {{StepImplementation::kSingleTensor, "single_tensor", 0, 2}}},
      {"adam8bit",
       "8-bit Adam (bitsandbytes): two 1-byte states and an fp32 scale per block",
       {{"block_size", 256, "elements per quantisation block (one fp32 absmax per state)"},
        {"min_8bit_size", 4096, "tensors with fewer elements keep fp32 states"}},
       adam8bit_bytes,
       // bitsandbytes' optimizer_update_8bit_blockwise kernel updates states and parameter in
       // place (bitsandbytes/functional.py).
       {{StepImplementation::kFused, "fused", 0, 0}}},
      {"adafactor",
       "Adafactor: factored second moment (row + column) for matrices",
       {{"beta1", 0.0, "first-moment decay; 0 keeps no first moment (the default)"}},
       adafactor_bytes,
       // transformers.optimization.Adafactor steps one parameter at a time; its temporaries
       // (the squared gradient, the factored update, fp32 copies of 16-bit tensors) are not
       // modeled yet.
       {{StepImplementation::kSingleTensor, "single_tensor", 0, 0}}},
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

const StepTemporaries& step_temporaries(const OptimizerSettings& settings) {
  const OptimizerInfo* info = find_optimizer(settings.name);
  MEMSIM_CHECK(info != nullptr && !info->implementations.empty());
  if (!settings.implementation) return info->implementations.front();
  for (const StepTemporaries& t : info->implementations) {
    if (t.implementation == *settings.implementation) return t;
  }
  MEMSIM_CHECK(false);  // the scenario reader accepts only the optimizer's implementations
}

sim::Bytes optimizer_step_workspace(const OptimizerSettings& settings, int64_t elements,
                                    int64_t largest, int64_t state_bytes) {
  const StepTemporaries& t = step_temporaries(settings);
  const int64_t copies = checked_mul(t.group_copies, elements) +
                         checked_mul(t.tensor_copies, std::min(largest, elements));
  return Bytes(checked_mul(copies, state_bytes));
}

sim::Bytes optimizer_state_bytes(const OptimizerSettings& settings, const ParamTensor& tensor,
                                 int64_t state_bytes) {
  const OptimizerInfo* info = find_optimizer(settings.name);
  MEMSIM_CHECK(info != nullptr);
  return info->state_bytes(tensor, state_bytes, settings);
}

}  // namespace memsim::strategies
