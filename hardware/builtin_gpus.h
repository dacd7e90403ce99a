#pragma once
/// The built-in GPU profiles: hardware/gpus.yaml as it was at build time, compiled in so that
/// memsim needs no files to run. scenarios/hardware_reader.h parses it.

#include <string_view>

namespace memsim::hardware {

std::string_view builtin_gpus_yaml();

}  // namespace memsim::hardware
