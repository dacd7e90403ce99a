#include "scenarios/scenario_keys.h"

#include "scenarios/section_reader.h"
#include "sim/limits.h"

namespace memsim::scenarios {

namespace {

using Read = ScenarioKey::Read;
using sim::kMostBatch;
using sim::kMostGpus;
using sim::kMostTokens;
using strategies::TrainingPlan;

/// A row: its dotted name split into section and name.
ScenarioKey row(const char* dotted, const char* meaning, ScenarioKey rest = {}) {
  rest.key = dotted;
  const size_t dot = rest.key.find('.');
  rest.section = dot == std::string::npos ? "" : rest.key.substr(0, dot);
  rest.name = dot == std::string::npos ? rest.key : rest.key.substr(dot + 1);
  rest.meaning = meaning;
  return rest;
}

// What a row does with its plan field.
#define MEMSIM_COPY(field) [](TrainingPlan& to, const TrainingPlan& from) { to.field = from.field; }
#define MEMSIM_VALUE(field) [](const TrainingPlan& p) { return static_cast<double>(p.field); }
#define MEMSIM_BYTES(field) \
  [](const TrainingPlan& p) { return static_cast<double>(p.field.value()); }
#define MEMSIM_SET(field, type) \
  [](TrainingPlan& p, type v) { p.field = static_cast<decltype(p.field)>(v); }

// Kinds of rows. A section's own code reads the BY_SECTION ones; the table reads the rest.
#define MEMSIM_OTHER(key, field, meaning) row(key, meaning, {.copy = MEMSIM_COPY(field)})
#define MEMSIM_INTEGER(key, field, lo, hi, meaning) \
  row(key, meaning,                                 \
      {.read = Read::kInteger,                      \
       .least = lo,                                 \
       .most = hi,                                  \
       .copy = MEMSIM_COPY(field),                  \
       .number = MEMSIM_VALUE(field),               \
       .set_integer = MEMSIM_SET(field, int64_t)})
#define MEMSIM_INTEGER_BY_SECTION(key, field, meaning) \
  row(key, meaning,                                    \
      {.copy = MEMSIM_COPY(field),                     \
       .number = MEMSIM_VALUE(field),                  \
       .set_integer = MEMSIM_SET(field, int64_t)})
#define MEMSIM_NUMBER(key, field, lo, hi, meaning) \
  row(key, meaning,                                \
      {.read = Read::kNumber,                      \
       .least = lo,                                \
       .most = hi,                                 \
       .copy = MEMSIM_COPY(field),                 \
       .number = MEMSIM_VALUE(field),              \
       .set_number = MEMSIM_SET(field, double)})
#define MEMSIM_FLAG(key, field, meaning) \
  row(key, meaning,                      \
      {.read = Read::kFlag,              \
       .copy = MEMSIM_COPY(field),       \
       .number = MEMSIM_VALUE(field),    \
       .set_number = MEMSIM_SET(field, double)})
#define MEMSIM_NUMERIC_BY_SECTION(key, field, meaning) \
  row(key, meaning, {.copy = MEMSIM_COPY(field), .number = MEMSIM_VALUE(field)})
#define MEMSIM_SIZE(key, field, meaning) \
  row(key, meaning,                      \
      {.read = Read::kSize,              \
       .copy = MEMSIM_COPY(field),       \
       .number = MEMSIM_BYTES(field),    \
       .set_size = MEMSIM_SET(field, sim::Bytes)})

std::vector<ScenarioKey> make_table() {
  return {
      row("name", "a title for the scenario"),
      MEMSIM_OTHER("mode", mode, "training (the default) | inference"),
      MEMSIM_OTHER("model", model, "a preset name, a mapping of dimensions, or {hf_config: path}"),
      MEMSIM_OTHER("hardware", cluster, "the GPU profile and how many"),
      MEMSIM_OTHER("training", training, "sequence, batch and optimizer (training mode)"),
      MEMSIM_OTHER("inference", inference,
                   "batch, lengths, weight and KV cache formats (inference mode)"),
      MEMSIM_OTHER("precision", precision, "recipe name, or {recipe, gradients, activations}"),
      MEMSIM_OTHER("parallel", parallel, "tensor, sequence and data parallel layout"),
      MEMSIM_OTHER("checkpointing", checkpointing,
                   "none | selective | full | sqrt | {full: {every: k}}"),
      MEMSIM_OTHER("overhead", overheads, "memory taken before the first tensor"),
      row("compare", "named variants, each a partial override of the base"),
      row("sweep", "dotted keys mapped to lists of values: every combination is a point"),
      row("where", "constraints a sweep point must meet, e.g. 'parallel.tp * parallel.pp <= 16'"),

      MEMSIM_OTHER("model.preset", model, "start from a built-in model"),
      MEMSIM_OTHER("model.hf_config", model,
                   "start from a Hugging Face config.json (relative to the scenario)"),
      MEMSIM_OTHER("model.name", model.name, "a display name"),
      MEMSIM_INTEGER_BY_SECTION("model.layers", model.layers, "transformer layers"),
      MEMSIM_INTEGER_BY_SECTION("model.hidden", model.hidden, "hidden size"),
      MEMSIM_INTEGER_BY_SECTION("model.heads", model.heads, "attention (query) heads"),
      MEMSIM_INTEGER_BY_SECTION("model.kv_heads", model.kv_heads,
                                "key/value heads; fewer than heads is grouped-query attention"),
      MEMSIM_INTEGER_BY_SECTION("model.head_dim", model.head_dim,
                                "size of one head (default hidden / heads)"),
      MEMSIM_INTEGER_BY_SECTION("model.ffn", model.ffn, "MLP inner size"),
      MEMSIM_OTHER("model.ffn_type", model.ffn_type, "gelu (two matrices) | swiglu (three)"),
      MEMSIM_INTEGER_BY_SECTION("model.vocab", model.vocab, "vocabulary size"),
      MEMSIM_NUMERIC_BY_SECTION("model.tied_embeddings", model.tied_embeddings,
                                "LM head shares the embedding matrix"),
      MEMSIM_OTHER("model.norm", model.norm, "layernorm | rmsnorm"),
      MEMSIM_NUMERIC_BY_SECTION("model.bias", model.bias, "biases on every linear layer"),
      MEMSIM_NUMERIC_BY_SECTION("model.qkv_bias", model.qkv_bias, "biases on q, k and v only"),
      MEMSIM_OTHER("model.positions", model.positions, "rope | learned | none"),
      MEMSIM_INTEGER_BY_SECTION("model.max_positions", model.max_positions,
                                "rows of the learned position table"),
      MEMSIM_OTHER("model.attention", model.attention, "eager (scores materialised) | flash"),
      MEMSIM_NUMERIC_BY_SECTION("model.dropout", model.dropout,
                                "dropout probability (0 = no dropout masks)"),

      MEMSIM_OTHER("hardware.gpu", cluster.gpu, "a GPU profile name (memsim hardware)"),
      MEMSIM_INTEGER("hardware.nodes", cluster.nodes, 1, kMostGpus, "number of nodes"),
      MEMSIM_INTEGER("hardware.gpus_per_node", cluster.gpus_per_node, 1, kMostGpus,
                     "GPUs per node"),
      row("hardware.capacity", "override the profile's memory per GPU, e.g. '80 GiB'",
          {.copy = MEMSIM_COPY(cluster.gpu.capacity),
           .number = MEMSIM_BYTES(cluster.gpu.capacity)}),
      MEMSIM_NUMBER("hardware.compute_efficiency", cluster.compute_efficiency, 0.01, 1.0,
                    "share of peak FLOP/s reached by matmuls (0.5)"),
      row("hardware.cpu_memory_per_node", "override the profile's host memory per node",
          {.read = Read::kSize,
           .copy = MEMSIM_COPY(cluster.cpu_memory_override),
           .number = MEMSIM_BYTES(cluster.cpu_memory_per_node()),
           .set_size = [](TrainingPlan& p, sim::Bytes v) { p.cluster.cpu_memory_override = v; }}),

      MEMSIM_INTEGER("training.seq_len", training.seq_len, 1, kMostTokens, "tokens per sequence"),
      MEMSIM_INTEGER("training.micro_batch", training.micro_batch, 1, kMostBatch,
                     "sequences per microbatch"),
      MEMSIM_INTEGER("training.global_batch", training.global_batch, 1, kMostBatch,
                     "sequences per optimizer step (default: micro_batch × dp)"),
      MEMSIM_OTHER("training.optimizer", training.optimizer,
                   "an optimizer name, or {name, its parameters}"),
      MEMSIM_OTHER("training.gradient_buffers", training.gradient_buffers,
                   "persistent (Megatron, DeepSpeed) | on_demand (PyTorch)"),
      MEMSIM_OTHER("training.activation_offload", training.activation_offload,
                   "none | all | {layers: N, prefetch: K}: saved activations to host memory"),
      MEMSIM_INTEGER("training.loss_chunks", training.loss_chunks, 1, kMostTokens,
                     "LM head and loss per chunk of the sequence, as torchtune's chunked loss (1)"),

      MEMSIM_INTEGER("inference.batch", inference.batch, 1, kMostBatch,
                     "concurrent sequences per model replica"),
      MEMSIM_INTEGER("inference.prompt_len", inference.prompt_len, 1, kMostTokens,
                     "prompt tokens per sequence, prefilled"),
      MEMSIM_INTEGER("inference.generate_len", inference.generate_len, 0, kMostTokens,
                     "tokens generated per sequence, one decode step each"),
      MEMSIM_OTHER("inference.weights", inference.weights,
                   "fp32 | bf16 | fp16 | fp8 | int8 | int4"),
      MEMSIM_OTHER("inference.embedding_weights", inference.embedding_weights,
                   "the embedding and LM head's format (default: the weights', bf16 if those "
                   "are 8-bit or less)"),
      MEMSIM_INTEGER("inference.group_size", inference.group_size, 1, int64_t{1} << 20,
                     "input features per int8/int4 scale and zero point (128)"),
      MEMSIM_OTHER("inference.kv_cache", inference.kv_cache, "bf16 | fp16 | fp8 | int8"),
      MEMSIM_INTEGER("inference.kv_block", inference.kv_block, 0, int64_t{1} << 20,
                     "paged KV cache block in tokens; 0 = contiguous"),
      MEMSIM_NUMBER("inference.memory_utilization", inference.memory_utilization, 0.01, 1.0,
                    "share of GPU memory a serving engine may use (0.9)"),
      MEMSIM_INTEGER("inference.prefill_chunk", inference.prefill_chunk, 0, kMostTokens,
                     "prompt tokens per prefill pass; 0 = the whole prompt"),
      MEMSIM_OTHER("inference.logits", inference.all_logits,
                   "last (only the sampled position) | all (every prompt position)"),
      MEMSIM_OTHER("inference.activations", inference.activations,
                   "activation dtype: fp32 | bf16 | fp16"),

      MEMSIM_OTHER("precision.recipe", precision.recipe, "fp32 | bf16-mixed | fp16-mixed | bf16"),
      MEMSIM_OTHER("precision.gradients", precision.gradients,
                   "gradient dtype override: fp32 | bf16 | fp16"),
      MEMSIM_OTHER("precision.activations", precision.activations,
                   "activation dtype override: fp32 | bf16 | fp16"),

      MEMSIM_INTEGER("parallel.tp", parallel.tp.degree, 1, kMostGpus, "tensor parallel degree"),
      MEMSIM_INTEGER("parallel.pp", parallel.pp.stages, 1, kMostGpus, "pipeline stages"),
      MEMSIM_OTHER("parallel.schedule", parallel.pp.schedule, "gpipe | 1f1b | interleaved"),
      MEMSIM_INTEGER("parallel.virtual_stages", parallel.pp.virtual_stages, 1, 1 << 16,
                     "model chunks per stage, for interleaved"),
      MEMSIM_FLAG("parallel.embedding_as_layer", parallel.pp.embedding_as_layer,
                  "count the embedding as a layer when balancing"),
      MEMSIM_FLAG("parallel.loss_as_layer", parallel.pp.loss_as_layer,
                  "count the LM head and loss as a layer when balancing"),
      MEMSIM_OTHER("parallel.layers_per_stage", parallel.pp.layers_per_stage,
                   "layers of each stage (or chunk), overriding the balance"),
      MEMSIM_FLAG("parallel.sequence_parallel", parallel.tp.sequence_parallel,
                  "shard norms and dropout along the sequence (needs tp)"),
      MEMSIM_INTEGER("parallel.vocab_multiple", parallel.tp.vocab_multiple, 1, 1 << 20,
                     "pad the vocabulary to a multiple of this times tp (128)"),
      MEMSIM_INTEGER_BY_SECTION("parallel.dp", parallel.dp.degree,
                                "data parallel degree, or auto (world / (tp × pp))"),
      MEMSIM_INTEGER("parallel.zero", parallel.dp.zero, 0, 3,
                     "ZeRO stage: 0 (plain data parallel), 1, 2 or 3"),
      MEMSIM_OTHER("parallel.offload", parallel.dp.offload,
                   "none | optimizer | optimizer+params (to host memory)"),
      MEMSIM_INTEGER("parallel.reduce_bucket", parallel.dp.reduce_bucket_elements, 1,
                     int64_t{1} << 40, "ZeRO gradient bucket, in elements (5e8)"),
      MEMSIM_INTEGER("parallel.prefetch_layers", parallel.dp.prefetch_layers, 0, 1 << 20,
                     "ZeRO-3 layers gathered ahead of the running one (1)"),
      MEMSIM_INTEGER("parallel.persistence_threshold", parallel.dp.persistence_threshold, 0,
                     int64_t{1} << 40, "ZeRO-3 tensors smaller than this stay whole (1e5)"),
      MEMSIM_FLAG("parallel.overlap_communication", parallel.dp.overlap_communication,
                  "overlap gradient reduction and gathers with compute"),

      MEMSIM_SIZE("overhead.cuda_context", overheads.cuda_context,
                  "CUDA context and kernels per GPU (1343 MiB)"),
      MEMSIM_SIZE("overhead.nccl_per_group", overheads.nccl_per_group,
                  "NCCL buffers per process group (688 MB)"),
      MEMSIM_NUMBER("overhead.allocator_reserve", overheads.allocator_reserve, 0.0, 1.0,
                    "fragmentation reserve, share of the step's allocations (0.15)"),
  };
}

#undef MEMSIM_COPY
#undef MEMSIM_VALUE
#undef MEMSIM_BYTES
#undef MEMSIM_SET
#undef MEMSIM_OTHER
#undef MEMSIM_INTEGER
#undef MEMSIM_INTEGER_BY_SECTION
#undef MEMSIM_NUMBER
#undef MEMSIM_FLAG
#undef MEMSIM_NUMERIC_BY_SECTION
#undef MEMSIM_SIZE

}  // namespace

const std::vector<ScenarioKey>& scenario_keys() {
  static const std::vector<ScenarioKey> keys = make_table();
  return keys;
}

std::vector<std::string> keys_of(std::string_view section) {
  std::vector<std::string> keys;
  for (const ScenarioKey& k : scenario_keys()) {
    if (section == k.section) keys.push_back(k.name);
  }
  return keys;
}

const std::vector<std::string>& all_scenario_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> all;
    for (const ScenarioKey& k : scenario_keys())
      all.push_back(k.key);
    return all;
  }();
  return keys;
}

const ScenarioKey* find_sweep_key(const std::string& key) {
  for (const ScenarioKey& k : scenario_keys()) {
    if (k.copy != nullptr && key == k.key) return &k;
  }
  return nullptr;
}

void read_table_keys(SectionReader& reader, std::string_view section, TrainingPlan& plan) {
  for (const ScenarioKey& k : scenario_keys()) {
    if (k.section != section) continue;
    switch (k.read) {
      case Read::kBySection:
        break;
      case Read::kInteger:
        if (auto v = reader.integer(k.name, static_cast<int64_t>(k.least),
                                    static_cast<int64_t>(k.most))) {
          k.set_integer(plan, *v);
        }
        break;
      case Read::kNumber:
        if (auto v = reader.number(k.name, k.least, k.most)) k.set_number(plan, *v);
        break;
      case Read::kFlag:
        if (auto v = reader.boolean(k.name)) k.set_number(plan, *v ? 1.0 : 0.0);
        break;
      case Read::kSize:
        if (auto v = reader.size(k.name)) k.set_size(plan, *v);
        break;
    }
  }
}

}  // namespace memsim::scenarios
