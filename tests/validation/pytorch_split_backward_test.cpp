// The split backward against what PyTorch keeps between its two steps, measured by
// tools/calibration/measure_split_backward.py (torch 1.13, CPU: stage_backward_input's stored
// gradients emulated with tensor hooks) and recorded in tests/fixtures/pytorch_split_backward.json:
// one Hugging Face LLaMA layer as a middle pipeline stage.

#include <fstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "evaluation/compiled_plan.h"
#include "sim/microbatch_recipe.h"
#include "support/test_support.h"

TEST_CASE("a split backward keeps what PyTorch keeps between its input and weight steps") {
  std::ifstream in(memsim::testing::source_path("tests/fixtures/pytorch_split_backward.json"));
  const auto c = nlohmann::json::parse(in)["cases"][0];
  const auto& dims = c["dims"];
  memsim::sim::ModelSpec model;
  model.name = "llama-block";
  model.layers = 3;  // one per stage: the middle stage runs one layer, as measured
  model.hidden = dims["h"];
  model.heads = dims["a"];
  model.kv_heads = dims["kv"];
  model.ffn = dims["ffn"];
  model.vocab = 1000;
  model.ffn_type = memsim::sim::FfnType::kSwiGlu;
  model.norm = memsim::sim::NormType::kRmsNorm;
  model.norm_kernel = memsim::sim::NormKernel::kEager;
  model.softmax_kernel = memsim::sim::SoftmaxKernel::kFp32;
  auto plan = memsim::testing::one_gpu_plan(model, dims["s"], dims["b"]);
  plan.cluster.gpus_per_node = 3;
  plan.parallel.pp.stages = 3;
  plan.parallel.pp.schedule = "zero-bubble";
  plan.training.global_batch = 3 * plan.training.micro_batch;
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& program = compiled.program(1);
  const auto recipe = memsim::sim::compile_recipe(program, 0);
  // The output gradients of the norms' and linears' weights, to the byte.
  CHECK(memsim::testing::pass_net_bytes(recipe, recipe.backward_input, program.sizes) ==
        c["input_step_kept_bytes"].get<int64_t>());
  // The weight step leaves the weight gradients alone (the walk's, not the recipe's).
  CHECK(c["after_weight_step_bytes"].get<int64_t>() == c["weight_gradient_bytes"].get<int64_t>());
  CHECK(memsim::testing::pass_net_bytes(recipe, recipe.forward, program.sizes) +
            memsim::testing::pass_net_bytes(recipe, recipe.backward_input, program.sizes) +
            memsim::testing::pass_net_bytes(recipe, recipe.backward_weight, program.sizes) ==
        0);
}
