// README.md shows real output: every fenced block announced by
// `<!-- output of: memsim ARGS -->`, and every file announced by
// `<!-- file PATH: memsim ARGS -->`, must be exactly what the built binary prints.

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

struct ShownOutput {
  std::vector<std::string> args;
  std::string text;
  std::string file;  ///< where the text lives, when not in the README itself
};

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;)
    out.push_back(word);
  return out;
}

std::vector<ShownOutput> shown_outputs(const std::string& path) {
  std::ifstream in(path);
  std::vector<ShownOutput> shown;
  const std::string marker = "<!-- output of: memsim ";
  const std::string file_marker = "<!-- file ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(file_marker, 0) == 0) {
      const size_t colon = line.find(": memsim ");
      REQUIRE(colon != std::string::npos);
      ShownOutput entry;
      entry.file = line.substr(file_marker.size(), colon - file_marker.size());
      entry.args = words(line.substr(colon + 9, line.rfind(" -->") - colon - 9));
      std::ifstream content(memsim::testing::source_path(entry.file));
      std::stringstream text;
      text << content.rdbuf();
      entry.text = text.str();
      shown.push_back(std::move(entry));
      continue;
    }
    if (line.rfind(marker, 0) != 0) continue;
    ShownOutput entry;
    entry.args = words(line.substr(marker.size(), line.rfind(" -->") - marker.size()));
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
    CAPTURE(entry.file);
    const auto result = memsim::testing::run_memsim(entry.args);
    CHECK(result.exit_code == 0);
    CHECK(result.out == entry.text);
  }
}
