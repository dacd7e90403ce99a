#include "scenarios/scenario_keys.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "scenarios/config_tree.h"
#include "scenarios/diagnostics.h"
#include "scenarios/section_reader.h"
#include "support/test_support.h"

TEST_CASE("docs/scenarios.md documents every scenario key") {
  std::ifstream in(memsim::testing::source_path("docs/scenarios.md"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  for (const auto& key : memsim::scenarios::scenario_keys()) {
    const std::string section = key.section;
    const std::string name = key.name;
    CAPTURE(section);
    CAPTURE(name);
    if (!section.empty()) CHECK(doc.find("## `" + section + "`") != std::string::npos);
    CHECK(doc.find("| `" + name + "` |") != std::string::npos);
  }
}

TEST_CASE("docs/frameworks.md names only scenario keys") {
  std::ifstream in(memsim::testing::source_path("docs/frameworks.md"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  // A dotted name in a section of the scenario at the start of a backticked span:
  // `parallel.zero: 1`, `model.attention` (not `torch.compile`).
  const auto& all = memsim::scenarios::scenario_keys();
  const std::regex named("`([a-z_]+)\\.([a-z_]+)[`:]");
  int keys = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), named); it != std::sregex_iterator();
       ++it) {
    const std::string section = (*it)[1];
    const std::string key = section + "." + std::string((*it)[2]);
    if (std::none_of(all.begin(), all.end(), [&](const auto& k) { return k.section == section; }))
      continue;
    CAPTURE(key);
    CHECK(std::any_of(all.begin(), all.end(), [&](const auto& k) { return k.key == key; }));
    ++keys;
  }
  CHECK(keys > 10);
}

TEST_CASE("every key the table reads sets the field its row names") {
  using memsim::scenarios::ScenarioKey;
  std::vector<std::string> read;
  for (const ScenarioKey& key : memsim::scenarios::scenario_keys()) {
    if (key.read == ScenarioKey::Read::kBySection || key.read == ScenarioKey::Read::kMapping) {
      continue;  // a mapping's own keys are rows of their own
    }
    CAPTURE(key.key);
    if (key.read == ScenarioKey::Read::kChoice) {
      // A word no default has (the last), read into the plan and copied by the row.
      REQUIRE((key.copy != nullptr && !key.words.empty()));
      const auto node = memsim::scenarios::parse_yaml(
          fmt::format("{}: {}", key.name, key.words.back().word), "test.yaml");
      memsim::scenarios::Diagnostics diagnostics;
      memsim::scenarios::SectionReader reader(node, key.section,
                                              memsim::scenarios::keys_of(key.section), diagnostics);
      const memsim::strategies::Plan defaults;
      memsim::strategies::Plan plan;
      memsim::scenarios::read_table_keys(reader, key.section, plan);
      CHECK(diagnostics.empty());
      CHECK(!(plan == defaults));
      memsim::strategies::Plan copied;
      key.copy(copied, plan);
      CHECK(copied == plan);
      read.push_back(key.key);
      continue;
    }
    REQUIRE((key.copy != nullptr && key.number != nullptr));
    // A value inside the bounds that no default has: the upper bound, or 3 GiB.
    std::string text;
    double expected = 0.0;
    switch (key.read) {
      case ScenarioKey::Read::kInteger:
      case ScenarioKey::Read::kNumber:
        expected = key.most;
        text = fmt::format("{}: {}", key.name, key.most);
        break;
      case ScenarioKey::Read::kWordSet: {
        // Only the first word: a set no default is.
        expected = static_cast<double>(key.words.front().value);
        text = fmt::format("{}: [{}]", key.name, key.words.front().word);
        break;
      }
      case ScenarioKey::Read::kFlag: {
        const memsim::strategies::Plan defaults;
        expected = key.number(defaults) == 0.0 ? 1.0 : 0.0;
        text = fmt::format("{}: {}", key.name, expected == 1.0 ? "true" : "false");
        break;
      }
      default:
        expected = 3.0 * 1024 * 1024 * 1024;
        text = key.name + ": 3 GiB";
    }
    const auto node = memsim::scenarios::parse_yaml(text, "test.yaml");
    memsim::scenarios::Diagnostics diagnostics;
    memsim::scenarios::SectionReader reader(node, key.section,
                                            memsim::scenarios::keys_of(key.section), diagnostics);
    memsim::strategies::Plan plan;
    memsim::scenarios::read_table_keys(reader, key.section, plan);
    CHECK(diagnostics.empty());
    CHECK(key.number(plan) == expected);
    memsim::strategies::Plan copied;
    key.copy(copied, plan);
    CHECK(key.number(copied) == expected);
    read.push_back(key.key);
  }
  // The keys of every section the table reads, one of each kind.
  for (const char* key :
       {"hardware.nodes", "hardware.compute_efficiency", "hardware.cpu_memory_per_node",
        "training.seq_len", "training.loss_chunks", "training.activation_offload.prefetch",
        "inference.kv_block", "parallel.tp", "parallel.sequence_parallel", "parallel.zero",
        "overhead.cuda_context", "overhead.allocator_reserve", "precision.recipe",
        "precision.gradients", "precision.activations", "checkpointing.selective.save"}) {
    CAPTURE(key);
    CHECK(std::find(read.begin(), read.end(), key) != read.end());
  }
}

TEST_CASE("a mapping key reads a shorthand word, its own keys, and words for integers") {
  using memsim::strategies::ActivationOffload;
  auto read = [](const std::string& value) {
    const auto node = memsim::scenarios::parse_yaml("activation_offload: " + value, "test.yaml");
    memsim::scenarios::Diagnostics diagnostics;
    memsim::scenarios::SectionReader reader(node, "training",
                                            memsim::scenarios::keys_of("training"), diagnostics);
    memsim::strategies::Plan plan;
    memsim::scenarios::read_table_keys(reader, "training", plan);
    CHECK(diagnostics.empty());
    return plan.training.chunk_passes.activation_offload;
  };
  const int64_t all = memsim::strategies::kEveryLayer;
  CHECK(read("all") == ActivationOffload{all, 1});
  CHECK(read("none") == ActivationOffload{0, 1});
  CHECK(read("{layers: 3}") == ActivationOffload{3, 1});
  CHECK(read("{layers: all, prefetch: 0}") == ActivationOffload{all, 0});
}
