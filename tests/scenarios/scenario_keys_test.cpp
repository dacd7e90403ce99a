#include "scenarios/scenario_keys.h"

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

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
