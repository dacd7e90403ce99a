// A sweep's rows as text: each row's swept values as the scenario wrote them (the variant
// first when there are several, dp: auto as resolved), then its results, in CSV and JSON
// Lines, whether rows come in runs of the last axis or jump about the grid.

#include "tools/sweep_rows.h"

#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace {

using memsim::tools::Row;
using memsim::tools::RowWriter;
using memsim::tools::SweepFormat;

const char* kScenario = R"(name: rows
model: {layers: 4, hidden: 512, heads: 8, kv_heads: 2, ffn: 1536, vocab: 1024}
hardware: {gpu: a100-40gb, gpus_per_node: 8}
training: {seq_len: 2048, micro_batch: 1, global_batch: 64}
parallel: {dp: auto}
compare:
  - {name: "first, quoted"}
  - {name: second}
sweep:
  checkpointing: [none, {full: {every: 2}}]
  parallel.tp: [1, 2, 4]
)";

/// A row of made-up results: each field different, so each lands in its own column.
Row row_at(size_t variant, uint64_t point, int64_t dp, double seed) {
  Row row;
  row.variant = variant;
  row.point = point;
  row.dp = dp;
  row.result.fits = point % 2 == 0;
  row.result.peak = memsim::sim::Bytes(1000 + static_cast<int64_t>(point));
  row.result.step_time_s = 1.5 + seed;
  row.result.bubble_fraction = 0.125 * seed;
  row.result.tokens_per_s = 1e5 / (1.5 + seed);
  row.result.model_flops_utilization = 0.4 + seed / 7;
  row.result.cpu_bytes_per_node = memsim::sim::Bytes(static_cast<int64_t>(point) * 3);
  return row;
}

/// What the row should read, from the scenario's labels and fmt's own formatting.
std::string expected_csv(const std::vector<memsim::scenarios::VariantSweep>& sweeps,
                         const Row& row) {
  const auto& sweep = sweeps[row.variant].sweep;
  std::vector<size_t> at;
  sweep.coordinates(row.point, at);
  std::string text;
  if (sweeps.size() > 1) {
    const std::string& name = sweeps[row.variant].name;
    text += name.find(',') != std::string::npos ? "\"" + name + "\"," : name + ",";
  }
  for (size_t a = 0; a < at.size(); ++a) {
    const std::string& label = sweep.axes()[a].labels[at[a]];
    const bool dp = label == "auto";
    const bool quote = label.find(',') != std::string::npos;
    text += dp ? std::to_string(row.dp) : quote ? "\"" + label + "\"" : label;
    text += ",";
  }
  const auto& r = row.result;
  return text + fmt::format("{},{},{},{},{},{},{}\n", r.fits, r.peak.value(), r.step_time_s,
                            r.bubble_fraction, r.tokens_per_s, r.model_flops_utilization,
                            r.cpu_bytes_per_node.value());
}

/// Rows in runs of the last axis (some points skipped, as invalid ones are), then jumps
/// about the grid and back, with the values of earlier rows coming back.
std::vector<Row> rows_of(const std::vector<memsim::scenarios::VariantSweep>& sweeps) {
  std::vector<Row> rows;
  for (size_t v = 0; v < sweeps.size(); ++v) {
    for (uint64_t p = 0; p < sweeps[v].sweep.points(); p += p % 4 == 0 ? 2 : 1)
      rows.push_back(row_at(v, p, 8 / int64_t{1 << (p % 3)}, static_cast<double>(p) / 3));
  }
  std::mt19937_64 random(3);
  for (int i = 0; i < 200; ++i) {
    const size_t v = random() % sweeps.size();
    const uint64_t p = random() % sweeps[v].sweep.points();
    rows.push_back(row_at(v, p, 1 + static_cast<int64_t>(random() % 8),
                          static_cast<double>(random() % 5) / 3));
  }
  return rows;
}

/// Every row of rows_of(sweeps), written as CSV, reads as expected_csv says.
void check_csv_rows(const std::vector<memsim::scenarios::VariantSweep>& sweeps) {
  RowWriter writer(sweeps, SweepFormat::kCsv, memsim::tools::UnitSystem::kBinary);
  for (const Row& row : rows_of(sweeps)) {
    CAPTURE(row.variant);
    CAPTURE(row.point);
    fmt::memory_buffer out;
    writer.write(row, out);
    CHECK(fmt::to_string(out) == expected_csv(sweeps, row));
  }
}

}  // namespace

TEST_CASE("CSV rows carry the variant, the swept values as written, then the results") {
  check_csv_rows(memsim::testing::sweeps_from_text(kScenario));
}

TEST_CASE("dp: auto as the last axis shows each row's resolved degree") {
  const auto sweeps =
      memsim::testing::sweeps_from_text(std::string(kScenario) + "  parallel.dp: auto\n");
  REQUIRE(sweeps.front().sweep.axes().back().key == "parallel.dp");
  check_csv_rows(sweeps);
}

TEST_CASE("JSON Lines rows hold the same keys and values as the CSV's columns") {
  // The last axis a number (tp), then dp: auto.
  for (const std::string& more : {std::string(), std::string("  parallel.dp: auto\n")}) {
    const auto sweeps = memsim::testing::sweeps_from_text(kScenario + more);
    RowWriter writer(sweeps, SweepFormat::kJsonLines, memsim::tools::UnitSystem::kBinary);
    const std::vector<std::string> columns = writer.header();
    for (const Row& row : rows_of(sweeps)) {
      CAPTURE(row.point);
      fmt::memory_buffer out;
      writer.write(row, out);
      const std::string text = fmt::to_string(out);
      REQUIRE(text.back() == '\n');
      const nlohmann::ordered_json object = nlohmann::ordered_json::parse(text);  // in order
      std::vector<std::string> keys;
      for (const auto& item : object.items())
        keys.push_back(item.key());
      CHECK(keys == columns);
      CHECK(object["variant"] == sweeps[row.variant].name);
      std::vector<size_t> at;
      sweeps[row.variant].sweep.coordinates(row.point, at);
      const auto& axes = sweeps[row.variant].sweep.axes();
      CHECK(object["checkpointing"] == axes[0].labels[at[0]]);
      CHECK(object["parallel.tp"] == std::stoi(axes[1].labels[at[1]]));
      if (!more.empty()) CHECK(object["parallel.dp"] == row.dp);
      CHECK(object["fits"] == row.result.fits);
      CHECK(object["peak_bytes"] == row.result.peak.value());
      CHECK(object["step_time_s"].get<double>() == row.result.step_time_s);
      CHECK(object["mfu"].get<double>() == row.result.model_flops_utilization);
    }
  }
}
