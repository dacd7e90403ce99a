// GPU profile files: the built-in set is hardware/gpus.yaml exactly, with the numbers memsim
// has always simulated with; user files replace and add profiles.

#include "scenarios/hardware_reader.h"

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "support/test_support.h"

namespace {

using memsim::hardware::GpuProfile;
using memsim::sim::kGiB;
using memsim::sim::kMiB;

constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;

}  // namespace

TEST_CASE("the built-in GPU profiles are what hardware/gpus.yaml holds") {
  const auto from_file =
      memsim::scenarios::read_gpu_file(memsim::testing::source_path("hardware/gpus.yaml"));
  const auto& built_in = memsim::scenarios::builtin_gpu_catalog().profiles();
  REQUIRE(built_in.size() == from_file.size());
  for (size_t i = 0; i < built_in.size(); ++i) {
    CAPTURE(built_in[i].name);
    CHECK(built_in[i] == from_file[i]);
  }
}

TEST_CASE("the built-in GPU profiles keep their numbers to the bit") {
  struct Expected {
    const char* name;
    int64_t mib;
    double flop_per_s, hbm, intra, inter, host;
    int64_t host_gib;
  };
  // The values memsim's simulations were calibrated with, as they were written in C++.
  const Expected expected[] = {
      {"a100-40gb", 40960, 312 * kTera, 1555 * kGiga, 300 * kGiga, 25 * kGiga, 32 * kGiga, 1024},
      {"a100-80gb", 81920, 312 * kTera, 2039 * kGiga, 300 * kGiga, 25 * kGiga, 32 * kGiga, 2048},
      {"h100-80gb", 81559, 989.4 * kTera, 3350 * kGiga, 450 * kGiga, 50 * kGiga, 64 * kGiga, 2048},
      {"h100-pcie-80gb", 81559, 756.5 * kTera, 2000 * kGiga, 64 * kGiga, 50 * kGiga, 64 * kGiga,
       1024},
      {"h200-141gb", 143771, 989 * kTera, 4800 * kGiga, 450 * kGiga, 50 * kGiga, 64 * kGiga, 2048},
      {"b200-180gb", 183359, 2250 * kTera, 8000 * kGiga, 900 * kGiga, 50 * kGiga, 64 * kGiga, 4096},
      {"l40s-48gb", 46068, 362.05 * kTera, 864 * kGiga, 32 * kGiga, 25 * kGiga, 32 * kGiga, 1024},
      {"l4-24gb", 23034, 121 * kTera, 300 * kGiga, 32 * kGiga, 12.5 * kGiga, 32 * kGiga, 256},
      {"rtx4090-24gb", 24564, 165.2 * kTera, 1008 * kGiga, 32 * kGiga, 12.5 * kGiga, 32 * kGiga,
       128},
      {"v100-32gb", 32510, 125 * kTera, 900 * kGiga, 150 * kGiga, 12.5 * kGiga, 16 * kGiga, 1536},
  };
  const auto& catalog = memsim::scenarios::builtin_gpu_catalog();
  REQUIRE(catalog.profiles().size() == std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    const Expected& e = expected[i];
    const GpuProfile& gpu = catalog.profiles()[i];
    CAPTURE(e.name);
    CHECK(gpu.name == e.name);
    CHECK(gpu.capacity == kMiB * e.mib);
    CHECK(gpu.peak_16bit_flop_per_s == e.flop_per_s);
    CHECK(gpu.memory_bandwidth_bytes_per_s == e.hbm);
    CHECK(gpu.intra_node_bytes_per_s == e.intra);
    CHECK(gpu.inter_node_bytes_per_s == e.inter);
    CHECK(gpu.host_link_bytes_per_s == e.host);
    CHECK(gpu.cpu_memory_per_node == kGiB * e.host_gib);
    CHECK_FALSE(gpu.description.empty());
    CHECK_FALSE(gpu.source.empty());
  }
}

TEST_CASE("the built-in GPU profiles carry their prices, 0 where none was found") {
  const auto& catalog = memsim::scenarios::builtin_gpu_catalog();
  const GpuProfile& a100 = *catalog.find("a100-80gb");
  CHECK(a100.capacity == kMiB * 81920);
  CHECK(a100.capacity.value() == 85'899'345'920);
  CHECK(a100.peak_16bit_flop_per_s == 312e12);
  CHECK(a100.purchase_usd == 18549);
  CHECK(a100.cloud_usd_per_hour == 3.431);
  const GpuProfile& h100 = *catalog.find("h100-80gb");
  CHECK(h100.capacity == kMiB * 81559);
  CHECK(h100.peak_16bit_flop_per_s == 989.4e12);
  CHECK(h100.purchase_usd == 27500);
  CHECK(h100.cloud_usd_per_hour == 6.88);
  CHECK(catalog.find("h200-141gb")->purchase_usd == 0);
  CHECK(catalog.find("h200-141gb")->cloud_usd_per_hour == 7.912);
  CHECK(catalog.find("rtx4090-24gb")->purchase_usd == 1599);
}

TEST_CASE("user GPU files replace profiles by name and add new ones, later files winning") {
  const std::string first = memsim::testing::write_temp_file(
      "hardware_reader/first.yaml",
      "gpus:\n" + memsim::testing::gpu_profile_yaml("a100-80gb", 1000) +
          memsim::testing::gpu_profile_yaml("test-gpu", 2000) + "    purchase_usd: 1234.5\n");
  const std::string second = memsim::testing::write_temp_file(
      "hardware_reader/second.yaml",
      "gpus:\n" + memsim::testing::gpu_profile_yaml("test-gpu", 3000));
  const auto catalog = memsim::scenarios::load_gpu_catalog({first, second});
  const auto& built_in = memsim::scenarios::builtin_gpu_catalog();
  REQUIRE(catalog.profiles().size() == built_in.profiles().size() + 1);
  CHECK(catalog.profiles()[1].name == "a100-80gb");
  CHECK(catalog.profiles()[1].capacity == kMiB * 1000);
  CHECK(catalog.profiles()[1].purchase_usd == 0);  // replaced whole, not merged
  CHECK(catalog.profiles().back().name == "test-gpu");
  CHECK(catalog.profiles().back().capacity == kMiB * 3000);
  CHECK(*catalog.find("h100-80gb") == *built_in.find("h100-80gb"));
}

TEST_CASE("problems in several GPU files are reported together") {
  const std::string a = memsim::testing::write_temp_file("hardware_reader/bad_a.yaml", "gpus: 5\n");
  const std::string b = memsim::testing::write_temp_file("hardware_reader/bad_b.yaml", "gpu: []\n");
  const auto diagnostics = memsim::testing::diagnostics_of([&] {
    memsim::scenarios::load_gpu_catalog({a, b});
  });
  REQUIRE(diagnostics.size() >= 2);
  CHECK(diagnostics.front().where.file == a);
  CHECK(diagnostics.back().where.file == b);
}

TEST_CASE("docs/hardware.md's example profile file reads") {
  std::ifstream in(memsim::testing::source_path("docs/hardware.md"));
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  const size_t start = text.find("```yaml\n");
  REQUIRE(start != std::string::npos);
  const size_t end = text.find("```\n", start + 8);
  const std::string file = memsim::testing::write_temp_file(
      "hardware_reader/doc.yaml", text.substr(start + 8, end - start - 8));
  const auto profiles = memsim::scenarios::read_gpu_file(file);
  REQUIRE(profiles.size() == 1);
  CHECK(profiles[0].cloud_usd_per_hour == 4.5);
}
