#include "scenarios/scenario_schema.h"

#include "scenarios/section_reader.h"

namespace memsim::scenarios {

const std::vector<ScenarioKey>& scenario_keys() {
  static const std::vector<ScenarioKey> keys = {
      {"", "name", "a title for the scenario"},
      {"", "mode", "training (the default) | inference"},
      {"", "model", "a preset name, a mapping of dimensions, or {hf_config: path}"},
      {"", "hardware", "the GPU profile and how many"},
      {"", "training", "sequence, batch and optimizer (training mode)"},
      {"", "inference", "batch, lengths, weight and KV cache formats (inference mode)"},
      {"", "precision", "recipe name, or {recipe, gradients, activations}"},
      {"", "parallel", "tensor, sequence and data parallel layout"},
      {"", "checkpointing", "none | selective | full | sqrt | {full: {every: k}}"},
      {"", "overhead", "memory taken before the first tensor"},
      {"", "compare", "named variants, each a partial override of the base"},
      {"", "sweep", "dotted keys mapped to lists of values: every combination is a point"},
      {"", "where", "constraints a sweep point must meet, e.g. 'parallel.tp * parallel.pp <= 16'"},
      {"model", "preset", "start from a built-in model"},
      {"model", "hf_config", "start from a Hugging Face config.json (relative to the scenario)"},
      {"model", "name", "a display name"},
      {"model", "layers", "transformer layers"},
      {"model", "hidden", "hidden size"},
      {"model", "heads", "attention (query) heads"},
      {"model", "kv_heads", "key/value heads; fewer than heads is grouped-query attention"},
      {"model", "head_dim", "size of one head (default hidden / heads)"},
      {"model", "ffn", "MLP inner size"},
      {"model", "ffn_type", "gelu (two matrices) | swiglu (three)"},
      {"model", "vocab", "vocabulary size"},
      {"model", "tied_embeddings", "LM head shares the embedding matrix"},
      {"model", "norm", "layernorm | rmsnorm"},
      {"model", "bias", "biases on every linear layer"},
      {"model", "qkv_bias", "biases on q, k and v only"},
      {"model", "positions", "rope | learned | none"},
      {"model", "max_positions", "rows of the learned position table"},
      {"model", "attention", "eager (scores materialised) | flash"},
      {"model", "dropout", "dropout probability (0 = no dropout masks)"},
      {"hardware", "gpu", "a GPU profile name (memsim hardware)"},
      {"hardware", "nodes", "number of nodes"},
      {"hardware", "gpus_per_node", "GPUs per node"},
      {"hardware", "capacity", "override the profile's memory per GPU, e.g. '80 GiB'"},
      {"hardware", "compute_efficiency", "share of peak FLOP/s reached by matmuls (0.5)"},
      {"hardware", "cpu_memory_per_node", "override the profile's host memory per node"},
      {"training", "seq_len", "tokens per sequence"},
      {"training", "micro_batch", "sequences per microbatch"},
      {"training", "global_batch", "sequences per optimizer step (default: micro_batch × dp)"},
      {"training", "optimizer", "an optimizer name, or {name, its parameters}"},
      {"training", "gradient_buffers", "persistent (Megatron, DeepSpeed) | on_demand (PyTorch)"},
      {"inference", "batch", "concurrent sequences per model replica"},
      {"inference", "prompt_len", "prompt tokens per sequence, prefilled"},
      {"inference", "generate_len", "tokens generated per sequence, one decode step each"},
      {"inference", "weights", "fp32 | bf16 | fp16 | fp8 | int8 | int4"},
      {"inference", "embedding_weights",
       "the embedding and LM head's format (default: the weights', bf16 if those are 8-bit or "
       "less)"},
      {"inference", "group_size", "input features per int8/int4 scale and zero point (128)"},
      {"inference", "kv_cache", "bf16 | fp16 | fp8 | int8"},
      {"inference", "kv_block", "paged KV cache block in tokens; 0 = contiguous"},
      {"inference", "memory_utilization", "share of GPU memory a serving engine may use (0.9)"},
      {"inference", "prefill_chunk", "prompt tokens per prefill pass; 0 = the whole prompt"},
      {"inference", "logits", "last (only the sampled position) | all (every prompt position)"},
      {"inference", "activations", "activation dtype: fp32 | bf16 | fp16"},
      {"precision", "recipe", "fp32 | bf16-mixed | fp16-mixed | bf16"},
      {"precision", "gradients", "gradient dtype override: fp32 | bf16 | fp16"},
      {"precision", "activations", "activation dtype override: fp32 | bf16 | fp16"},
      {"parallel", "tp", "tensor parallel degree"},
      {"parallel", "sequence_parallel", "shard norms and dropout along the sequence (needs tp)"},
      {"parallel", "pp", "pipeline stages"},
      {"parallel", "schedule", "gpipe | 1f1b | interleaved"},
      {"parallel", "virtual_stages", "model chunks per stage, for interleaved"},
      {"parallel", "layers_per_stage", "layers of each stage (or chunk), overriding the balance"},
      {"parallel", "embedding_as_layer", "count the embedding as a layer when balancing"},
      {"parallel", "loss_as_layer", "count the LM head and loss as a layer when balancing"},
      {"parallel", "dp", "data parallel degree, or auto (world / (tp × pp))"},
      {"parallel", "zero", "ZeRO stage: 0 (plain data parallel), 1, 2 or 3"},
      {"parallel", "offload", "none | optimizer | optimizer+params (to host memory)"},
      {"parallel", "vocab_multiple", "pad the vocabulary to a multiple of this times tp (128)"},
      {"parallel", "reduce_bucket", "ZeRO gradient bucket, in elements (5e8)"},
      {"parallel", "prefetch_layers", "ZeRO-3 layers gathered ahead of the running one (1)"},
      {"parallel", "persistence_threshold", "ZeRO-3 tensors smaller than this stay whole (1e5)"},
      {"parallel", "overlap_communication", "overlap gradient reduction and gathers with compute"},
      {"overhead", "cuda_context", "CUDA context and kernels per GPU (1343 MiB)"},
      {"overhead", "nccl_per_group", "NCCL buffers per process group (688 MB)"},
      {"overhead", "allocator_reserve",
       "fragmentation reserve, share of the step's allocations (0.15)"},
  };
  return keys;
}

std::vector<std::string> keys_of(std::string_view section) {
  std::vector<std::string> keys;
  for (const ScenarioKey& k : scenario_keys()) {
    if (section == k.section) keys.emplace_back(k.key);
  }
  return keys;
}

const std::vector<std::string>& all_scenario_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> all;
    for (const ScenarioKey& k : scenario_keys()) {
      all.push_back(std::string(k.section).empty() ? k.key : std::string(k.section) + "." + k.key);
    }
    return all;
  }();
  return keys;
}

}  // namespace memsim::scenarios
