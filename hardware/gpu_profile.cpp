#include "hardware/gpu_profile.h"

namespace memsim::hardware {

namespace {

constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;

sim::Bytes mib(int64_t n) {
  return sim::kMiB * n;
}

}  // namespace

// Capacities are nvidia-smi's "MiB" totals (reference/formulas.md §6 for the A100, H100
// and H200; public nvidia-smi pastes for the others). Peak FLOP/s are the datasheets'
// dense 16-bit tensor-core figures (without sparsity). Network: 200 Gb/s HDR InfiniBand
// per A100 and 400 Gb/s NDR per H100/H200/B200 in DGX-style nodes.
const std::vector<GpuProfile>& builtin_gpus() {
  static const std::vector<GpuProfile> gpus = {
      {"a100-40gb", "NVIDIA A100 40GB SXM", mib(40960), 312 * kTera, 1555 * kGiga, 300 * kGiga,
       25 * kGiga,
       "NVIDIA A100 datasheet: 312 TFLOP/s bf16 dense, 1,555 GB/s, NVLink3 600 GB/s "
       "bidirectional"},
      {"a100-80gb", "NVIDIA A100 80GB SXM", mib(81920), 312 * kTera, 2039 * kGiga, 300 * kGiga,
       25 * kGiga,
       "NVIDIA A100 datasheet: 312 TFLOP/s bf16 dense, 2,039 GB/s, NVLink3 600 GB/s "
       "bidirectional"},
      {"h100-80gb", "NVIDIA H100 80GB SXM", mib(81559), 989.4 * kTera, 3350 * kGiga, 450 * kGiga,
       50 * kGiga,
       "NVIDIA H100 datasheet: 989.4 TFLOP/s bf16 dense, 3.35 TB/s, NVLink4 900 GB/s "
       "bidirectional"},
      {"h100-pcie-80gb", "NVIDIA H100 80GB PCIe", mib(81559), 756.5 * kTera, 2000 * kGiga,
       64 * kGiga, 50 * kGiga,
       "NVIDIA H100 PCIe datasheet: 756.5 TFLOP/s bf16 dense, 2.0 TB/s, PCIe Gen5 x16"},
      {"h200-141gb", "NVIDIA H200 141GB SXM", mib(143771), 989 * kTera, 4800 * kGiga, 450 * kGiga,
       50 * kGiga,
       "NVIDIA H200 datasheet: 989 TFLOP/s bf16 dense, 4.8 TB/s, NVLink4 900 GB/s "
       "bidirectional"},
      {"b200-180gb", "NVIDIA B200 (HGX)", mib(183359), 2250 * kTera, 8000 * kGiga, 900 * kGiga,
       50 * kGiga,
       "NVIDIA HGX B200: 2,250 TFLOP/s bf16 dense, 8 TB/s, NVLink5 1.8 TB/s bidirectional"},
      {"l40s-48gb", "NVIDIA L40S 48GB", mib(46068), 362.05 * kTera, 864 * kGiga, 32 * kGiga,
       25 * kGiga, "NVIDIA L40S datasheet: 362 TFLOP/s bf16 dense, 864 GB/s, PCIe Gen4 x16"},
      {"l4-24gb", "NVIDIA L4 24GB", mib(23034), 121 * kTera, 300 * kGiga, 32 * kGiga, 12.5 * kGiga,
       "NVIDIA L4 datasheet: 121 TFLOP/s bf16 dense, 300 GB/s, PCIe Gen4 x16"},
      {"rtx4090-24gb", "NVIDIA GeForce RTX 4090 24GB", mib(24564), 165.2 * kTera, 1008 * kGiga,
       32 * kGiga, 12.5 * kGiga,
       "NVIDIA Ada whitepaper: 165.2 TFLOP/s bf16 with fp32 accumulate, 1,008 GB/s, PCIe Gen4"},
      {"v100-32gb", "NVIDIA V100 32GB SXM2", mib(32510), 125 * kTera, 900 * kGiga, 150 * kGiga,
       12.5 * kGiga,
       "NVIDIA V100 datasheet: 125 TFLOP/s fp16 tensor (no bf16), 900 GB/s, NVLink2 300 GB/s "
       "bidirectional"},
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
