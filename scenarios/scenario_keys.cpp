#include "scenarios/scenario_keys.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scenarios/diagnostics.h"
#include "scenarios/name_lookup.h"
#include "scenarios/section_reader.h"
#include "sim/limits.h"
#include "strategies/schedules.h"
#include "strategies/strategy_pass.h"

namespace memsim::scenarios {

namespace {

using Read = ScenarioKey::Read;
using sim::kMostBatch;
using sim::kMostGpus;
using sim::kMostTokens;
using strategies::Plan;
// The row builders (strategies/setting_key.h).
using strategies::field_row;
using strategies::flag_row;
using strategies::integer_by_section_row;
using strategies::integer_row;
using strategies::number_row;
using strategies::numeric_row;
using strategies::setting_row;
using strategies::size_row;

std::vector<ScenarioKey> top_level_rows() {
  return {
      setting_row("name", "a title for the scenario"),
      setting_row("framework",
                  "generic (the default) | megatron | torchtitan | deepspeed | hf | torchtune: "
                  "the framework's kernels, buffers and defaults (docs/frameworks.md)"),
      field_row("mode", "training (the default) | inference", MEMSIM_PLAN_FIELD(mode)),
      field_row("model", "a preset name, a mapping of dimensions, or {hf_config: path}",
                MEMSIM_PLAN_FIELD(model)),
      field_row("hardware", "the GPU profile and how many", MEMSIM_PLAN_FIELD(cluster)),
      field_row("training", "sequence, batch and optimizer (training mode)",
                MEMSIM_PLAN_FIELD(training)),
      field_row("inference", "batch, lengths, weight and KV cache formats (inference mode)",
                MEMSIM_PLAN_FIELD(inference)),
      field_row("parallel", "tensor, sequence and data parallel layout",
                MEMSIM_PLAN_FIELD(parallel)),
      field_row("overhead", "memory taken before the first tensor", MEMSIM_PLAN_FIELD(overheads)),
      setting_row("compare", "named variants, each a partial override of the base"),
      setting_row("sweep", "dotted keys mapped to lists of values: every combination is a point"),
      setting_row("where",
                  "constraints a sweep point must meet, e.g. 'parallel.tp * parallel.pp <= 16'"),
  };
}

std::vector<ScenarioKey> model_rows() {
  return {
      field_row("model.preset", "start from a built-in model", MEMSIM_PLAN_FIELD(model)),
      field_row("model.hf_config",
                "start from a Hugging Face config.json (relative to the scenario)",
                MEMSIM_PLAN_FIELD(model)),
      field_row("model.name", "a display name", MEMSIM_PLAN_FIELD(model.name)),
      integer_by_section_row("model.layers", "transformer layers", MEMSIM_PLAN_FIELD(model.layers)),
      integer_by_section_row("model.hidden", "hidden size", MEMSIM_PLAN_FIELD(model.hidden)),
      integer_by_section_row("model.heads", "attention (query) heads",
                             MEMSIM_PLAN_FIELD(model.heads)),
      integer_by_section_row("model.kv_heads",
                             "key/value heads; fewer than heads is grouped-query attention",
                             MEMSIM_PLAN_FIELD(model.kv_heads)),
      integer_by_section_row("model.head_dim", "size of one head (default hidden / heads)",
                             MEMSIM_PLAN_FIELD(model.head_dim)),
      integer_by_section_row("model.ffn", "MLP inner size", MEMSIM_PLAN_FIELD(model.ffn)),
      field_row("model.ffn_type", "gelu (two matrices) | swiglu (three)",
                MEMSIM_PLAN_FIELD(model.ffn_type)),
      integer_by_section_row("model.vocab", "vocabulary size", MEMSIM_PLAN_FIELD(model.vocab)),
      numeric_row("model.tied_embeddings", "LM head shares the embedding matrix",
                  MEMSIM_PLAN_FIELD(model.tied_embeddings)),
      field_row("model.norm", "layernorm | rmsnorm", MEMSIM_PLAN_FIELD(model.norm)),
      numeric_row("model.bias", "biases on every linear layer", MEMSIM_PLAN_FIELD(model.bias)),
      numeric_row("model.qkv_bias", "biases on q, k and v only", MEMSIM_PLAN_FIELD(model.qkv_bias)),
      field_row("model.positions", "rope | learned | none", MEMSIM_PLAN_FIELD(model.positions)),
      integer_by_section_row("model.max_positions", "rows of the learned position table",
                             MEMSIM_PLAN_FIELD(model.max_positions)),
      field_row("model.attention",
                "eager (scores materialised) | flash | sdpa (flash fed KV heads repeated)",
                MEMSIM_PLAN_FIELD(model.attention)),
      field_row("model.norm_kernel",
                "fused (one kernel) | eager (RMSNorm in PyTorch ops) | eager-fp32 (and the "
                "weight applied in fp32)",
                MEMSIM_PLAN_FIELD(model.norm_kernel)),
      field_row("model.swiglu_kernel", "eager (PyTorch ops) | fused (Megatron-Core)",
                MEMSIM_PLAN_FIELD(model.swiglu_kernel)),
      field_row("model.softmax_kernel",
                "eager attention's softmax: fused (16-bit, one kernel) | fp32 (PyTorch's "
                "softmax(dtype=float32), which keeps its fp32 output)",
                MEMSIM_PLAN_FIELD(model.softmax_kernel)),
      numeric_row("model.dropout", "dropout probability (0 = no dropout masks)",
                  MEMSIM_PLAN_FIELD(model.dropout)),
      field_row("model.layer_kinds",
                "layers with their own MLP width: a list of {layers: first-last, ffn: width}",
                MEMSIM_PLAN_FIELD(model.layer_kinds)),
  };
}

std::vector<ScenarioKey> hardware_rows() {
  return {
      field_row("hardware.gpu", "a GPU profile name (memsim hardware)",
                MEMSIM_PLAN_FIELD(cluster.gpu)),
      integer_row("hardware.nodes", "number of nodes", MEMSIM_PLAN_FIELD(cluster.nodes), 1,
                  kMostGpus),
      integer_row("hardware.gpus_per_node", "GPUs per node",
                  MEMSIM_PLAN_FIELD(cluster.gpus_per_node), 1, kMostGpus),
      setting_row(
          "hardware.capacity", "override the profile's memory per GPU, e.g. '80 GiB'",
          {.copy =
               [](Plan& to, const Plan& from) {
                 to.cluster.gpu.edit().capacity = from.cluster.gpu->capacity;
               },
           .number =
               [](const Plan& p) { return static_cast<double>(p.cluster.gpu->capacity.value()); }}),
      number_row("hardware.compute_efficiency", "share of peak FLOP/s reached by matmuls (0.5)",
                 MEMSIM_PLAN_FIELD(cluster.compute_efficiency), 0.01, 1.0),
      setting_row("hardware.cpu_memory_per_node", "override the profile's host memory per node",
                  {.read = Read::kSize,
                   .copy =
                       [](Plan& to, const Plan& from) {
                         to.cluster.cpu_memory_override = from.cluster.cpu_memory_override;
                       },
                   .number =
                       [](const Plan& p) {
                         return static_cast<double>(p.cluster.cpu_memory_per_node().value());
                       },
                   .set_size = [](Plan& p, sim::Bytes v) { p.cluster.cpu_memory_override = v; }}),
  };
}

std::vector<ScenarioKey> training_rows() {
  return {
      integer_row("training.seq_len", "tokens per sequence", MEMSIM_PLAN_FIELD(training.seq_len), 1,
                  kMostTokens),
      integer_row("training.micro_batch", "sequences per microbatch",
                  MEMSIM_PLAN_FIELD(training.micro_batch), 1, kMostBatch),
      integer_row("training.global_batch",
                  "sequences per optimizer step (default: micro_batch × dp)",
                  MEMSIM_PLAN_FIELD(training.global_batch), 1, kMostBatch),
      field_row("training.optimizer", "an optimizer name, or {name, its parameters}",
                MEMSIM_PLAN_FIELD(training.optimizer)),
      field_row("training.optimizer.implementation",
                "fused (in place) | foreach (PyTorch's default: temporaries for all parameters) | "
                "single_tensor (for one parameter at a time); the optimizer's first by default",
                MEMSIM_PLAN_FIELD(training.optimizer.implementation)),
      field_row("training.gradient_buffers",
                "persistent (Megatron, DeepSpeed) | on_demand (PyTorch)",
                MEMSIM_PLAN_FIELD(training.gradient_buffers)),
  };
}

std::vector<ScenarioKey> inference_rows() {
  return {
      integer_row("inference.batch", "concurrent sequences per model replica",
                  MEMSIM_PLAN_FIELD(inference.batch), 1, kMostBatch),
      integer_row("inference.prompt_len", "prompt tokens per sequence, prefilled",
                  MEMSIM_PLAN_FIELD(inference.prompt_len), 1, kMostTokens),
      integer_row("inference.generate_len", "tokens generated per sequence, one decode step each",
                  MEMSIM_PLAN_FIELD(inference.generate_len), 0, kMostTokens),
      field_row("inference.weights", "fp32 | bf16 | fp16 | fp8 | int8 | int4",
                MEMSIM_PLAN_FIELD(inference.weights)),
      field_row("inference.embedding_weights",
                "the embedding and LM head's format (default: the weights', bf16 if those "
                "are 8-bit or less)",
                MEMSIM_PLAN_FIELD(inference.embedding_weights)),
      integer_row("inference.group_size", "input features per int8/int4 scale and zero point (128)",
                  MEMSIM_PLAN_FIELD(inference.group_size), 1, int64_t{1} << 20),
      field_row("inference.kv_cache", "bf16 | fp16 | fp8 | int8",
                MEMSIM_PLAN_FIELD(inference.kv_cache)),
      integer_row("inference.kv_block", "paged KV cache block in tokens; 0 = contiguous",
                  MEMSIM_PLAN_FIELD(inference.kv_block), 0, int64_t{1} << 20),
      number_row("inference.memory_utilization",
                 "share of GPU memory a serving engine may use (0.9)",
                 MEMSIM_PLAN_FIELD(inference.memory_utilization), 0.01, 1.0),
      integer_row("inference.prefill_chunk", "prompt tokens per prefill pass; 0 = the whole prompt",
                  MEMSIM_PLAN_FIELD(inference.prefill_chunk), 0, kMostTokens),
      field_row("inference.logits",
                "last (only the sampled position) | all (every prompt position)",
                MEMSIM_PLAN_FIELD(inference.all_logits)),
      field_row("inference.activations", "activation dtype: fp32 | bf16 | fp16",
                MEMSIM_PLAN_FIELD(inference.activations)),
  };
}

std::vector<ScenarioKey> parallel_rows() {
  return {
      integer_row("parallel.pp", "pipeline stages", MEMSIM_PLAN_FIELD(parallel.pp.stages), 1,
                  kMostGpus),
      field_row("parallel.schedule", strategies::schedule_names(),
                MEMSIM_PLAN_FIELD(parallel.pp.schedule)),
      integer_row("parallel.virtual_stages", "model chunks per stage, for interleaved schedules",
                  MEMSIM_PLAN_FIELD(parallel.pp.virtual_stages), 1, 1 << 16),
      flag_row("parallel.embedding_as_layer", "count the embedding as a layer when balancing",
               MEMSIM_PLAN_FIELD(parallel.pp.embedding_as_layer)),
      flag_row("parallel.loss_as_layer", "count the LM head and loss as a layer when balancing",
               MEMSIM_PLAN_FIELD(parallel.pp.loss_as_layer)),
      field_row("parallel.layers_per_stage",
                "layers of each stage (or chunk), overriding the balance",
                MEMSIM_PLAN_FIELD(parallel.pp.layers_per_stage)),
      integer_by_section_row("parallel.dp", "data parallel degree, or auto (world / (tp × pp))",
                             MEMSIM_PLAN_FIELD(parallel.dp.degree)),
  };
}

std::vector<ScenarioKey> overhead_rows() {
  return {
      size_row("overhead.cuda_context", "CUDA context and kernels per GPU (1343 MiB)",
               MEMSIM_PLAN_FIELD(overheads.cuda_context)),
      size_row("overhead.nccl_per_group", "NCCL buffers per process group (688 MB)",
               MEMSIM_PLAN_FIELD(overheads.nccl_per_group)),
      number_row("overhead.allocator_reserve",
                 "fragmentation reserve, share of the step's allocations (0.15)",
                 MEMSIM_PLAN_FIELD(overheads.allocator_reserve), 0.0, 1.0),
  };
}

/// The core's rows, section by section.
std::vector<ScenarioKey> make_table() {
  std::vector<ScenarioKey> table;
  for (auto* rows : {top_level_rows, model_rows, hardware_rows, training_rows, inference_rows,
                     parallel_rows, overhead_rows}) {
    std::vector<ScenarioKey> section = rows();
    table.insert(table.end(), section.begin(), section.end());
  }
  return table;
}

}  // namespace

const std::vector<ScenarioKey>& scenario_keys() {
  static const std::vector<ScenarioKey> keys = [] {
    std::vector<ScenarioKey> all = make_table();
    for (const strategies::StrategyPass& pass : strategies::strategy_passes())
      all.insert(all.end(), pass.keys.begin(), pass.keys.end());
    return all;
  }();
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

namespace {

/// A mapping's keys as written, those that are mappings with theirs: "{full: {every}}".
std::string mapping_shape(const std::string& dotted) {
  std::vector<std::string> parts;
  for (const ScenarioKey& k : scenario_keys()) {
    if (k.section != dotted) continue;
    parts.push_back(k.read == Read::kMapping ? k.name + ": " + mapping_shape(k.key) : k.name);
  }
  return fmt::format("{{{}}}", fmt::join(parts, ", "));
}

/// A mapping key's value `node`: one of its shorthand words, or a mapping of its own keys.
void read_mapping(const ConfigNode& node, const ScenarioKey& k, Plan& plan,
                  Diagnostics& diagnostics) {
  if (node.is_scalar()) {
    for (const ScenarioKey::Shorthand& s : k.shorthands) {
      if (node.scalar == s.word) {
        s.set(plan);
        return;
      }
    }
  }
  if (node.is_null() && k.select != nullptr) {
    k.select(plan);
    return;
  }
  if (!node.is_map()) {
    std::vector<std::string> words;
    for (const ScenarioKey::Shorthand& s : k.shorthands)
      words.emplace_back(s.word);
    const std::string hint = node.is_scalar() ? nearest_spelling(node.scalar, words) : "";
    diagnostics.error(
        node.where,
        fmt::format("{} = {}: expected {}{}{}{}", k.key, node.describe(), fmt::join(words, ", "),
                    words.empty() ? "" : ", or ", mapping_shape(k.key),
                    hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    return;
  }
  if (node.entries.empty() && k.select == nullptr) {
    diagnostics.error(node.where,
                      fmt::format("{} = {{}}: expected {}", k.key, mapping_shape(k.key)));
    return;
  }
  if (k.select != nullptr) k.select(plan);
  SectionReader inner(node, k.key, keys_of(k.key), diagnostics);
  read_table_keys(inner, k.key, plan);
}

/// A choice row's word, and the value it sets.
void read_choice(SectionReader& reader, const ScenarioKey& k, Plan& plan) {
  std::vector<std::string> words;
  for (const ScenarioKey::Word& w : k.words)
    words.emplace_back(w.word);
  if (const auto word = reader.choice(k.name, words)) {
    const auto chosen = std::find(words.begin(), words.end(), *word) - words.begin();
    k.set_integer(plan, k.words[static_cast<size_t>(chosen)].value);
  }
}

/// A word-set row's list: each word's bit, or'd.
void read_word_set(SectionReader& reader, const ScenarioKey& k, Plan& plan) {
  const ConfigNode* node = reader.node(k.name);
  if (node == nullptr) return;
  std::vector<std::string> words;
  for (const ScenarioKey::Word& w : k.words)
    words.emplace_back(w.word);
  if (!node->is_sequence()) {
    reader.diagnostics().error(
        node->where, fmt::format("{} = {}: expected a list of some of {}", k.key, node->describe(),
                                 join_alternatives(words)));
    return;
  }
  int64_t bits = 0;
  bool valid = true;
  for (const ConfigNode& item : node->items) {
    const auto found =
        item.is_scalar() ? std::find(words.begin(), words.end(), item.scalar) : words.end();
    if (found == words.end()) {
      const std::string hint = item.is_scalar() ? nearest_spelling(item.scalar, words) : "";
      reader.diagnostics().error(
          item.where,
          fmt::format("{}: {} is not one of {}{}", k.key, item.describe(), join_alternatives(words),
                      hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
      valid = false;
      continue;
    }
    bits |= k.words[static_cast<size_t>(found - words.begin())].value;
  }
  if (valid) k.set_integer(plan, bits);
}

}  // namespace

void read_table_keys(SectionReader& reader, std::string_view section, Plan& plan) {
  for (const ScenarioKey& k : scenario_keys()) {
    if (k.section != section) continue;
    switch (k.read) {
      case Read::kBySection:
        break;
      case Read::kInteger:
        if (auto v = reader.integer(k.name, static_cast<int64_t>(k.least),
                                    static_cast<int64_t>(k.most), k.words)) {
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
      case Read::kMapping:
        if (const ConfigNode* node = reader.node(k.name)) {
          read_mapping(*node, k, plan, reader.diagnostics());
        }
        break;
      case Read::kChoice:
        read_choice(reader, k, plan);
        break;
      case Read::kWordSet:
        read_word_set(reader, k, plan);
        break;
    }
  }
}

void read_top_level_keys(const ConfigNode& root, Plan& plan, Diagnostics& diagnostics) {
  for (const ScenarioKey& k : scenario_keys()) {
    if (!k.section.empty() || k.read != Read::kMapping) continue;
    if (const ConfigNode* node = root.get(k.name)) read_mapping(*node, k, plan, diagnostics);
  }
}

}  // namespace memsim::scenarios
