#include "scenarios/sweep_keys.h"

namespace memsim::scenarios {

namespace {

using strategies::TrainingPlan;

// One entry per key: the plan field a key sets, its numeric value, its integer setter.
#define MEMSIM_COPY(field) [](TrainingPlan& to, const TrainingPlan& from) { to.field = from.field; }
#define MEMSIM_NUMBER(field) [](const TrainingPlan& p) { return static_cast<double>(p.field); }
#define MEMSIM_BYTES(field) \
  [](const TrainingPlan& p) { return static_cast<double>(p.field.value()); }
#define MEMSIM_SET(field) [](TrainingPlan& p, int64_t v) { p.field = v; }
#define MEMSIM_INTEGER(key, field) \
  { key, MEMSIM_COPY(field), MEMSIM_NUMBER(field), MEMSIM_SET(field) }
#define MEMSIM_FLAG(key, field) \
  { key, MEMSIM_COPY(field), MEMSIM_NUMBER(field), nullptr }
#define MEMSIM_OTHER(key, field) \
  { key, MEMSIM_COPY(field), nullptr, nullptr }

}  // namespace

const std::vector<SweepKey>& sweep_keys() {
  static const std::vector<SweepKey> keys = {
      MEMSIM_OTHER("mode", mode),
      MEMSIM_OTHER("model", model),
      MEMSIM_OTHER("model.preset", model),
      MEMSIM_OTHER("model.hf_config", model),
      MEMSIM_OTHER("model.name", model.name),
      MEMSIM_INTEGER("model.layers", model.layers),
      MEMSIM_INTEGER("model.hidden", model.hidden),
      MEMSIM_INTEGER("model.heads", model.heads),
      MEMSIM_INTEGER("model.kv_heads", model.kv_heads),
      MEMSIM_INTEGER("model.head_dim", model.head_dim),
      MEMSIM_INTEGER("model.ffn", model.ffn),
      MEMSIM_OTHER("model.ffn_type", model.ffn_type),
      MEMSIM_INTEGER("model.vocab", model.vocab),
      MEMSIM_FLAG("model.tied_embeddings", model.tied_embeddings),
      MEMSIM_OTHER("model.norm", model.norm),
      MEMSIM_FLAG("model.bias", model.bias),
      MEMSIM_FLAG("model.qkv_bias", model.qkv_bias),
      MEMSIM_OTHER("model.positions", model.positions),
      MEMSIM_INTEGER("model.max_positions", model.max_positions),
      MEMSIM_OTHER("model.attention", model.attention),
      MEMSIM_FLAG("model.dropout", model.dropout),
      MEMSIM_OTHER("hardware", cluster),
      MEMSIM_OTHER("hardware.gpu", cluster.gpu),
      MEMSIM_INTEGER("hardware.nodes", cluster.nodes),
      MEMSIM_INTEGER("hardware.gpus_per_node", cluster.gpus_per_node),
      {"hardware.capacity", MEMSIM_COPY(cluster.gpu.capacity), MEMSIM_BYTES(cluster.gpu.capacity),
       nullptr},
      MEMSIM_FLAG("hardware.compute_efficiency", cluster.compute_efficiency),
      {"hardware.cpu_memory_per_node", MEMSIM_COPY(cluster.cpu_memory_override),
       [](const TrainingPlan& p) {
         return static_cast<double>(p.cluster.cpu_memory_per_node().value());
       },
       nullptr},
      MEMSIM_OTHER("training", training),
      MEMSIM_INTEGER("training.seq_len", training.seq_len),
      MEMSIM_INTEGER("training.micro_batch", training.micro_batch),
      MEMSIM_INTEGER("training.global_batch", training.global_batch),
      MEMSIM_OTHER("training.optimizer", training.optimizer),
      MEMSIM_OTHER("training.gradient_buffers", training.gradient_buffers),
      MEMSIM_OTHER("inference", inference),
      MEMSIM_INTEGER("inference.batch", inference.batch),
      MEMSIM_INTEGER("inference.prompt_len", inference.prompt_len),
      MEMSIM_INTEGER("inference.generate_len", inference.generate_len),
      MEMSIM_OTHER("inference.weights", inference.weights),
      MEMSIM_OTHER("inference.embedding_weights", inference.embedding_weights),
      MEMSIM_INTEGER("inference.group_size", inference.group_size),
      MEMSIM_OTHER("inference.kv_cache", inference.kv_cache),
      MEMSIM_INTEGER("inference.kv_block", inference.kv_block),
      MEMSIM_FLAG("inference.memory_utilization", inference.memory_utilization),
      MEMSIM_INTEGER("inference.prefill_chunk", inference.prefill_chunk),
      MEMSIM_OTHER("inference.logits", inference.all_logits),
      MEMSIM_OTHER("inference.activations", inference.activations),
      MEMSIM_OTHER("precision", precision),
      MEMSIM_OTHER("precision.recipe", precision.recipe),
      MEMSIM_OTHER("precision.gradients", precision.gradients),
      MEMSIM_OTHER("precision.activations", precision.activations),
      MEMSIM_OTHER("parallel", parallel),
      MEMSIM_INTEGER("parallel.tp", parallel.tp.degree),
      MEMSIM_FLAG("parallel.sequence_parallel", parallel.tp.sequence_parallel),
      MEMSIM_INTEGER("parallel.pp", parallel.pp.stages),
      MEMSIM_OTHER("parallel.schedule", parallel.pp.schedule),
      MEMSIM_INTEGER("parallel.virtual_stages", parallel.pp.virtual_stages),
      MEMSIM_OTHER("parallel.layers_per_stage", parallel.pp.layers_per_stage),
      MEMSIM_FLAG("parallel.embedding_as_layer", parallel.pp.embedding_as_layer),
      MEMSIM_FLAG("parallel.loss_as_layer", parallel.pp.loss_as_layer),
      MEMSIM_INTEGER("parallel.dp", parallel.dp.degree),
      MEMSIM_INTEGER("parallel.zero", parallel.dp.zero),
      MEMSIM_OTHER("parallel.offload", parallel.dp.offload),
      MEMSIM_INTEGER("parallel.vocab_multiple", parallel.tp.vocab_multiple),
      MEMSIM_INTEGER("parallel.reduce_bucket", parallel.dp.reduce_bucket_elements),
      MEMSIM_INTEGER("parallel.prefetch_layers", parallel.dp.prefetch_layers),
      MEMSIM_INTEGER("parallel.persistence_threshold", parallel.dp.persistence_threshold),
      MEMSIM_FLAG("parallel.overlap_communication", parallel.dp.overlap_communication),
      MEMSIM_OTHER("checkpointing", checkpointing),
      MEMSIM_OTHER("overhead", overheads),
      {"overhead.cuda_context", MEMSIM_COPY(overheads.cuda_context),
       MEMSIM_BYTES(overheads.cuda_context), nullptr},
      {"overhead.nccl_per_group", MEMSIM_COPY(overheads.nccl_per_group),
       MEMSIM_BYTES(overheads.nccl_per_group), nullptr},
      MEMSIM_FLAG("overhead.allocator_reserve", overheads.allocator_reserve),
  };
  return keys;
}

#undef MEMSIM_COPY
#undef MEMSIM_NUMBER
#undef MEMSIM_BYTES
#undef MEMSIM_SET
#undef MEMSIM_INTEGER
#undef MEMSIM_FLAG
#undef MEMSIM_OTHER

const SweepKey* find_sweep_key(const std::string& key) {
  for (const SweepKey& k : sweep_keys()) {
    if (key == k.key) return &k;
  }
  return nullptr;
}

}  // namespace memsim::scenarios
