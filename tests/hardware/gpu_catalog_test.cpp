// The GPU catalog: profiles in order, looked up by name; a profile of a known name replaces
// the old one where it stands, a new name is appended.

#include "hardware/gpu_catalog.h"

#include <doctest/doctest.h>

namespace {

using memsim::hardware::GpuCatalog;
using memsim::hardware::GpuProfile;

GpuProfile profile(const std::string& name, int64_t mib) {
  GpuProfile gpu;
  gpu.name = name;
  gpu.capacity = memsim::sim::kMiB * mib;
  return gpu;
}

}  // namespace

TEST_CASE("a GPU catalog replaces profiles by name in place and appends new names") {
  GpuCatalog catalog;
  catalog.add_or_replace(profile("a", 1));
  catalog.add_or_replace(profile("b", 2));
  catalog.add_or_replace(profile("a", 3));
  catalog.add_or_replace(profile("c", 4));
  CHECK(catalog.names() == std::vector<std::vector<std::string>>{{"a"}, {"b"}, {"c"}});
  REQUIRE(catalog.find("a") != nullptr);
  CHECK(catalog.find("a")->capacity == memsim::sim::kMiB * 3);
  CHECK(catalog.find("c")->capacity == memsim::sim::kMiB * 4);
  CHECK(catalog.find("d") == nullptr);
}

TEST_CASE("gpus() and find_gpu() read the installed catalog") {
  // The test program installs the built-in profiles.
  const GpuCatalog& catalog = memsim::hardware::gpu_catalog();
  CHECK(&memsim::hardware::gpus() == &catalog.profiles());
  CHECK(memsim::hardware::find_gpu("a100-80gb") == catalog.find("a100-80gb"));
  CHECK(memsim::hardware::find_gpu("a100-80gb") != nullptr);
  CHECK(memsim::hardware::find_gpu("no-such-gpu") == nullptr);
}
