#pragma once
/// GPU profiles: memory as the driver reports it, compute and bandwidth for the time
/// model. A registry table that `memsim hardware` lists; every number names its source.

#include <string>
#include <string_view>
#include <vector>

#include "sim/units.h"

namespace memsim::hardware {

struct GpuProfile {
  std::string name;                           ///< e.g. "a100-80gb"
  std::string description;                    ///< e.g. "NVIDIA A100 80GB SXM"
  sim::Bytes capacity;                        ///< total memory as nvidia-smi reports it
  double peak_16bit_flop_per_s = 0.0;         ///< dense bf16/fp16 tensor cores
  double memory_bandwidth_bytes_per_s = 0.0;  ///< HBM/GDDR
  double intra_node_bytes_per_s = 0.0;        ///< GPU to GPU in a node, per direction
  double inter_node_bytes_per_s = 0.0;        ///< network per GPU, per direction
  double host_link_bytes_per_s = 0.0;         ///< GPU to host (PCIe), per direction
  sim::Bytes cpu_memory_per_node;             ///< host memory of a typical node
  std::string source;                         ///< where the numbers come from
};

const std::vector<GpuProfile>& builtin_gpus();
const GpuProfile* find_gpu(std::string_view name);

}  // namespace memsim::hardware
