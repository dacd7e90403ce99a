#pragma once
/// GPU profile files (docs/hardware.md): a `gpus:` list of profiles whose keys name their
/// units. Bad input is an InputError that points at the file, line and column.

#include <string>
#include <vector>

#include "hardware/gpu_catalog.h"

namespace memsim::scenarios {

/// The profiles in the file at `path`, in file order.
std::vector<hardware::GpuProfile> read_gpu_file(const std::string& path);

/// The profiles compiled into memsim from hardware/gpus.yaml, parsed on first use.
const hardware::GpuCatalog& builtin_gpu_catalog();

/// The built-in profiles with those of `files` on top, read in order: a profile replaces the
/// one of the same name read before it, a new name is appended. Every file's problems are
/// reported together.
hardware::GpuCatalog load_gpu_catalog(const std::vector<std::string>& files);

}  // namespace memsim::scenarios
