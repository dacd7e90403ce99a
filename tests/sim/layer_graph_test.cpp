#include "sim/layer_graph.h"

#include <doctest/doctest.h>

#include "scenarios/model_presets.h"

TEST_CASE("smoke: llama2-7b parameter count") {
  const auto* preset = memsim::scenarios::find_preset("llama2-7b");
  REQUIRE(preset != nullptr);
  CHECK(memsim::sim::LayerGraph(preset->spec).parameter_count() == 6738415616);
}
