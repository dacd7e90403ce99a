// The registry of strategy passes: each pass's keys join the scenario's schema, its checks
// follow the core's layout problems, and its hooks reach both evaluations.

#include <set>
#include <string>

#include <doctest/doctest.h>

#include "scenarios/scenario_keys.h"
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
  auto shaped = [&](const memsim::strategies::ChunkPassSettings& settings) {
    memsim::sim::RankProgram program;
    program.graph = &graph;
    program.chunks = {{0, static_cast<int>(graph.op_count()) - 1}};
    memsim::strategies::shape_chunks(settings, program);
    return program;
  };
  memsim::strategies::ChunkPassSettings settings;
  const auto plain = shaped(settings);
  CHECK(!plain.host_moves);
  CHECK(plain.recompute.empty());
  settings.activation_offload.layers = 2;
  CHECK(shaped(settings).host_moves);
  CHECK(shaped(settings).recompute.empty());
  settings.checkpointing = memsim::strategies::FullCheckpointing{2};
  CHECK(shaped(settings).recompute.size() == 2);  // two groups of two layers
}
