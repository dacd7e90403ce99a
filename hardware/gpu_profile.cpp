#include "hardware/gpu_profile.h"

namespace memsim::hardware {

namespace {

constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;

sim::Bytes mib(int64_t n) {
  return sim::kMiB * n;
}
sim::Bytes gib(int64_t n) {
  return sim::kGiB * n;
}

}  // namespace

// Capacities are nvidia-smi's "MiB" totals (reference/formulas.md §6 for the A100, H100 and
// H200; public nvidia-smi pastes for the others). Peak FLOP/s are the datasheets' dense
// 16-bit tensor-core figures (without sparsity); link bandwidths are per direction.
// Host links: PCIe Gen3 x16 16 GB/s (V100), Gen4 32 GB/s (A100, L40S, L4, RTX 4090), Gen5
// 64 GB/s (H100, H200, B200). Network: 200 Gb/s HDR InfiniBand per A100 and 400 Gb/s NDR per
// H100/H200/B200 in DGX-style nodes. Host memory per node: DGX A100 320GB 1 TB, DGX A100 640GB, DGX
// H100 and H200 2 TB, DGX B200 up to 4 TB, DGX-2 (V100) 1.5 TB; PCIe servers 1 TB; an L4 server 256
// GiB, an RTX 4090 workstation 128 GiB.
const std::vector<GpuProfile>& builtin_gpus() {
  static const std::vector<GpuProfile> gpus = {
      {.name = "a100-40gb",
       .description = "NVIDIA A100 40GB SXM",
       .capacity = mib(40960),
       .peak_16bit_flop_per_s = 312 * kTera,
       .memory_bandwidth_bytes_per_s = 1555 * kGiga,
       .intra_node_bytes_per_s = 300 * kGiga,
       .inter_node_bytes_per_s = 25 * kGiga,
       .host_link_bytes_per_s = 32 * kGiga,
       .cpu_memory_per_node = gib(1024),
       .source = "NVIDIA A100 datasheet: 312 TFLOP/s bf16 dense, 1,555 GB/s, NVLink3 600 GB/s "
                 "bidirectional"},
      {.name = "a100-80gb",
       .description = "NVIDIA A100 80GB SXM",
       .capacity = mib(81920),
       .peak_16bit_flop_per_s = 312 * kTera,
       .memory_bandwidth_bytes_per_s = 2039 * kGiga,
       .intra_node_bytes_per_s = 300 * kGiga,
       .inter_node_bytes_per_s = 25 * kGiga,
       .host_link_bytes_per_s = 32 * kGiga,
       .cpu_memory_per_node = gib(2048),
       .source = "NVIDIA A100 datasheet: 312 TFLOP/s bf16 dense, 2,039 GB/s, NVLink3 600 GB/s "
                 "bidirectional"},
      {.name = "h100-80gb",
       .description = "NVIDIA H100 80GB SXM",
       .capacity = mib(81559),
       .peak_16bit_flop_per_s = 989.4 * kTera,
       .memory_bandwidth_bytes_per_s = 3350 * kGiga,
       .intra_node_bytes_per_s = 450 * kGiga,
       .inter_node_bytes_per_s = 50 * kGiga,
       .host_link_bytes_per_s = 64 * kGiga,
       .cpu_memory_per_node = gib(2048),
       .source = "NVIDIA H100 datasheet: 989.4 TFLOP/s bf16 dense, 3.35 TB/s, NVLink4 900 GB/s "
                 "bidirectional"},
      {.name = "h100-pcie-80gb",
       .description = "NVIDIA H100 80GB PCIe",
       .capacity = mib(81559),
       .peak_16bit_flop_per_s = 756.5 * kTera,
       .memory_bandwidth_bytes_per_s = 2000 * kGiga,
       .intra_node_bytes_per_s = 64 * kGiga,
       .inter_node_bytes_per_s = 50 * kGiga,
       .host_link_bytes_per_s = 64 * kGiga,
       .cpu_memory_per_node = gib(1024),
       .source = "NVIDIA H100 PCIe datasheet: 756.5 TFLOP/s bf16 dense, 2.0 TB/s, PCIe Gen5 x16"},
      {.name = "h200-141gb",
       .description = "NVIDIA H200 141GB SXM",
       .capacity = mib(143771),
       .peak_16bit_flop_per_s = 989 * kTera,
       .memory_bandwidth_bytes_per_s = 4800 * kGiga,
       .intra_node_bytes_per_s = 450 * kGiga,
       .inter_node_bytes_per_s = 50 * kGiga,
       .host_link_bytes_per_s = 64 * kGiga,
       .cpu_memory_per_node = gib(2048),
       .source = "NVIDIA H200 datasheet: 989 TFLOP/s bf16 dense, 4.8 TB/s, NVLink4 900 GB/s "
                 "bidirectional"},
      {.name = "b200-180gb",
       .description = "NVIDIA B200 (HGX)",
       .capacity = mib(183359),
       .peak_16bit_flop_per_s = 2250 * kTera,
       .memory_bandwidth_bytes_per_s = 8000 * kGiga,
       .intra_node_bytes_per_s = 900 * kGiga,
       .inter_node_bytes_per_s = 50 * kGiga,
       .host_link_bytes_per_s = 64 * kGiga,
       .cpu_memory_per_node = gib(4096),
       .source = "NVIDIA HGX B200: 2,250 TFLOP/s bf16 dense, 8 TB/s, NVLink5 1.8 TB/s "
                 "bidirectional"},
      {.name = "l40s-48gb",
       .description = "NVIDIA L40S 48GB",
       .capacity = mib(46068),
       .peak_16bit_flop_per_s = 362.05 * kTera,
       .memory_bandwidth_bytes_per_s = 864 * kGiga,
       .intra_node_bytes_per_s = 32 * kGiga,
       .inter_node_bytes_per_s = 25 * kGiga,
       .host_link_bytes_per_s = 32 * kGiga,
       .cpu_memory_per_node = gib(1024),
       .source = "NVIDIA L40S datasheet: 362 TFLOP/s bf16 dense, 864 GB/s, PCIe Gen4 x16"},
      {.name = "l4-24gb",
       .description = "NVIDIA L4 24GB",
       .capacity = mib(23034),
       .peak_16bit_flop_per_s = 121 * kTera,
       .memory_bandwidth_bytes_per_s = 300 * kGiga,
       .intra_node_bytes_per_s = 32 * kGiga,
       .inter_node_bytes_per_s = 12.5 * kGiga,
       .host_link_bytes_per_s = 32 * kGiga,
       .cpu_memory_per_node = gib(256),
       .source = "NVIDIA L4 datasheet: 121 TFLOP/s bf16 dense, 300 GB/s, PCIe Gen4 x16"},
      {.name = "rtx4090-24gb",
       .description = "NVIDIA GeForce RTX 4090 24GB",
       .capacity = mib(24564),
       .peak_16bit_flop_per_s = 165.2 * kTera,
       .memory_bandwidth_bytes_per_s = 1008 * kGiga,
       .intra_node_bytes_per_s = 32 * kGiga,
       .inter_node_bytes_per_s = 12.5 * kGiga,
       .host_link_bytes_per_s = 32 * kGiga,
       .cpu_memory_per_node = gib(128),
       .source = "NVIDIA Ada whitepaper: 165.2 TFLOP/s bf16 with fp32 accumulate, 1,008 GB/s, "
                 "PCIe Gen4"},
      {.name = "v100-32gb",
       .description = "NVIDIA V100 32GB SXM2",
       .capacity = mib(32510),
       .peak_16bit_flop_per_s = 125 * kTera,
       .memory_bandwidth_bytes_per_s = 900 * kGiga,
       .intra_node_bytes_per_s = 150 * kGiga,
       .inter_node_bytes_per_s = 12.5 * kGiga,
       .host_link_bytes_per_s = 16 * kGiga,
       .cpu_memory_per_node = gib(1536),
       .source = "NVIDIA V100 datasheet: 125 TFLOP/s fp16 tensor (no bf16), 900 GB/s, NVLink2 "
                 "300 GB/s bidirectional"},
  };
  return gpus;
}

const GpuProfile* find_gpu(std::string_view name) {
  for (const GpuProfile& gpu : builtin_gpus()) {
    if (gpu.name == name) return &gpu;
  }
  return nullptr;
}

}  // namespace memsim::hardware
