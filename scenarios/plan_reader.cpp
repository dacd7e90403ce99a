#include "scenarios/plan_reader.h"

#include <cmath>

#include <fmt/format.h>

#include "hardware/gpu_profile.h"
#include "scenarios/scenario_schema.h"
#include "scenarios/section_reader.h"
#include "strategies/schedules.h"

namespace memsim::scenarios {

namespace {

using strategies::TrainingPlan;

// Upper bounds that keep every simulated quantity inside 64 bits.
constexpr int64_t kMaxTokens = int64_t{1} << 24;
constexpr int64_t kMaxGpus = int64_t{1} << 20;
constexpr int64_t kMaxBatch = int64_t{1} << 24;

std::vector<std::string> gpu_names() {
  std::vector<std::string> names;
  for (const auto& gpu : hardware::builtin_gpus())
    names.push_back(gpu.name);
  return names;
}

/// A required section: missing is an error at the scenario's top level.
const ConfigNode* required(const ConfigNode& config, const std::string& key,
                           Diagnostics& diagnostics) {
  const ConfigNode* node = config.get(key);
  if (node == nullptr) diagnostics.error(config.where, fmt::format("missing section '{}'", key));
  return node;
}

void read_hardware(const ConfigNode& node, TrainingPlan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "hardware", keys_of("hardware"), diagnostics);
  if (!reader.valid()) return;
  if (!reader.has("gpu")) diagnostics.error(node.where, "hardware.gpu is missing");
  if (const auto name = reader.text("gpu")) {
    if (const hardware::GpuProfile* gpu = hardware::find_gpu(*name)) {
      plan.cluster.gpu = *gpu;
    } else {
      const std::string hint = nearest_spelling(*name, gpu_names());
      diagnostics.error(reader.node("gpu")->where,
                        fmt::format("unknown GPU '{}'{} (memsim hardware lists them)", *name,
                                    hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    }
  }
  if (auto v = reader.integer("nodes", 1, kMaxGpus)) plan.cluster.nodes = *v;
  if (auto v = reader.integer("gpus_per_node", 1, kMaxGpus)) plan.cluster.gpus_per_node = *v;
  if (auto v = reader.number("compute_efficiency", 0.01, 1.0)) plan.cluster.compute_efficiency = *v;
  if (auto v = reader.size("cpu_memory_per_node")) plan.cluster.cpu_memory_override = *v;
  if (auto v = reader.size("capacity")) {
    if (v->value() <= 0) {
      diagnostics.error(reader.node("capacity")->where, "hardware.capacity must be positive");
    } else {
      plan.cluster.gpu.capacity = *v;
    }
  }
  if (plan.cluster.world_size() > kMaxGpus) {
    diagnostics.error(node.where, fmt::format("{} GPUs is more than memsim simulates ({})",
                                              plan.cluster.world_size(), kMaxGpus));
  }
}

void read_optimizer(const ConfigNode& node, TrainingPlan& plan, Diagnostics& diagnostics) {
  std::vector<std::string> names;
  for (const auto& info : strategies::optimizers())
    names.emplace_back(info.name);
  // The entry's own parameters are its known keys.
  const ConfigNode* name_node = node.is_map() ? node.get("name") : nullptr;
  const strategies::OptimizerInfo* info = name_node != nullptr && name_node->is_scalar()
                                              ? strategies::find_optimizer(name_node->scalar)
                                              : nullptr;
  std::vector<std::string> known = {"name"};
  if (info != nullptr) {
    for (const auto& p : info->parameters)
      known.emplace_back(p.name);
  }
  SectionReader reader(node, "training.optimizer", known, diagnostics);
  if (!reader.valid()) return;
  if (name_node == nullptr) {
    diagnostics.error(node.where, "training.optimizer.name is missing");
    return;
  }
  const auto name = reader.choice("name", names);
  if (!name) return;
  plan.training.optimizer.name = *name;
  for (const auto& p : info->parameters) {
    if (auto v = reader.number(p.name, 0.0, 1e12)) plan.training.optimizer.values[p.name] = *v;
  }
}

void read_training(const ConfigNode& node, TrainingPlan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "training", keys_of("training"), diagnostics);
  if (!reader.valid()) return;
  if (!reader.has("seq_len")) diagnostics.error(node.where, "training.seq_len is missing");
  if (auto v = reader.integer("seq_len", 1, kMaxTokens)) plan.training.seq_len = *v;
  if (auto v = reader.integer("micro_batch", 1, kMaxBatch)) plan.training.micro_batch = *v;
  plan.training.global_batch = 0;  // resolved once dp is known
  if (auto v = reader.integer("global_batch", 1, kMaxBatch)) plan.training.global_batch = *v;
  if (const ConfigNode* optimizer = reader.node("optimizer")) {
    read_optimizer(*optimizer, plan, diagnostics);
  }
  if (auto v = reader.choice("gradient_buffers", {"persistent", "on_demand"})) {
    plan.training.gradient_buffers = *v == "persistent" ? strategies::GradientBuffers::kPersistent
                                                        : strategies::GradientBuffers::kOnDemand;
  }
}

std::optional<strategies::Dtype> read_dtype(SectionReader& reader, const std::string& key) {
  const auto name = reader.choice(key, {"fp32", "bf16", "fp16"});
  if (!name) return std::nullopt;
  if (*name == "fp32") return strategies::Dtype::kFp32;
  return *name == "bf16" ? strategies::Dtype::kBf16 : strategies::Dtype::kFp16;
}

void read_precision(const ConfigNode& node, TrainingPlan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "precision", keys_of("precision"), diagnostics);
  if (!reader.valid()) return;
  std::vector<std::string> recipes;
  for (const auto& r : strategies::precision_recipes())
    recipes.emplace_back(r.name);
  if (const auto name = reader.choice("recipe", recipes)) {
    plan.precision.recipe = strategies::find_recipe(*name)->recipe;
  }
  plan.precision.gradients = read_dtype(reader, "gradients");
  plan.precision.activations = read_dtype(reader, "activations");
}

void read_checkpointing(const ConfigNode& node, TrainingPlan& plan, Diagnostics& diagnostics) {
  const std::vector<std::string> policies = {"none", "selective", "full", "sqrt"};
  if (node.is_scalar()) {
    static const std::vector<std::pair<std::string, strategies::CheckpointPolicy>> kPolicies = {
        {"none", strategies::NoCheckpointing{}},
        {"selective", strategies::SelectiveCheckpointing{}},
        {"full", strategies::FullCheckpointing{1}},
        {"sqrt", strategies::SqrtCheckpointing{}},
    };
    for (const auto& [name, policy] : kPolicies) {
      if (node.scalar == name) {
        plan.checkpointing = policy;
        return;
      }
    }
    const std::string hint = nearest_spelling(node.scalar, policies);
    diagnostics.error(
        node.where,
        fmt::format("checkpointing = {}: expected none, selective, full, sqrt or "
                    "{{full: {{every: k}}}}{}",
                    node.scalar, hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    return;
  }
  SectionReader reader(node, "checkpointing", {"full"}, diagnostics);
  if (!reader.valid()) return;
  const ConfigNode* full = reader.node("full");
  if (full == nullptr) {
    diagnostics.error(node.where, "checkpointing: expected {full: {every: k}}");
    return;
  }
  if (full->is_null()) {
    plan.checkpointing = strategies::FullCheckpointing{1};
    return;
  }
  SectionReader every(*full, "checkpointing.full", {"every"}, diagnostics);
  if (!every.valid()) return;
  if (auto v = every.integer("every", 1, 1 << 20))
    plan.checkpointing = strategies::FullCheckpointing{*v};
}

void read_parallel(const ConfigNode& node, TrainingPlan& plan, Diagnostics& diagnostics,
                   bool& dp_auto) {
  SectionReader reader(node, "parallel", keys_of("parallel"), diagnostics);
  if (!reader.valid()) return;
  strategies::DataParallelism& dp = plan.parallel.dp;
  if (auto v = reader.integer("tp", 1, kMaxGpus)) plan.parallel.tp.degree = *v;
  strategies::PipelineParallelism& pp = plan.parallel.pp;
  if (auto v = reader.integer("pp", 1, kMaxGpus)) pp.stages = *v;
  std::vector<std::string> schedules;
  for (const auto& info : strategies::schedules())
    schedules.emplace_back(info.name);
  if (auto v = reader.choice("schedule", schedules)) pp.schedule = *v;
  if (auto v = reader.integer("virtual_stages", 1, 1 << 16)) pp.virtual_stages = *v;
  if (auto v = reader.boolean("embedding_as_layer")) pp.embedding_as_layer = *v;
  if (auto v = reader.boolean("loss_as_layer")) pp.loss_as_layer = *v;
  if (const ConfigNode* list = reader.node("layers_per_stage")) {
    if (!list->is_sequence()) {
      diagnostics.error(list->where, "parallel.layers_per_stage: expected a list of layer counts");
    } else {
      for (const ConfigNode& item : list->items) {
        const auto n = item.is_scalar() ? parse_integer(item.scalar) : std::nullopt;
        if (!n || *n < 0 || *n > (1 << 24)) {
          diagnostics.error(item.where, fmt::format("parallel.layers_per_stage: {} is not a layer "
                                                    "count",
                                                    item.describe()));
        } else {
          pp.layers_per_stage.push_back(*n);
        }
      }
    }
  }
  if (auto v = reader.boolean("sequence_parallel")) plan.parallel.tp.sequence_parallel = *v;
  if (auto v = reader.integer("vocab_multiple", 1, 1 << 20)) plan.parallel.tp.vocab_multiple = *v;
  if (const ConfigNode* d = reader.node("dp");
      d != nullptr && d->is_scalar() && d->scalar == "auto") {
    dp_auto = true;
  } else if (auto v = reader.integer("dp", 1, kMaxGpus)) {
    dp.degree = *v;
    dp_auto = false;
  }
  if (auto v = reader.integer("zero", 0, 3)) dp.zero = static_cast<int>(*v);
  std::vector<std::string> names;
  for (strategies::Offload o : strategies::kAllOffloads)
    names.emplace_back(offload_name(o));
  if (auto v = reader.choice("offload", names)) {
    for (strategies::Offload o : strategies::kAllOffloads) {
      if (offload_name(o) == *v) dp.offload = o;
    }
  }
  if (auto v = reader.integer("reduce_bucket", 1, int64_t{1} << 40)) dp.reduce_bucket_elements = *v;
  if (auto v = reader.integer("prefetch_layers", 0, 1 << 20)) dp.prefetch_layers = *v;
  if (auto v = reader.integer("persistence_threshold", 0, int64_t{1} << 40)) {
    dp.persistence_threshold = *v;
  }
  if (auto v = reader.boolean("overlap_communication")) dp.overlap_communication = *v;
}

void read_overhead(const ConfigNode& node, TrainingPlan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "overhead", keys_of("overhead"), diagnostics);
  if (!reader.valid()) return;
  if (auto v = reader.size("cuda_context")) plan.overheads.cuda_context = *v;
  if (auto v = reader.size("nccl_per_group")) plan.overheads.nccl_per_group = *v;
  if (auto v = reader.number("allocator_reserve", 0.0, 1.0)) plan.overheads.allocator_reserve = *v;
}

/// Where a key is written in `config`, or the section, or the top level.
Location where_is(const ConfigNode& config, const std::string& section, const std::string& key) {
  if (const ConfigNode* s = config.get(section)) {
    if (s->is_map()) {
      if (const ConfigNode* k = s->get(key)) return k->where;
    }
    return s->where;
  }
  return config.where;
}

/// The pipeline partition and schedule against the model and the batch.
void check_pipeline(const ConfigNode& config, const TrainingPlan& plan, Diagnostics& diagnostics) {
  const strategies::PipelineParallelism& pp = plan.parallel.pp;
  const strategies::ScheduleInfo* schedule = strategies::find_schedule(pp.schedule);
  if (pp.virtual_stages > 1 && !schedule->interleaved) {
    diagnostics.error(
        where_is(config, "parallel", "virtual_stages"),
        fmt::format("parallel.virtual_stages = {} needs schedule: interleaved", pp.virtual_stages));
  }
  const int64_t chunks = pp.chunks();
  if (!pp.layers_per_stage.empty()) {
    int64_t sum = 0;
    for (int64_t n : pp.layers_per_stage)
      sum += n;
    if (static_cast<int64_t>(pp.layers_per_stage.size()) != chunks || sum != plan.model.layers) {
      diagnostics.error(where_is(config, "parallel", "layers_per_stage"),
                        fmt::format("parallel.layers_per_stage has {} entries adding up to {}; "
                                    "expected {} (pp × virtual_stages) adding up to the model's "
                                    "{} layers",
                                    pp.layers_per_stage.size(), sum, chunks, plan.model.layers));
      return;
    }
  }
  const std::vector<int64_t> layers = strategies::chunk_layers(plan.model.layers, pp);
  for (size_t g = 0; g < layers.size(); ++g) {
    const bool ends = g == 0 || g + 1 == layers.size();
    if (layers[g] < 0 || (layers[g] == 0 && !ends)) {
      diagnostics.error(where_is(config, "parallel", "pp"),
                        fmt::format("parallel.pp = {} with {} chunks per stage leaves model chunk "
                                    "{} without layers ({} layers in all)",
                                    pp.stages, pp.virtual_stages, g, plan.model.layers));
      return;
    }
  }
}

/// Cross-section consistency: the parallel layout against the model and the cluster.
void check_layout(const ConfigNode& config, TrainingPlan& plan, bool dp_auto,
                  Diagnostics& diagnostics, std::vector<Diagnostic>& warnings) {
  const int64_t world = plan.cluster.world_size();
  const int64_t tp = plan.parallel.tp.degree;
  const strategies::PipelineParallelism& pp = plan.parallel.pp;
  const int64_t stages = pp.stages;
  const sim::ModelSpec& model = plan.model;
  if (dp_auto) {
    if (world % (tp * stages) != 0) {
      diagnostics.error(
          where_is(config, "parallel", "tp"),
          fmt::format("parallel.tp × pp = {} × {} does not divide the {} GPUs", tp, stages, world));
      return;
    }
    plan.parallel.dp.degree = world / (tp * stages);
  }
  const int64_t dp = plan.parallel.dp.degree;
  if (tp * stages * dp != world) {
    diagnostics.error(where_is(config, "parallel", "dp"),
                      fmt::format("parallel.tp × pp × dp = {} × {} × {} = {} but the cluster has "
                                  "{} GPUs (hardware.nodes × gpus_per_node)",
                                  tp, stages, dp, tp * stages * dp, world));
  }
  check_pipeline(config, plan, diagnostics);
  if (model.heads % tp != 0) {
    diagnostics.error(
        where_is(config, "parallel", "tp"),
        fmt::format("parallel.tp = {} does not divide attention heads ({})", tp, model.heads));
  }
  if (model.kv_heads % tp != 0 && tp % model.kv_heads != 0) {
    diagnostics.error(where_is(config, "parallel", "tp"),
                      fmt::format("parallel.tp = {} and kv_heads = {}: one must divide the other",
                                  tp, model.kv_heads));
  }
  if (model.ffn % tp != 0) {
    diagnostics.error(
        where_is(config, "parallel", "tp"),
        fmt::format("parallel.tp = {} does not divide the MLP size ({})", tp, model.ffn));
  }
  if (plan.parallel.tp.sequence_parallel && plan.training.seq_len % tp != 0) {
    diagnostics.error(where_is(config, "parallel", "sequence_parallel"),
                      fmt::format("sequence parallelism needs tp = {} to divide seq_len ({})", tp,
                                  plan.training.seq_len));
  }
  const strategies::DataParallelism& data = plan.parallel.dp;
  if (data.zero > 0 && dp == 1) {
    warnings.push_back({where_is(config, "parallel", "zero"),
                        fmt::format("parallel.zero = {} with dp = 1 shards nothing", data.zero)});
  }
  if (data.offload != strategies::Offload::kNone && data.zero == 0) {
    diagnostics.error(where_is(config, "parallel", "offload"),
                      "parallel.offload needs ZeRO (zero: 1, 2 or 3), which offloads the "
                      "optimizer's partition");
  }
  if (data.offload == strategies::Offload::kOptimizerAndParams && data.zero != 3) {
    diagnostics.error(where_is(config, "parallel", "offload"),
                      "parallel.offload = optimizer+params needs zero: 3 (parameters are "
                      "partitioned only by ZeRO-3)");
  }
  const int64_t per_step = plan.training.micro_batch * dp;
  if (plan.training.global_batch == 0) plan.training.global_batch = per_step;
  const int64_t microbatches = plan.training.global_batch / per_step;
  if (strategies::find_schedule(pp.schedule)->interleaved && microbatches % stages != 0) {
    diagnostics.error(where_is(config, "parallel", "schedule"),
                      fmt::format("the interleaved schedule needs the {} microbatches per step "
                                  "(global_batch / (micro_batch × dp)) to be a multiple of pp = {}",
                                  microbatches, stages));
  }
  if (plan.training.global_batch % per_step != 0) {
    diagnostics.error(where_is(config, "training", "global_batch"),
                      fmt::format("training.global_batch = {} is not divisible by micro_batch × "
                                  "dp = {} × {}",
                                  plan.training.global_batch, plan.training.micro_batch, dp));
  }
}

}  // namespace

std::optional<TrainingPlan> read_plan(const ConfigNode& config, const std::string& scenario_dir,
                                      Diagnostics& diagnostics, std::vector<Diagnostic>& warnings) {
  TrainingPlan plan;
  bool dp_auto = true;
  Diagnostics local;
  if (const ConfigNode* model = required(config, "model", local)) {
    if (auto spec = read_model(*model, scenario_dir, local)) plan.model = *spec;
  }
  if (const ConfigNode* node = required(config, "hardware", local))
    read_hardware(*node, plan, local);
  if (const ConfigNode* node = required(config, "training", local))
    read_training(*node, plan, local);
  if (const ConfigNode* node = config.get("precision")) read_precision(*node, plan, local);
  if (const ConfigNode* node = config.get("parallel")) read_parallel(*node, plan, local, dp_auto);
  if (const ConfigNode* node = config.get("checkpointing")) read_checkpointing(*node, plan, local);
  if (const ConfigNode* node = config.get("overhead")) read_overhead(*node, plan, local);
  if (!local.empty()) {
    local.forward_to(diagnostics);
    return std::nullopt;
  }
  check_layout(config, plan, dp_auto, local, warnings);
  if (!local.empty()) {
    local.forward_to(diagnostics);
    return std::nullopt;
  }
  return plan;
}

}  // namespace memsim::scenarios
