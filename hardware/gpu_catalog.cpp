#include "hardware/gpu_catalog.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace memsim::hardware {

namespace {

std::optional<GpuCatalog>& installed() {
  static std::optional<GpuCatalog> catalog;
  return catalog;
}

}  // namespace

const GpuProfile* GpuCatalog::find(std::string_view name) const {
  const auto it = std::find_if(profiles_.begin(), profiles_.end(),
                               [&](const GpuProfile& gpu) { return gpu.name == name; });
  return it == profiles_.end() ? nullptr : &*it;
}

std::vector<std::vector<std::string>> GpuCatalog::names() const {
  std::vector<std::vector<std::string>> names;
  for (const GpuProfile& gpu : profiles_) {
    names.push_back({gpu.name});
    names.back().insert(names.back().end(), gpu.aliases.begin(), gpu.aliases.end());
  }
  return names;
}

void GpuCatalog::add_or_replace(GpuProfile profile) {
  for (GpuProfile& gpu : profiles_) {
    if (gpu.name == profile.name) {
      gpu = std::move(profile);
      return;
    }
  }
  profiles_.push_back(std::move(profile));
}

void install_gpu_catalog(GpuCatalog catalog) {
  installed() = std::move(catalog);
}

const GpuCatalog& gpu_catalog() {
  // Silently empty would turn a missing start-up step into "unknown GPU" errors.
  if (!installed()) throw std::logic_error("no GPU catalog installed");
  return *installed();
}

const std::vector<GpuProfile>& gpus() {
  return gpu_catalog().profiles();
}

const GpuProfile* find_gpu(std::string_view name) {
  return gpu_catalog().find(name);
}

}  // namespace memsim::hardware
