// The registry of strategy passes: each pass's keys join the scenario's schema, its checks
// follow the core's layout problems, and its hooks reach both evaluations.

#include <functional>
#include <set>
#include <string>
#include <vector>

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
    // A pass reads keys of its own, or refuses what other keys combine to (its checks).
    CHECK((!pass.keys.empty() || !pass.checks.empty()));
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
  CHECK(program.held == memsim::strategies::held_buffers(2, false));
  REQUIRE(program.held.size() == 3);
  CHECK(program.held[1].span == memsim::sim::HeldSpan::kLayerRuns);
  CHECK(program.held[1].ahead == 2);
  // The plan's ZeRO-3 prefetch reaches the settings; other stages gather nothing ahead.
  auto plan = memsim::testing::one_gpu_plan(model, 64);
  plan.parallel.dp.zero = 3;
  plan.parallel.dp.prefetch_layers = 2;
  CHECK(memsim::strategies::recipe_settings(plan, graph).gathered_ahead == 2);
  plan.parallel.dp.zero = 2;
  CHECK(memsim::strategies::recipe_settings(plan, graph).gathered_ahead == 0);
}

TEST_CASE("ZeRO-3 gathering modules holds each op's parameters as the coordinator plans them") {
  auto model = memsim::testing::preset("llama2-7b");
  model.layers = 2;
  const memsim::sim::LayerGraph graph(model);
  auto plan = memsim::testing::one_gpu_plan(model, 64);
  plan.parallel.dp.zero = 3;
  plan.parallel.dp.gathering = memsim::strategies::Gathering::kModules;
  plan.parallel.dp.modules.prefetch_bucket = 7;
  const auto settings = memsim::strategies::recipe_settings(plan, graph);
  CHECK(settings.gathered_ahead == 0);
  CHECK(settings.gathering.limits.prefetch_bucket == 7);
  // Every matrix is gathered, the embedding's and the head's once each; the norms' weights
  // (4096 elements, under the 1e5 threshold) stay whole.
  int64_t gathered = 0;
  for (const int64_t elements : settings.gathering.elements)
    gathered += elements;
  const int64_t h = 4096;
  CHECK(gathered == 2 * 32000 * h + 4 * h * h + 3 * h * 11008);
  memsim::sim::RankProgram program;
  program.graph = &graph;
  memsim::strategies::shape_chunks(settings, program);
  REQUIRE(program.held.size() == 3);
  CHECK(program.held[1].span == memsim::sim::HeldSpan::kModuleTrace);
  CHECK(program.gathering == settings.gathering);
  // ZeRO-2, or FSDP's sharding, gathers nothing module by module.
  plan.parallel.dp.zero = 2;
  CHECK(!memsim::strategies::recipe_settings(plan, graph).gathering.gathers());
  plan.parallel.dp.zero = 3;
  plan.parallel.dp.sharding = memsim::strategies::Sharding::kFsdp2;
  CHECK(!memsim::strategies::recipe_settings(plan, graph).gathering.gathers());
}

TEST_CASE("no pass's check reads the global batch: a sweep judges the layout once for all") {
  // A sweep resolves a point's parallel layout, the passes' checks included, once for every
  // global batch its innermost axis meets (resolve_parallel_layout, SweepPlan::prepare): a
  // check that read the batch or the microbatch count would go stale there.
  using Read = memsim::strategies::SettingKey::Read;
  int judged = 0;
  for (const auto& pass : memsim::strategies::strategy_passes()) {
    if (pass.checks.empty()) continue;
    CAPTURE(pass.name);
    // The pass's settings as a scenario can give them: each shorthand, each integer key
    // at its bounds and its words.
    std::vector<std::function<void(memsim::strategies::Plan&)>> settings{
        [](memsim::strategies::Plan&) {}};
    for (const auto& key : pass.keys) {
      for (const auto& shorthand : key.shorthands)
        settings.emplace_back(shorthand.set);
      if (key.read != Read::kInteger && key.read != Read::kChoice) continue;
      std::vector<int64_t> values{static_cast<int64_t>(key.least), static_cast<int64_t>(key.most)};
      for (const auto& word : key.words)
        values.push_back(word.value);
      for (const int64_t v : values)
        settings.emplace_back(
            [&key, v](memsim::strategies::Plan& plan) { key.set_integer(plan, v); });
    }
    for (const auto& set : settings) {
      auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset("llama2-7b"), 512, 2);
      plan.parallel.dp.degree = 4;
      plan.cluster.gpus_per_node = 4;
      set(plan);
      for (const auto& check : pass.checks) {
        plan.training.global_batch = 8;
        const bool first = check.fails(plan);
        for (const int64_t batch : {16, 24, 64, 1024}) {
          plan.training.global_batch = batch;
          CHECK(check.fails(plan) == first);
        }
        ++judged;
      }
    }
  }
  CHECK(judged > 0);
}
