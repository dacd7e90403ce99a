// Tensor parallelism as a registered pass: which degrees split a model, and the layouts its
// checks refuse, with their messages.

#include "strategies/tensor_parallel.h"

#include <string>

#include <doctest/doctest.h>

#include "strategies/layout.h"
#include "strategies/strategy_pass.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::Plan;

using memsim::testing::refusals;

}  // namespace

TEST_CASE("a degree splits a model when it divides heads and MLP, and KV heads either way") {
  // Llama 3 70B: 64 heads, 8 KV heads, MLP 28,672 = 2^12 × 7.
  const auto model = memsim::testing::preset("llama3-70b");
  for (const int64_t t : {1, 2, 4, 8, 16, 32, 64})
    CHECK(memsim::strategies::splits_model(model, t));
  CHECK_FALSE(memsim::strategies::splits_heads(model, 3));
  CHECK_FALSE(memsim::strategies::splits_model(model, 128));
  // More ranks than KV heads: each keeps a replica of one, when the heads divide evenly.
  auto gqa = model;
  gqa.kv_heads = 8;
  CHECK(memsim::strategies::splits_kv_heads(gqa, 16));
  gqa.kv_heads = 6;
  CHECK_FALSE(memsim::strategies::splits_kv_heads(gqa, 16));
  // Every kind of layer's MLP must split.
  auto mixed = model;
  mixed.layer_kinds.push_back({0, 1, 28'672 + 4});
  CHECK(memsim::strategies::splits_ffn(mixed, 4));
  CHECK_FALSE(memsim::strategies::splits_ffn(mixed, 8));
}

TEST_CASE("the pass refuses degrees that do not split the model or the sequence") {
  Plan plan = memsim::testing::one_gpu_plan(memsim::testing::preset("llama3-70b"), 4096, 1);
  CHECK(refusals(plan).empty());
  plan.parallel.tp.degree = 3;
  const auto three = refusals(plan);
  REQUIRE(three.size() == 3);
  CHECK(three[0] == "parallel.tp = 3 does not divide attention heads (64)");
  CHECK(three[1] == "parallel.tp = 3 and kv_heads = 8: one must divide the other");
  CHECK(three[2] == "parallel.tp = 3 does not divide the MLP size (28672)");
  plan.parallel.tp.degree = 8;
  plan.parallel.tp.sequence_parallel = true;
  plan.training.seq_len = 4100;
  CHECK(refusals(plan) ==
        std::vector<std::string>{"sequence parallelism needs tp = 8 to divide seq_len (4100)"});
  // Its checks count among the layout's problems, after the core's.
  plan.cluster.gpus_per_node = 8;
  CHECK(memsim::strategies::resolve_layout(plan).count() == 1);
}
