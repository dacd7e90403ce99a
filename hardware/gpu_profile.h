#pragma once
/// A GPU profile: memory as the driver reports it, compute and bandwidth for the time model,
/// and what the GPU costs. The profiles themselves are data (hardware/gpus.yaml, and the
/// user's files; see hardware/gpu_catalog.h); every number names its source there.

#include <string>
#include <vector>

#include "sim/units.h"

namespace memsim::hardware {

struct GpuProfile {
  std::string name;                           ///< e.g. "a100-80gb"
  std::vector<std::string> aliases;           ///< other names people use, e.g. "h100"
  std::string description;                    ///< e.g. "NVIDIA A100 80GB SXM"
  sim::Bytes capacity;                        ///< total memory as nvidia-smi reports it
  double peak_16bit_flop_per_s = 0.0;         ///< dense bf16/fp16 tensor cores
  double memory_bandwidth_bytes_per_s = 0.0;  ///< HBM/GDDR
  double intra_node_bytes_per_s = 0.0;        ///< GPU to GPU in a node, per direction
  double inter_node_bytes_per_s = 0.0;        ///< network per GPU, per direction
  double host_link_bytes_per_s = 0.0;         ///< GPU to host (PCIe), per direction
  sim::Bytes cpu_memory_per_node;             ///< host memory of a typical node
  std::string source;                         ///< where the numbers come from
  double purchase_usd = 0.0;                  ///< US dollars for one GPU; 0 if unknown
  double cloud_usd_per_hour = 0.0;            ///< US dollars per GPU-hour on demand; 0 if unknown

  bool operator==(const GpuProfile&) const = default;
};

}  // namespace memsim::hardware
