// The JSON report and the timeline CSV agree with each other and with SPEC.md.

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace {

const char* kScenario = "scenarios/llama2-7b-finetune-1gpu.yaml";

struct CsvPeak {
  int64_t max_live = 0;
  int64_t rows = 0;
};

/// The largest live_bytes per rank, checking each row's live_bytes = previous + delta.
std::map<int64_t, CsvPeak> csv_peaks(const std::string& csv) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  CHECK(line == "rank,t_s,phase,microbatch,layer,category,delta_bytes,live_bytes,ranks");
  std::map<int64_t, CsvPeak> peaks;
  std::map<int64_t, int64_t> live;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');)
      f.push_back(cell);
    if (line.back() == ',') f.emplace_back();
    REQUIRE(f.size() == 9);
    const int64_t rank = std::stoll(f[0]);
    live[rank] += std::stoll(f[6]);
    CHECK(live[rank] == std::stoll(f[7]));
    peaks[rank].max_live = std::max<int64_t>(peaks[rank].max_live, std::stoll(f[7]));
    ++peaks[rank].rows;
  }
  return peaks;
}

}  // namespace

TEST_CASE("at_peak categories add up to peak_bytes in the JSON report") {
  const auto result = memsim::testing::run_memsim({"run", kScenario, "--format", "json"});
  REQUIRE(result.exit_code == 0);
  const auto doc = nlohmann::json::parse(result.out);
  CHECK(doc["memsim_version"] == MEMSIM_VERSION);
  REQUIRE(doc["variants"].size() == 8);
  for (const auto& variant : doc["variants"]) {
    CAPTURE(variant["name"]);
    int64_t largest = 0;
    for (const auto& rank : variant["ranks"]) {
      int64_t sum = 0;
      for (const auto& [category, bytes] : rank["at_peak"].items())
        sum += bytes.get<int64_t>();
      CHECK(sum == rank["peak_bytes"].get<int64_t>());
      CHECK(rank["at_peak"].size() == 8);
      CHECK(rank["max_by_category"].size() == 8);
      largest = std::max(largest, rank["peak_bytes"].get<int64_t>());
    }
    CHECK(variant["peak_bytes"].get<int64_t>() == largest);
    CHECK(variant["fits"] == (largest <= variant["capacity_bytes"].get<int64_t>()));
    // As the driver reports them: A100-40GB 40,960 MiB (formulas.md §6), RTX 4090 24,564 MiB.
    const bool rtx4090 = variant["name"].get<std::string>().rfind("4090:", 0) == 0;
    CHECK(variant["capacity_bytes"] == (rtx4090 ? 25'757'220'864 : 42'949'672'960));
  }
}

TEST_CASE("the timeline CSV's largest live_bytes equals peak_bytes") {
  for (const char* variant : {"base", "full-ckpt"}) {
    CAPTURE(variant);
    const auto report =
        memsim::testing::run_memsim({"run", kScenario, "--variant", variant, "--format", "json"});
    const auto csv = memsim::testing::run_memsim({"timeline", kScenario, "--variant", variant});
    REQUIRE(report.exit_code == 0);
    REQUIRE(csv.exit_code == 0);
    const auto doc = nlohmann::json::parse(report.out);
    const auto peaks = csv_peaks(csv.out);
    REQUIRE(peaks.count(0) == 1);
    CHECK(peaks.at(0).max_live == doc["variants"][0]["ranks"][0]["peak_bytes"].get<int64_t>());
  }
}

TEST_CASE("--fail-if-oom exits 3 when a variant does not fit, 0 otherwise") {
  CHECK(memsim::testing::run_memsim({"run", kScenario, "--fail-if-oom"}).exit_code == 3);
  CHECK(memsim::testing::run_memsim(
            {"run", kScenario, "--variant", "offload-opt+ckpt", "--fail-if-oom"})
            .exit_code == 0);
  CHECK(memsim::testing::run_memsim({"run", kScenario}).exit_code == 0);  // not fitting is a result
}

TEST_CASE("-o writes the file atomically and prints nothing") {
  const std::string path = memsim::testing::write_temp_file("out/report.json", "old");
  const auto result =
      memsim::testing::run_memsim({"run", kScenario, "--format", "json", "-o", path});
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  std::ifstream in(path);
  CHECK_NOTHROW(nlohmann::json::parse(in));
  CHECK(memsim::testing::run_memsim({"run", kScenario, "-o", "/no/such/dir/x.json"}).exit_code ==
        2);
}

TEST_CASE("memsim models lists every preset with its exact parameter count") {
  const auto result = memsim::testing::run_memsim({"models", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  const auto doc = nlohmann::json::parse(result.out);
  std::map<std::string, int64_t> counts;
  for (const auto& m : doc)
    counts[m["name"]] = m["parameters"];
  CHECK(counts.at("qwen2.5-32b") == 32'763'876'352);
  CHECK(counts.at("gpt3-175b") == 174'604'259'328);
  CHECK(counts.at("gpt2-124m") == 124'439'808);
  const auto table = memsim::testing::run_memsim({"models"});
  CHECK(table.out.find("70553706496") != std::string::npos);
}

TEST_CASE("memsim hardware lists capacities as the driver reports them") {
  const auto result = memsim::testing::run_memsim({"hardware", "--format", "json"});
  REQUIRE(result.exit_code == 0);
  std::map<std::string, int64_t> capacity;
  for (const auto& g : nlohmann::json::parse(result.out))
    capacity[g["name"]] = g["capacity_bytes"];
  // formulas.md §6, in MiB.
  CHECK(capacity.at("a100-40gb") == 40'960LL << 20);
  CHECK(capacity.at("a100-80gb") == 81'920LL << 20);
  CHECK(capacity.at("h100-80gb") == 81'559LL << 20);
  CHECK(capacity.at("h200-141gb") == 143'771LL << 20);
}

TEST_CASE("memsim hardware lists prices, unknown as null or '-'") {
  const auto json = memsim::testing::run_memsim({"hardware", "--format", "json"});
  REQUIRE(json.exit_code == 0);
  const auto gpus = nlohmann::json::parse(json.out);
  REQUIRE(gpus.size() == 10);
  CHECK(gpus[1]["name"] == "a100-80gb");
  CHECK(gpus[1]["purchase_usd"] == 18549.0);
  CHECK(gpus[1]["cloud_usd_per_hour"] == 3.431);
  CHECK(gpus[3]["name"] == "h100-pcie-80gb");
  CHECK(gpus[3]["purchase_usd"].is_null());
  const auto table = memsim::testing::run_memsim({"hardware"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("buy_USD") != std::string::npos);
  CHECK(table.out.find("cloud_USD/h") != std::string::npos);
  const auto csv = memsim::testing::run_memsim({"hardware", "--format", "csv"});
  CHECK(csv.out.find("\nh100-pcie-80gb,81559,756.5,2000,,3.29,") != std::string::npos);
}

TEST_CASE("memsim check prints only ok lines") {
  const auto result = memsim::testing::run_memsim({"check", kScenario});
  CHECK(result.exit_code == 0);
  std::istringstream lines(result.out);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count)
    CHECK(line.rfind("ok ", 0) == 0);
  CHECK(count == 8);  // the base and 7 variants
  CHECK(result.err.empty());
}

TEST_CASE("the run CSV puts the variants side by side, with the JSON report's figures") {
  const auto csv = memsim::testing::run_memsim({"run", kScenario, "--format", "csv"});
  const auto json = memsim::testing::run_memsim({"run", kScenario, "--format", "json"});
  REQUIRE(csv.exit_code == 0);
  const auto doc = nlohmann::json::parse(json.out);
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream lines(csv.out);
  std::vector<std::string> header;
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> cells;
    std::istringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');)
      cells.push_back(cell);
    if (header.empty()) {
      header = cells;
    } else {
      rows[cells.front()] = std::vector<std::string>(cells.begin() + 1, cells.end());
    }
  }
  REQUIRE(header.size() == doc["variants"].size() + 1);
  CHECK(header.front() == "metric");
  for (size_t i = 0; i < doc["variants"].size(); ++i) {
    const auto& v = doc["variants"][i];
    CAPTURE(v["name"]);
    CHECK(header[i + 1] == v["name"]);
    CHECK(rows["peak_bytes"][i] == std::to_string(v["peak_bytes"].get<int64_t>()));
    CHECK(rows["fits"][i] == (v["fits"].get<bool>() ? "true" : "false"));
    CHECK(rows["at_peak.optimizer"][i] == std::to_string(v["at_peak"]["optimizer"].get<int64_t>()));
    CHECK(rows["cpu_bytes_per_node"][i] == std::to_string(v["cpu_bytes_per_node"].get<int64_t>()));
    CHECK(std::stod(rows["step_time_s"][i]) == v["step_time_s"].get<double>());
  }
}

namespace {

/// The display width of the widest line of `text`.
size_t widest(const std::string& text) {
  size_t width = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    width = std::max<size_t>(width, std::count_if(line.begin(), line.end(), [](char c) {
                               return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
                             }));
  }
  return width;
}

}  // namespace

TEST_CASE("run fits the terminal: a row per variant when side by side is too wide") {
  const std::string flagship = memsim::testing::source_path("scenarios/deepseek-32b-4xa100.yaml");
  const auto narrow = memsim::testing::run_shell("COLUMNS=120 \"$MEMSIM\" run " + flagship);
  REQUIRE(narrow.exit_code == 0);
  CHECK(widest(narrow.out) <= 120);
  CHECK(narrow.out.find("variant                   layout") != std::string::npos);
  CHECK(narrow.out.find("Breakdown of zero3-bf16-adam8bit+ckpt (the fastest variant that fits)") !=
        std::string::npos);
  // Not a terminal and no COLUMNS: 100 characters.
  CHECK(widest(memsim::testing::run_memsim({"run", flagship}).out) <= 100);
  // --wide: every variant side by side, as wide as it takes.
  const auto wide = memsim::testing::run_memsim({"run", flagship, "--wide"});
  CHECK(widest(wide.out) > 400);
  CHECK(wide.out.find("Ranks of tp4-sp:") != std::string::npos);
  // One variant is its full breakdown.
  const auto one = memsim::testing::run_memsim({"run", flagship, "--variant", "tp4-sp"});
  CHECK(one.out.find("  master_weights") != std::string::npos);
  CHECK(one.out.find("Breakdown of") == std::string::npos);
}

TEST_CASE("every table for people fits 100 columns: models, hardware, sweep, fit, run") {
  for (const std::string command :
       {"models", "hardware", "hardware --for scenarios/article-32b.yaml",
        "hardware --for scenarios/llama3-405b-512xh100.yaml",
        "sweep scenarios/llama3-70b-64xh100.yaml --format table",
        "fit scenarios/llama2-7b-finetune-1gpu.yaml --maximize training.micro_batch",
        "run scenarios/llama3-70b-serving-8xh100.yaml", "run scenarios/article-32b.yaml",
        "run scenarios/gpt3-175b-megatron-64xa100.yaml"}) {
    CAPTURE(command);
    const auto result = memsim::testing::run_shell("\"$MEMSIM\" " + command + " 2>/dev/null");
    CHECK(result.exit_code == 0);
    CHECK(widest(result.out) <= 100);
  }
}

TEST_CASE("run --format html is one page that stands alone: summary, verdicts, plots") {
  const auto result = memsim::testing::run_memsim(
      {"run", "scenarios/deepseek-32b-4xa100.yaml", "--format", "html"});
  REQUIRE(result.exit_code == 0);
  const std::string& html = result.out;
  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(html.ends_with("</html>\n"));
  const auto count = [&](const std::string& part) {
    size_t n = 0;
    for (size_t at = html.find(part); at != std::string::npos; at = html.find(part, at + 1))
      ++n;
    return n;
  };
  CHECK(count("<svg") == 10);  // a plot a variant
  CHECK(count("<h3>") == 10);
  CHECK(count("<script") == 0);  // nothing runs, nothing is fetched
  CHECK(count("src=") == 0);
  CHECK(count("href=") == 0);
  CHECK(count("<link") == 0);
  CHECK(html.find("base: does not fit.") != std::string::npos);
  CHECK(html.find("<code>--set ") != std::string::npos);  // how to make it fit
  CHECK(html.find(">zero3-bf16-adam8bit+ckpt</th>") != std::string::npos);
  CHECK(count("<table>") == count("</table>"));
}

TEST_CASE("the layout names how ZeRO-3 gathers: by module under DeepSpeed's coordinator") {
  const auto json = memsim::testing::run_memsim({"run", "scenarios/deepseek-32b-4xa100.yaml",
                                                 "--format", "json", "--set",
                                                 "framework=deepspeed"});
  REQUIRE(json.exit_code == 0);
  const auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["variants"][0]["zero"] == 3);
  CHECK(doc["variants"][0]["gather"] == "modules");
  const auto table = memsim::testing::run_memsim(
      {"run", "scenarios/deepseek-32b-4xa100.yaml", "--set", "framework=deepspeed"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("ZeRO-3 by module") != std::string::npos);
  const auto plain = memsim::testing::run_memsim({"run", "scenarios/deepseek-32b-4xa100.yaml"});
  CHECK(plain.out.find("by module") == std::string::npos);
}
