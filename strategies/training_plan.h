#pragma once
/// One validated value holding every axis of a training configuration: the model, the
/// cluster, the batch, precision, parallel layout, checkpointing and overheads. Scenarios
/// build it from YAML; the strategies compile it into per-rank programs.

#include <cstdint>

#include "hardware/gpu_profile.h"
#include "sim/model_spec.h"
#include "sim/units.h"
#include "strategies/checkpointing.h"
#include "strategies/optimizer.h"
#include "strategies/precision.h"
#include "strategies/tensor_parallel.h"

namespace memsim::strategies {

/// How parameter gradients are held.
enum class GradientBuffers {
  kPersistent,  ///< contiguous buffers for the whole step (Megatron-LM, DeepSpeed)
  kOnDemand,    ///< made by the first backward, dropped by zero_grad(set_to_none=True)
};

struct Cluster {
  hardware::GpuProfile gpu;
  int64_t nodes = 1;
  int64_t gpus_per_node = 1;
  /// Share of the GPU's peak 16-bit FLOP/s that matrix multiplies reach. 0.5: Megatron-LM
  /// trains GPT models at 52% of peak per A100 (Narayanan et al. 2021, abstract).
  double compute_efficiency = 0.5;
  int64_t world_size() const { return nodes * gpus_per_node; }
};

struct Training {
  int64_t seq_len = 2048;
  int64_t micro_batch = 1;
  int64_t global_batch = 1;
  OptimizerSettings optimizer;
  GradientBuffers gradient_buffers = GradientBuffers::kPersistent;
};

/// Memory taken before the first tensor; each entry named, documented and overridable.
struct Overheads {
  /// CUDA context and the framework's kernels: the Hugging Face Transformers guide "Model
  /// training anatomy" measures 1,343 MiB on the GPU after initialising torch on it.
  sim::Bytes cuda_context = sim::kMiB * 1343;
};

struct Parallelism {
  TensorParallelism tp;
  int64_t pp = 1;
  int64_t dp = 1;
  int zero = 0;
};

struct TrainingPlan {
  sim::ModelSpec model;
  Cluster cluster;
  Training training;
  Precision precision;
  Parallelism parallel;
  CheckpointPolicy checkpointing = NoCheckpointing{};
  Overheads overheads;

  /// Microbatches per step and data-parallel rank: global / (micro × dp).
  int64_t microbatches() const {
    return training.global_batch / (training.micro_batch * parallel.dp);
  }
};

}  // namespace memsim::strategies
