// README.md shows real output: every fenced block announced by
// `<!-- output of: memsim ARGS -->` must be exactly what the built binary prints.

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

struct ShownOutput {
  std::vector<std::string> args;
  std::string text;
};

std::vector<ShownOutput> shown_outputs(const std::string& path) {
  std::ifstream in(path);
  std::vector<ShownOutput> shown;
  const std::string marker = "<!-- output of: memsim ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(marker, 0) != 0) continue;
    ShownOutput entry;
    std::istringstream words(line.substr(marker.size(), line.rfind(" -->") - marker.size()));
    for (std::string word; words >> word;)
      entry.args.push_back(word);
    std::getline(in, line);
    REQUIRE(line.rfind("```", 0) == 0);
    while (std::getline(in, line) && line.rfind("```", 0) != 0)
      entry.text += line + "\n";
    shown.push_back(std::move(entry));
  }
  return shown;
}

}  // namespace

TEST_CASE("README.md's example outputs are what memsim prints") {
  const auto shown = shown_outputs(memsim::testing::source_path("README.md"));
  CHECK(!shown.empty());
  for (const ShownOutput& entry : shown) {
    std::string command;
    for (const auto& a : entry.args)
      command += a + " ";
    CAPTURE(command);
    const auto result = memsim::testing::run_memsim(entry.args);
    CHECK(result.exit_code == 0);
    CHECK(result.out == entry.text);
  }
}
