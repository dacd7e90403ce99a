// The registry of strategy passes: each pass's keys join the scenario's schema, its checks
// follow the core's layout problems, and its hooks reach both evaluations.

#include <set>
#include <string>

#include <doctest/doctest.h>

#include "scenarios/scenario_keys.h"
#include "strategies/data_parallel.h"
#include "strategies/layout.h"
#include "strategies/strategy_pass.h"
#include "support/test_support.h"

TEST_CASE("every pass is named once and its keys are the scenario's") {
  std::set<std::string> names;
  std::set<std::string> keys;
  for (const auto& k : memsim::scenarios::scenario_keys())
    keys.insert(k.key);
  for (const auto& pass : memsim::strategies::strategy_passes()) {
    CAPTURE(pass.name);
    CHECK(names.insert(pass.name).second);
    CHECK(!pass.keys.empty());
    for (const auto& k : pass.keys) {
      CAPTURE(k.key);
      CHECK(keys.count(k.key) == 1);
      // A key in a section of its own needs that section's mapping row.
      if (k.section.find('.') != std::string::npos) CHECK(keys.count(k.section) == 1);
    }
  }
}

TEST_CASE("the passes' checks follow the core's layout problems, within the problem set") {
  size_t checks = 0;
  for (const auto& pass : memsim::strategies::strategy_passes()) {
    for (const auto& check : pass.checks) {
      CHECK((check.fails != nullptr && check.message != nullptr));
      ++checks;
    }
  }
  CHECK(memsim::strategies::pass_checks().size() == checks);
  CHECK(memsim::strategies::layout_reason_count() ==
        memsim::strategies::kCoreLayoutReasons + checks);
  CHECK(memsim::strategies::layout_reason_count() <= memsim::strategies::LayoutProblems().size());
}

TEST_CASE("a chunk's program is shaped by the passes its settings turn on, and only those") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 4;
  const memsim::sim::LayerGraph graph(model);
  auto shaped = [&](const memsim::strategies::RecipeSettings& settings) {
    memsim::sim::RankProgram program;
    program.graph = &graph;
    program.chunks = {{0, static_cast<int>(graph.op_count()) - 1}};
    memsim::strategies::shape_chunks(settings, program);
    return program;
  };
  memsim::strategies::RecipeSettings settings;
  const auto plain = shaped(settings);
  CHECK(!plain.host_moves);
  CHECK(plain.recompute.empty());
  settings.passes.activation_offload.layers = 2;
  CHECK(shaped(settings).host_moves);
  CHECK(shaped(settings).recompute.empty());
  settings.passes.checkpointing = memsim::strategies::FullCheckpointing{2};
  CHECK(shaped(settings).recompute.size() == 2);  // two groups of two layers
}

TEST_CASE("data parallelism holds its buffers around every chunk, ZeRO-3's gathers ahead") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 2;
  const memsim::sim::LayerGraph graph(model);
  memsim::sim::RankProgram program;
  program.graph = &graph;
  memsim::strategies::RecipeSettings settings;
  settings.gathered_ahead = 2;
  memsim::strategies::shape_chunks(settings, program);
  CHECK(program.held == memsim::strategies::held_buffers(2));
  REQUIRE(program.held.size() == 3);
  CHECK(program.held[1].span == memsim::sim::HeldSpan::kLayerRuns);
  CHECK(program.held[1].ahead == 2);
  // The plan's ZeRO-3 prefetch reaches the settings; other stages gather nothing ahead.
  auto plan = memsim::testing::one_gpu_plan(model, 64);
  plan.parallel.dp.zero = 3;
  plan.parallel.dp.prefetch_layers = 2;
  CHECK(memsim::strategies::recipe_settings(plan).gathered_ahead == 2);
  plan.parallel.dp.zero = 2;
  CHECK(memsim::strategies::recipe_settings(plan).gathered_ahead == 0);
}
