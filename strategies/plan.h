#pragma once
/// The plans: what every plan has (PlanCore: the model, the cluster, precision, parallel
/// layout, overheads), a training step (TrainingPlan: batch, optimizer, checkpointing and
/// the other chunk passes), serving (ServingPlan: batch, prompt and generated lengths,
/// weight and KV cache formats), and the scenario's Plan that holds either. Scenarios build
/// it from YAML; the strategies compile each part into per-rank programs.

#include <array>
#include <cstdint>
#include <optional>

#include "hardware/gpu_profile.h"
#include "sim/model_spec.h"
#include "sim/shared_value.h"
#include "sim/units.h"
#include "strategies/checkpointing.h"
#include "strategies/optimizer.h"
#include "strategies/pipeline.h"
#include "strategies/precision.h"
#include "strategies/quantization.h"
#include "strategies/tensor_parallel.h"

namespace memsim::strategies {

/// How parameter gradients are held.
enum class GradientBuffers {
  kPersistent,  ///< contiguous buffers for the whole step (Megatron-LM, DeepSpeed)
  kOnDemand,    ///< made by the first backward, dropped by zero_grad(set_to_none=True)
};

/// How a backward adds a weight's gradient to the one it already has (a later microbatch's,
/// or a persistent buffer): the matmul accumulates into it (Megatron-LM's
/// gradient_accumulation_fusion), or it makes the gradient anew and then adds it, holding
/// both while the op's backward runs (PyTorch's AccumulateGrad).
enum class GradientAccumulation { kFused, kInPlace };

struct Cluster {
  sim::SharedValue<hardware::GpuProfile> gpu;  ///< shared: sweeps compare plans at every point
  int64_t nodes = 1;
  int64_t gpus_per_node = 1;
  std::optional<sim::Bytes> cpu_memory_override;  ///< host memory per node, if not the profile's
  sim::Bytes cpu_memory_per_node() const {
    return cpu_memory_override.value_or(gpu->cpu_memory_per_node);
  }
  /// Share of the GPU's peak 16-bit FLOP/s that matrix multiplies reach. 0.5: Megatron-LM
  /// trains GPT models at 52% of peak per A100 (Narayanan et al. 2021, abstract).
  double compute_efficiency = 0.5;
  int64_t world_size() const { return nodes * gpus_per_node; }
  bool operator==(const Cluster&) const = default;
};

/// Activation offload (strategies/activation_offload.cpp): saved activations to host memory.
struct ActivationOffload {
  /// The first this many transformer layers of each chunk (0: none; kEveryLayer: all).
  int64_t layers = 0;
  /// A layer's activations come back when the backward reaches the layer this many after
  /// it (or starts, if that layer is not in the chunk).
  int64_t prefetch = 1;
  bool operator==(const ActivationOffload&) const = default;
};
inline constexpr int64_t kEveryLayer = int64_t{1} << 40;

/// The settings of the strategy passes that shape each chunk's program
/// (StrategyPass::shape_chunks): the fast evaluation's chunk profiles are keyed by it, so a
/// setting added here is keyed.
struct ChunkPassSettings {
  CheckpointPolicy checkpointing = NoCheckpointing{};  ///< strategies/checkpointing.cpp
  ActivationOffload activation_offload;
  /// A pipeline stage keeps what it sends on until its backward (strategies/stage_outputs.cpp).
  bool keep_stage_outputs = false;
  bool operator==(const ChunkPassSettings&) const = default;
};

struct Training {
  int64_t seq_len = 2048;
  int64_t micro_batch = 1;
  int64_t global_batch = 1;
  /// The scenario gave no global batch: it is micro_batch × dp, one microbatch a step.
  bool global_batch_auto = false;
  OptimizerSettings optimizer;
  GradientBuffers gradient_buffers = GradientBuffers::kPersistent;
  /// Each parameter steps as soon as its gradient is made, which is then freed (torchtune's
  /// optimizer_in_bwd): no step after the backward, one microbatch a step.
  bool optimizer_in_backward = false;
  /// The LM head and loss per chunk of each sequence (strategies/chunked_loss.cpp).
  int64_t loss_chunks = 1;
  /// What torch.compile compiles: bits of sim::CompiledParts (strategies/torch_compile.cpp).
  uint8_t compile = 0;
  /// The loss upcasts the logits to fp32 before scoring them (strategies/loss_upcast.cpp).
  bool loss_upcast = true;
  GradientAccumulation gradient_accumulation = GradientAccumulation::kFused;
  ChunkPassSettings chunk_passes;
  bool operator==(const Training&) const = default;
};

/// Memory no tensor accounts for; each entry named, documented and overridable.
struct Overheads {
  /// CUDA context and the framework's kernels: the Hugging Face Transformers guide "Model
  /// training anatomy" measures 1,343 MiB on the GPU after initialising torch on it.
  sim::Bytes cuda_context = sim::kMiB * 1343;
  /// NCCL's buffers for each process group a rank communicates in (TP, DP): 688 MB per
  /// group of more than two GPUs on 4× A100 with NVLink (NVIDIA/nccl issue #964).
  sim::Bytes nccl_per_group = sim::Bytes(688'000'000);
  /// Memory the caching allocator holds but cannot hand out, as a share of what the step
  /// allocates beyond its resident state: GMLake (Guo et al., ASPLOS 2024) removes 15% of
  /// PyTorch's fragmentation on average across eight LLMs on A100-80GB.
  double allocator_reserve = 0.15;
  bool operator==(const Overheads&) const = default;
};

/// Where ZeRO keeps what it does not hold on the GPU.
enum class Offload {
  kNone,
  kOptimizer,           ///< optimizer states, fp32 master weights and gradients (ZeRO-Offload)
  kOptimizerAndParams,  ///< and the 16-bit parameters (ZeRO-Infinity, ZeRO-3 only)
};
inline constexpr std::array<Offload, 3> kAllOffloads = {Offload::kNone, Offload::kOptimizer,
                                                        Offload::kOptimizerAndParams};
/// The scenario spelling: none, optimizer, optimizer+params.
constexpr const char* offload_name(Offload offload) {
  return offload == Offload::kNone        ? "none"
         : offload == Offload::kOptimizer ? "optimizer"
                                          : "optimizer+params";
}

/// Who shards the model states under ZeRO-3 (strategies/data_parallel.cpp and
/// strategies/fsdp.cpp say what each keeps).
enum class Sharding {
  kZero,   ///< the paper's partitions as DeepSpeed keeps them: a 16-bit and an fp32 shard
  kFsdp2,  ///< PyTorch's fully_shard: the fp32 shard alone, gathered and reduced per block
  kFsdp1,  ///< PyTorch's FullyShardedDataParallel: as FSDP2, on one flat parameter per unit
};
inline constexpr std::array<Sharding, 3> kAllShardings = {Sharding::kZero, Sharding::kFsdp2,
                                                          Sharding::kFsdp1};
/// The scenario spelling: zero, fsdp2, fsdp1.
constexpr const char* sharding_name(Sharding sharding) {
  return sharding == Sharding::kZero ? "zero" : sharding == Sharding::kFsdp2 ? "fsdp2" : "fsdp1";
}

/// How ZeRO-3 gathers parameters: a layer at a time (FSDP's units, memsim's default), or
/// each module's as it runs, prefetched and kept along the step's trace as DeepSpeed's
/// parameter coordinator does (strategies/module_gathering.cpp).
enum class Gathering { kLayers, kModules };
/// The scenario spelling: layers, modules.
constexpr const char* gathering_name(Gathering gathering) {
  return gathering == Gathering::kLayers ? "layers" : "modules";
}

/// ZeRO-3 gathering modules: elements prefetched ahead along the trace, the most gathered
/// at once after a prefetch, and the distance in elements within which a module's
/// parameters stay gathered for their next use (DeepSpeed's stage3_prefetch_bucket_size,
/// stage3_max_live_parameters, stage3_max_reuse_distance: deepspeed/runtime/zero/config.py,
/// DeepSpeed edaa722).
struct ModuleGatheringLimits {
  int64_t prefetch_bucket = 50'000'000;
  int64_t max_live = 1'000'000'000;
  int64_t max_reuse_distance = 1'000'000'000;
  bool operator==(const ModuleGatheringLimits&) const = default;
};

/// The dtype FSDP reduces gradients in (MixedPrecision's reduce_dtype): by default that of
/// the gradients (param_dtype), or one named.
enum class ReduceDtype { kGradients, kFp32, kBf16, kFp16 };

/// Data parallelism and ZeRO (Rajbhandari et al. 2020).
struct DataParallelism {
  int64_t degree = 1;
  int zero = 0;  ///< 1: optimizer states, 2: and gradients, 3: and parameters sharded
  Sharding sharding = Sharding::kZero;
  /// FSDP2: a block's gathered parameters are freed after its forward and gathered again
  /// for its backward (true), or kept from the first forward to the last backward.
  bool reshard_after_forward = true;
  /// HSDP: replicas of the sharded model, each sharding over degree / replicate ranks.
  int64_t replicate = 1;
  /// Plain data parallelism: gradients are views of the all-reduce buckets (Megatron-LM's
  /// buffers, DDP's gradient_as_bucket_view=True), or DDP's default, buckets that copy them.
  bool gradient_as_bucket_view = true;
  int64_t shard_degree() const { return degree / replicate; }
  Offload offload = Offload::kNone;
  /// Gradient elements reduced per bucket under ZeRO: DeepSpeed's reduce_bucket_size, 5e8.
  /// Plain data parallelism reduces buckets that are views of the gradient buffer
  /// (Megatron-LM, DDP with gradient_as_bucket_view), so it needs none.
  int64_t reduce_bucket_elements = 500'000'000;
  /// ZeRO-1/2: buckets of that size held through each backward; DeepSpeed holds two with
  /// overlap_comm (deepspeed/runtime/zero/stage_1_and_2.py, backward: buf_0 and buf_1).
  int64_t reduce_buckets = 1;
  /// ZeRO-3: layers gathered ahead of the running one (FSDP's backward prefetch: 1).
  int64_t prefetch_layers = 1;
  Gathering gathering = Gathering::kLayers;
  ModuleGatheringLimits modules;
  /// ZeRO-3: tensors with fewer elements stay whole on every rank (DeepSpeed's
  /// stage3_param_persistence_threshold, 1e5).
  int64_t persistence_threshold = 100'000;
  /// ZeRO-3: elements of the shard the optimizer steps at a time, each with its fp32
  /// gradients (DeepSpeed's sub_group_size, 1e9: deepspeed/runtime/zero/config.py).
  int64_t sub_group_elements = 1'000'000'000;
  /// FSDP: the dtype gradients are reduce-scattered in.
  ReduceDtype reduce_dtype = ReduceDtype::kGradients;
  /// Gradient reduction runs during the last microbatch's backward, and ZeRO-3's gathers
  /// during the previous layer's compute (DDP, Megatron-LM and DeepSpeed overlap both).
  bool overlap_communication = true;
  bool operator==(const DataParallelism&) const = default;
};

struct Parallelism {
  TensorParallelism tp;
  PipelineParallelism pp;
  DataParallelism dp;
  bool operator==(const Parallelism&) const = default;
};

enum class Mode { kTraining, kInference };

/// Serving a batch of sequences: the prompt's prefill, then one token per decode step.
struct Inference {
  int64_t batch = 1;         ///< concurrent sequences
  int64_t prompt_len = 512;  ///< tokens prefilled per sequence
  int64_t generate_len = 0;  ///< tokens decoded per sequence after the prompt
  WeightFormat weights = WeightFormat::kBf16;
  /// The embedding and LM head; default: the weights' format when not quantised, else bf16.
  std::optional<WeightFormat> embedding_weights;
  int64_t group_size = 128;  ///< input features per quantisation group
  KvFormat kv_cache = KvFormat::kBf16;
  int64_t kv_block = 0;              ///< paged cache: tokens per block (0: contiguous)
  double memory_utilization = 0.9;   ///< share of the GPU the serving engine may use
  int64_t prefill_chunk = 0;         ///< prompt tokens per prefill pass (0: all at once)
  bool all_logits = false;           ///< logits of every prompt position, not only the last
  std::optional<Dtype> activations;  ///< default: fp32 with fp32 weights, else bf16

  int64_t context() const { return prompt_len + generate_len; }
  WeightFormat embedding_format() const {
    if (embedding_weights) return *embedding_weights;
    return weight_format_info(weights).bits >= 16 ? weights : WeightFormat::kBf16;
  }
  Dtype activation_dtype() const {
    return activations.value_or(weights == WeightFormat::kFp32 ? Dtype::kFp32 : Dtype::kBf16);
  }
  bool operator==(const Inference&) const = default;
};

/// What every plan has: the model on a cluster, at a precision, laid out in parallel, with
/// the memory no tensor accounts for.
struct PlanCore {
  sim::ModelSpec model;
  Cluster cluster;
  Precision precision;
  Parallelism parallel;
  Overheads overheads;
  bool operator==(const PlanCore&) const = default;
};

/// A training step: the core and the step's batch, optimizer and chunk passes. What the
/// training evaluations (compiled plans, the fast evaluation) read.
struct TrainingPlan : PlanCore {
  Training training;

  /// Microbatches per step and data-parallel rank: global / (micro × dp).
  int64_t microbatches() const {
    return training.global_batch / (training.micro_batch * parallel.dp.degree);
  }
  bool operator==(const TrainingPlan&) const = default;
};

/// Serving a batch of requests: the core and the requests. What the serving evaluation reads.
struct ServingPlan : PlanCore {
  Inference inference;
  bool operator==(const ServingPlan&) const = default;
};

/// What a scenario describes, training (the default) or serving as `mode` says: the key
/// table addresses it, and each evaluation takes its own part of it (a Plan is a
/// TrainingPlan; serving_plan() makes the ServingPlan).
struct Plan : TrainingPlan {
  Mode mode = Mode::kTraining;
  Inference inference;  ///< read when mode is inference
  bool operator==(const Plan&) const = default;
};

/// The serving part of `plan`.
inline ServingPlan serving_plan(const Plan& plan) {
  return {static_cast<const PlanCore&>(plan), plan.inference};
}

}  // namespace memsim::strategies
