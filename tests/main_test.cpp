#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "hardware/gpu_catalog.h"
#include "scenarios/hardware_reader.h"

// The tests see the built-in GPU profiles only, never profile files of the machine they run on.
int main(int argc, char** argv) {
  memsim::hardware::install_gpu_catalog(memsim::scenarios::builtin_gpu_catalog());
  return doctest::Context(argc, argv).run();
}
