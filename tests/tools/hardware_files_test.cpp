// GPU profile files at start-up: ./hardware/*.yaml, then what MEMSIM_HARDWARE lists; what
// `memsim hardware` shows of them, and how bad files are reported (file:line:col, exit 2).

#include "tools/hardware_files.h"

#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "scenarios/diagnostics.h"
#include "support/test_support.h"

namespace {

using memsim::testing::run_memsim;
using memsim::testing::write_temp_file;

/// `text` with its first `from` replaced by `to`.
std::string with(std::string text, const std::string& from, const std::string& to) {
  return text.replace(text.find(from), from.size(), to);
}

}  // namespace

TEST_CASE("profile files come from the local folder, then MEMSIM_HARDWARE in order") {
  const std::string b = write_temp_file("hardware_files/dir/b.yaml", "");
  const std::string a = write_temp_file("hardware_files/dir/a.yaml", "");
  write_temp_file("hardware_files/dir/notes.txt", "");
  const std::string single = write_temp_file("hardware_files/single.yml", "");
  const std::string local = write_temp_file("hardware_files/local/x.yaml", "");
  const std::string dir = std::filesystem::path(a).parent_path().string();
  const std::string local_dir = std::filesystem::path(local).parent_path().string();
  CHECK(memsim::tools::hardware_files(local_dir, single + "::" + dir + ":") ==
        std::vector<std::string>{local, single, a, b});
  CHECK(memsim::tools::hardware_files(dir + "/missing", "").empty());
  const auto missing = memsim::testing::diagnostics_of(
      [&] { memsim::tools::hardware_files(local_dir, dir + "/missing"); });
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].where.file == dir + "/missing");
}

TEST_CASE("MEMSIM_HARDWARE replaces a profile and adds one, for every command") {
  const std::string file = write_temp_file(
      "hardware_files/user.yaml", "gpus:\n" + memsim::testing::gpu_profile_yaml("a100-80gb", 1000) +
                                      "    cloud_usd_per_hour: 9.5\n" +
                                      memsim::testing::gpu_profile_yaml("test-gpu-64gb", 65536));
  const auto result = run_memsim({"hardware", "--format", "json"}, file);
  REQUIRE(result.exit_code == 0);
  const auto gpus = nlohmann::json::parse(result.out);
  REQUIRE(gpus.size() == 11);
  CHECK(gpus[1]["name"] == "a100-80gb");
  CHECK(gpus[1]["capacity_bytes"] == 1000LL << 20);
  CHECK(gpus[1]["cloud_usd_per_hour"] == 9.5);
  CHECK(gpus[1]["purchase_usd"].is_null());
  CHECK(gpus[10]["name"] == "test-gpu-64gb");
  CHECK(gpus[10]["capacity_bytes"] == 65536LL << 20);

  const std::string scenario = write_temp_file(
      "hardware_files/scenario.yaml",
      "model: gpt2-124m\nhardware: {gpu: test-gpu-64gb}\ntraining: {seq_len: 128}\n");
  CHECK(run_memsim({"check", scenario}, file).exit_code == 0);
  const auto without = run_memsim({"check", scenario});
  CHECK(without.exit_code == 2);
  CHECK(without.err.find("unknown GPU 'test-gpu-64gb'") != std::string::npos);
}

TEST_CASE("bad GPU profile files are errors at their file, line and column, exit 2") {
  const std::string valid = memsim::testing::gpu_profile_yaml("x", 1000);
  struct Case {
    std::string what;
    std::string text;
    std::string expected;  ///< after the file name
  };
  const Case cases[] = {
      {"malformed YAML", "gpus:\n  - {name: x\n", ":3:1: error: "},
      {"not a mapping", "- a\n", ":1:1: error: a GPU profile file is a mapping"},
      {"gpus not a list", "gpus: {name: x}\n", ":1:7: error: gpus = a mapping: expected a list"},
      {"missing key", "gpus:\n  - name: x\n    memory_mib: 1\n",
       ":2:5: error: x.bf16_tflops is missing"},
      {"unknown key", "gpus:\n" + valid + "    memory_mb: 5\n",
       ":11:5: error: unknown key 'x.memory_mb'; did you mean 'x.memory_mib'?"},
      {"wrong type", "gpus:\n" + valid + "    purchase_usd: cheap\n",
       ":11:19: error: x.purchase_usd = cheap: expected a number"},
      {"a list for a number", "gpus:\n" + valid + "    source: [a, b]\n",
       ":11:13: error: x.source = a list: expected a single value"},
      {"zero rate", "gpus:\n" + with(valid, "hbm_gb_s: 1000", "hbm_gb_s: 0.0"),
       ":6:15: error: x.hbm_gb_s = 0.0: expected a positive number"},
      {"negative memory", "gpus:\n" + memsim::testing::gpu_profile_yaml("y", -5),
       ":4:17: error: y.memory_mib = -5: expected a positive whole number"},
      {"negative price", "gpus:\n" + valid + "    cloud_usd_per_hour: -1\n",
       ":11:25: error: x.cloud_usd_per_hour = -1: expected a number from 0 to"},
      {"duplicate name", "gpus:\n" + valid + memsim::testing::gpu_profile_yaml("x", 2000),
       ":11:11: error: duplicate GPU 'x' (first at line 2)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string file = write_temp_file("hardware_files/bad.yaml", c.text);
    const auto result = run_memsim({"hardware"}, file);
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CAPTURE(result.err);
    CHECK(result.err.rfind(file, 0) == 0);
    CHECK(result.err.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("a MEMSIM_HARDWARE entry that does not exist is an error, exit 2") {
  const std::string missing = memsim::testing::source_path("no/such/hardware.yaml");
  const auto result = run_memsim({"hardware"}, missing);
  CHECK(result.exit_code == 2);
  CHECK(result.out.empty());
  CHECK(result.err == missing + ": error: no such file or directory (listed in MEMSIM_HARDWARE)\n");
}
