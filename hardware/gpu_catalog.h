#pragma once
/// The GPU profiles memsim knows, by name. A program installs one catalog at start-up (memsim:
/// the built-in profiles with the user's files on top); every lookup reads that one.

#include <string>
#include <string_view>
#include <vector>

#include "hardware/gpu_profile.h"

namespace memsim::hardware {

/// Profiles in the order they were first added; no two share a name.
class GpuCatalog {
 public:
  const std::vector<GpuProfile>& profiles() const { return profiles_; }
  /// The profile called `name`, or nullptr.
  const GpuProfile* find(std::string_view name) const;
  /// Each profile's name, then its aliases (in profiles() order).
  std::vector<std::vector<std::string>> names() const;
  /// Replaces the profile of the same name where it stands, or appends `profile`.
  void add_or_replace(GpuProfile profile);

 private:
  std::vector<GpuProfile> profiles_;
};

/// Makes `catalog` the one that gpu_catalog(), gpus() and find_gpu() read. Called once at
/// start-up, before any lookup: references into the previous catalog do not survive it.
void install_gpu_catalog(GpuCatalog catalog);

/// The installed catalog; std::logic_error when the program installed none.
const GpuCatalog& gpu_catalog();
/// The installed catalog's profiles, in order.
const std::vector<GpuProfile>& gpus();
/// The installed profile called `name`, or nullptr.
const GpuProfile* find_gpu(std::string_view name);

}  // namespace memsim::hardware
