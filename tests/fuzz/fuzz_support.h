#pragma once
// What every fuzz harness shares: the built-in GPU profiles, and the errors that bad input
// may end in. Any other exception, a crash, a sanitizer report or a hang is a finding.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "hardware/gpu_catalog.h"
#include "scenarios/diagnostics.h"
#include "scenarios/hardware_reader.h"
#include "sim/units.h"

namespace memsim::fuzz {

inline void install_builtin_gpus() {
  hardware::install_gpu_catalog(scenarios::builtin_gpu_catalog());
}

inline std::string text_of(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// Runs `read`; a clear input error is what bad input must end in.
inline void expect_input_errors_only(const std::function<void()>& read) {
  try {
    read();
  } catch (const scenarios::InputError&) {
  } catch (const sim::OverflowError&) {
  }
}

}  // namespace memsim::fuzz
