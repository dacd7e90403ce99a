#include "strategies/optimizer.h"

#include <doctest/doctest.h>

namespace {

using memsim::strategies::optimizer_state_bytes;
using memsim::strategies::OptimizerSettings;
using memsim::strategies::ParamTensor;

int64_t bytes(const std::string& name, ParamTensor tensor, int64_t state_bytes = 4,
              std::map<std::string, double> values = {}) {
  OptimizerSettings settings;
  settings.name = name;
  settings.values = std::move(values);
  return optimizer_state_bytes(settings, tensor, state_bytes).value();
}

}  // namespace

TEST_CASE("Adam and AdamW keep two states per element") {
  CHECK(bytes("adamw", {4096, 4096}) == 2 * 4 * 4096 * 4096);
  CHECK(bytes("adam", {4096, 0}) == 2 * 4 * 4096);
  CHECK(bytes("adamw", {4096, 4096}, 2) == 2 * 2 * 4096 * 4096);  // pure bf16 states
}

TEST_CASE("SGD keeps a momentum buffer only with momentum") {
  CHECK(bytes("sgd", {1000, 10}) == 4 * 10000);
  CHECK(bytes("sgd", {1000, 10}, 4, {{"momentum", 0.0}}) == 0);
}

TEST_CASE("8-bit Adam: two 1-byte states plus one fp32 absmax per 256-element block") {
  // A 4096 × 4096 matrix: 2 × 16,777,216 bytes of states and 2 × 65,536 blocks × 4 bytes.
  CHECK(bytes("adam8bit", {4096, 4096}) == 2 * 16'777'216 + 2 * 65'536 * 4);
  // 1000 × 5 = 5000 elements: ceil(5000 / 256) = 20 blocks per state.
  CHECK(bytes("adam8bit", {1000, 5}) == 2 * 5000 + 2 * 20 * 4);
  // Under min_8bit_size (4096) elements the states stay fp32: bias of 768.
  CHECK(bytes("adam8bit", {768, 0}) == 2 * 4 * 768);
}

TEST_CASE("Adafactor factors the second moment of matrices") {
  CHECK(bytes("adafactor", {4096, 11008}) == 4 * (4096 + 11008));
  CHECK(bytes("adafactor", {4096, 0}) == 4 * 4096);
  CHECK(bytes("adafactor", {4096, 11008}, 4, {{"beta1", 0.9}}) ==
        4 * (4096 + 11008) + 4 * 4096 * 11008);
}

TEST_CASE("every registry entry lists its parameters with defaults") {
  for (const auto& info : memsim::strategies::optimizers()) {
    CAPTURE(info.name);
    CHECK(memsim::strategies::find_optimizer(info.name) == &info);
    OptimizerSettings settings;
    settings.name = info.name;
    for (const auto& p : info.parameters) {
      CHECK(memsim::strategies::optimizer_parameter(settings, p.name) == p.default_value);
    }
  }
}

TEST_CASE("the optimizer step's temporaries follow its implementation") {
  using memsim::strategies::optimizer_step_workspace;
  using memsim::strategies::StepImplementation;
  OptimizerSettings adamw;
  // 7e9 elements stepped, the largest tensor 5e8, fp32 states.
  const auto workspace = [](const OptimizerSettings& s) {
    return optimizer_step_workspace(s, 7'000'000'000, 500'000'000, 4).value();
  };
  CHECK(workspace(adamw) == 0);  // fused, the first, when unset
  adamw.implementation = StepImplementation::kForeach;
  CHECK(workspace(adamw) == 4 * 7'000'000'000LL);  // _foreach_sqrt(exp_avg_sqs): one moment
  adamw.implementation = StepImplementation::kSingleTensor;
  CHECK(workspace(adamw) == 2 * 4 * 500'000'000LL);  // sqrt and quotient of one tensor
  // A rank stepping fewer elements than the largest tensor holds no more than it steps.
  CHECK(optimizer_step_workspace(adamw, 1000, 500'000'000, 2).value() == 2 * 2 * 1000);

  OptimizerSettings lion;
  lion.name = "lion";
  CHECK(workspace(lion) == 2 * 4 * 500'000'000LL);  // clone, then add: two copies
  OptimizerSettings sgd;
  sgd.name = "sgd";
  sgd.implementation = StepImplementation::kForeach;
  CHECK(workspace(sgd) == 0);  // in place
}
