// Model states per data-parallel rank against Rajbhandari et al. 2020, "ZeRO: Memory
// Optimizations Toward Training Trillion Parameter Models", Table 1 (reference/formulas.md
// §2): Ψ = 7.5B parameters, mixed-precision Adam (K = 12), in GB (10^9 bytes).

#include <cmath>

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

using memsim::sim::Category;

// A model of exactly 7,500,000,000 parameters: 400 layers × (4h² + 3hf + 2h) with h = 1000,
// f = 4000, plus the final norm (h) and a tied 1,099,199 × 1000 embedding.
memsim::sim::ModelSpec psi_7_5b() {
  memsim::sim::ModelSpec m;
  m.name = "psi-7.5b";
  m.layers = 400;
  m.hidden = 1000;
  m.heads = 8;
  m.kv_heads = 8;
  m.ffn = 4000;
  m.vocab = 1'099'199;
  m.ffn_type = memsim::sim::FfnType::kSwiGlu;
  m.norm = memsim::sim::NormType::kRmsNorm;
  m.tied_embeddings = true;
  return m;
}

/// Weights, gradients, master weights and optimizer states one rank holds, in GB.
double states_gb(int64_t data_parallel, int zero) {
  auto plan = memsim::testing::one_gpu_plan(psi_7_5b(), 1);
  plan.cluster.gpus_per_node = data_parallel;
  plan.parallel.dp.degree = data_parallel;
  plan.parallel.dp.zero = zero;
  plan.parallel.dp.persistence_threshold = 0;  // the paper shards every tensor
  plan.training.global_batch = data_parallel;
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& resident = compiled.program(0).resident;
  const auto bytes = resident[Category::kWeights] + resident[Category::kGradients] +
                     resident[Category::kMasterWeights] + resident[Category::kOptimizer];
  return bytes.gb();
}

/// The table's rounding: one decimal from 10 GB up, two below.
double published(double gb) {
  const double scale = gb >= 10.0 ? 10.0 : 100.0;
  return std::floor(gb * scale + 0.5) / scale;
}

}  // namespace

TEST_CASE("the model has exactly 7.5B parameters") {
  CHECK(memsim::sim::LayerGraph(psi_7_5b()).parameter_count() == 7'500'000'000);
}

TEST_CASE("ZeRO paper Table 1, all six data-parallel degrees and four columns") {
  struct Row {
    int64_t nd;
    double baseline, pos, posg, posgp;
  };
  const Row table[] = {
      {1, 120, 120, 120, 120},     {4, 120, 52.5, 41.3, 30},     {16, 120, 35.6, 21.6, 7.5},
      {64, 120, 31.4, 16.6, 1.88}, {256, 120, 30.4, 15.4, 0.47}, {1024, 120, 30.1, 15.1, 0.12},
  };
  for (const Row& row : table) {
    CAPTURE(row.nd);
    CHECK(published(states_gb(row.nd, 0)) == doctest::Approx(row.baseline));
    CHECK(published(states_gb(row.nd, 1)) == doctest::Approx(row.pos));
    CHECK(published(states_gb(row.nd, 2)) == doctest::Approx(row.posg));
    CHECK(published(states_gb(row.nd, 3)) == doctest::Approx(row.posgp));
  }
}
