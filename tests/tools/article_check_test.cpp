// docs/article-check.md puts a widely read article's figures next to memsim's: every memsim
// cell, "VALUE (variant · field)", must be what `memsim run scenarios/article-32b.yaml
// --format json` prints for that variant and field.

#include <fstream>
#include <regex>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tools/units_format.h"

namespace {

struct Cell {
  std::string value;  ///< as written: "61.03 GiB", "22323 tokens", "yes"
  std::string variant;
  std::string field;  ///< dotted path into the variant's JSON; numbers index arrays
};

/// The memsim cells of the document's tables (the third column).
std::vector<Cell> memsim_cells(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  static const std::regex row(R"(^\| [^|]+ \| [^|]+ \| (.+?) \((\S+) · (\S+)\) \| .+ \|$)");
  std::vector<Cell> cells;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) cells.push_back({m[1], m[2], m[3]});
  }
  return cells;
}

const nlohmann::json& at_path(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* node = &root;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    node = node->is_array() ? &node->at(std::stoul(part)) : &node->at(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *node;
}

/// A JSON value written the way the document writes it, in the unit the cell uses.
std::string written(const nlohmann::json& value, const std::string& cell) {
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (cell.starts_with("$")) return memsim::tools::format_usd(value.get<double>());
  const std::string unit = cell.substr(cell.find(' ') + 1);
  if (unit == "GiB") return fmt::format("{:.2f} GiB", value.get<double>() / (1 << 30));
  return fmt::format("{} {}", value.get<int64_t>(), unit);
}

}  // namespace

TEST_CASE("docs/article-check.md shows what memsim prints for the article's scenario") {
  const auto cells = memsim_cells(memsim::testing::source_path("docs/article-check.md"));
  REQUIRE(cells.size() >= 20);
  const auto result = memsim::testing::run_memsim(
      {"run", memsim::testing::source_path("scenarios/article-32b.yaml"), "--format", "json"});
  REQUIRE(result.exit_code == 0);
  const auto report = nlohmann::json::parse(result.out);
  // Prices name a GPU profile instead of a variant: `memsim hardware --format json`.
  const auto listed = memsim::testing::run_memsim({"hardware", "--format", "json"});
  REQUIRE(listed.exit_code == 0);
  const auto profiles = nlohmann::json::parse(listed.out);
  for (const Cell& cell : cells) {
    CAPTURE(cell.variant);
    CAPTURE(cell.field);
    const nlohmann::json* variant = nullptr;
    for (const auto& v : report["variants"]) {
      if (v["name"] == cell.variant) variant = &v;
    }
    for (const auto& gpu : profiles) {
      if (gpu["name"] == cell.variant) variant = &gpu;
    }
    REQUIRE(variant != nullptr);
    CHECK(written(at_path(*variant, cell.field), cell.value) == cell.value);
  }
}
