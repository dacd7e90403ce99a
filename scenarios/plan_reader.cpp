#include "scenarios/plan_reader.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "hardware/gpu_catalog.h"
#include "scenarios/framework_profiles.h"
#include "scenarios/layout_problems.h"
#include "scenarios/name_lookup.h"
#include "scenarios/scenario_keys.h"
#include "scenarios/section_reader.h"
#include "sim/limits.h"
#include "strategies/layout.h"
#include "strategies/schedules.h"

namespace memsim::scenarios {

namespace {

using strategies::Plan;

using sim::kMostGpus;

/// A required section: missing is an error at the scenario's top level.
const ConfigNode* required(const ConfigNode& config, const std::string& key,
                           Diagnostics& diagnostics) {
  const ConfigNode* node = config.get(key);
  if (node == nullptr) diagnostics.error(config.where, fmt::format("missing section '{}'", key));
  return node;
}

void read_hardware(const ConfigNode& node, Plan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "hardware", keys_of("hardware"), diagnostics);
  if (!reader.valid()) return;
  if (!reader.has("gpu")) diagnostics.error(node.where, "hardware.gpu is missing");
  if (const auto name = reader.text("gpu")) {
    const hardware::GpuCatalog& catalog = hardware::gpu_catalog();
    if (const auto found = resolve_name(*name, catalog.names(), "GPU", "memsim hardware",
                                        reader.node("gpu")->where, diagnostics)) {
      plan.cluster.gpu = catalog.profiles()[*found];
    }
  }
  read_table_keys(reader, "hardware", plan);
  if (auto v = reader.size("capacity")) {
    if (v->value() <= 0) {
      diagnostics.error(reader.node("capacity")->where, "hardware.capacity must be positive");
    } else {
      plan.cluster.gpu.edit().capacity = *v;
    }
  }
  if (plan.cluster.world_size() > kMostGpus) {
    diagnostics.error(node.where,
                      fmt::format("hardware: {} nodes × {} GPUs = {} GPUs, more than memsim "
                                  "simulates ({})",
                                  plan.cluster.nodes, plan.cluster.gpus_per_node,
                                  plan.cluster.world_size(), kMostGpus));
  }
}

/// `implementation:` of the optimizer, one of those it has. A framework profile names its
/// framework's usual one, which does not apply to an optimizer without it (an 8-bit one).
void read_implementation(SectionReader& reader, const strategies::OptimizerInfo& info,
                         strategies::OptimizerSettings& settings) {
  const ConfigNode* node = reader.node("implementation");
  if (node == nullptr) return;
  std::vector<std::string> names;
  for (const strategies::StepTemporaries& t : info.implementations)
    names.emplace_back(t.name);
  if (set_by_framework(*node) && node->is_scalar() &&
      std::find(names.begin(), names.end(), node->scalar) == names.end()) {
    return;
  }
  if (const auto name = reader.choice("implementation", names)) {
    const auto chosen = std::find(names.begin(), names.end(), *name) - names.begin();
    settings.implementation = info.implementations[static_cast<size_t>(chosen)].implementation;
  }
}

void read_optimizer(const ConfigNode& node, Plan& plan, Diagnostics& diagnostics) {
  std::vector<std::string> names;
  for (const auto& info : strategies::optimizers())
    names.emplace_back(info.name);
  // The entry's own parameters are its known keys.
  const ConfigNode* name_node = node.is_map() ? node.get("name") : nullptr;
  // Settings without a name (a framework profile's, a swept implementation) are the
  // default optimizer's.
  const std::string name_text = name_node == nullptr
                                    ? plan.training.optimizer.name
                                    : (name_node->is_scalar() ? name_node->scalar : std::string());
  const strategies::OptimizerInfo* info = strategies::find_optimizer(name_text);
  std::vector<std::string> known = {"name", "implementation"};
  if (info != nullptr) {
    for (const auto& p : info->parameters)
      known.emplace_back(p.name);
  }
  SectionReader reader(node, "training.optimizer", known, diagnostics);
  if (!reader.valid()) return;
  if (name_node != nullptr) {
    const auto name = reader.choice("name", names);
    if (!name) return;
    plan.training.optimizer.name = *name;
  }
  for (const auto& p : info->parameters) {
    if (auto v = reader.number(p.name, 0.0, 1e12)) plan.training.optimizer.values[p.name] = *v;
  }
  read_implementation(reader, *info, plan.training.optimizer);
}

void read_training(const ConfigNode& node, Plan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "training", keys_of("training"), diagnostics);
  if (!reader.valid()) return;
  if (!reader.has("seq_len")) diagnostics.error(node.where, "training.seq_len is missing");
  plan.training.global_batch = 0;  // resolved once dp is known
  plan.training.global_batch_auto = !reader.has("global_batch");
  read_table_keys(reader, "training", plan);
  if (const ConfigNode* optimizer = reader.node("optimizer")) {
    read_optimizer(*optimizer, plan, diagnostics);
  }
  if (auto v = reader.choice("gradient_buffers", {"persistent", "on_demand"})) {
    plan.training.gradient_buffers = *v == "persistent" ? strategies::GradientBuffers::kPersistent
                                                        : strategies::GradientBuffers::kOnDemand;
  }
}

Location where_is(const ConfigNode& config, const std::string& section, const std::string& key);

std::optional<strategies::Dtype> read_dtype(SectionReader& reader, const std::string& key) {
  const auto name = reader.choice(key, {"fp32", "bf16", "fp16"});
  if (!name) return std::nullopt;
  if (*name == "fp32") return strategies::Dtype::kFp32;
  return *name == "bf16" ? strategies::Dtype::kBf16 : strategies::Dtype::kFp16;
}

template <typename Info, typename Formats>
std::vector<std::string> format_names(const Formats& formats) {
  std::vector<std::string> names;
  for (const Info& f : formats)
    names.emplace_back(f.name);
  return names;
}

void read_inference(const ConfigNode& node, Plan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "inference", keys_of("inference"), diagnostics);
  if (!reader.valid()) return;
  strategies::Inference& inference = plan.inference;
  read_table_keys(reader, "inference", plan);
  const auto weight_names =
      format_names<strategies::WeightFormatInfo>(strategies::weight_formats());
  if (auto v = reader.choice("weights", weight_names))
    inference.weights = strategies::find_weight_format(*v)->format;
  if (auto v = reader.choice("embedding_weights", weight_names))
    inference.embedding_weights = strategies::find_weight_format(*v)->format;
  if (auto v = reader.choice("kv_cache",
                             format_names<strategies::KvFormatInfo>(strategies::kv_formats())))
    inference.kv_cache = strategies::find_kv_format(*v)->format;
  if (auto v = reader.choice("logits", {"last", "all"})) inference.all_logits = *v == "all";
  inference.activations = read_dtype(reader, "activations");
}

/// Training keys that have no meaning when serving, reported where they are written.
void check_inference_layout(const ConfigNode& config, const Plan& plan, Diagnostics& diagnostics) {
  const auto reject = [&](bool set, const std::string& key, const std::string& why) {
    if (set) {
      diagnostics.error(where_is(config, "parallel", key),
                        fmt::format("parallel.{} does not apply in inference mode: {}", key, why));
    }
  };
  const strategies::Parallelism& parallel = plan.parallel;
  reject(parallel.dp.zero != 0, "zero", "there are no gradients or optimizer states to shard");
  reject(parallel.dp.offload != strategies::Offload::kNone, "offload",
         "no optimizer states to offload");
  reject(parallel.tp.sequence_parallel, "sequence_parallel", "not modelled for serving");
  reject(parallel.pp.virtual_stages != 1, "virtual_stages", "a request passes each stage once");
}

void read_parallel(const ConfigNode& node, Plan& plan, Diagnostics& diagnostics, bool& dp_auto) {
  SectionReader reader(node, "parallel", keys_of("parallel"), diagnostics);
  if (!reader.valid()) return;
  read_table_keys(reader, "parallel", plan);
  strategies::DataParallelism& dp = plan.parallel.dp;
  strategies::PipelineParallelism& pp = plan.parallel.pp;
  std::vector<std::string> schedules;
  for (const auto& info : strategies::schedules())
    schedules.emplace_back(info.name);
  if (auto v = reader.choice("schedule", schedules)) pp.schedule = *v;
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
  if (const ConfigNode* d = reader.node("dp");
      d != nullptr && d->is_scalar() && d->scalar == "auto") {
    dp_auto = true;
  } else if (auto v = reader.integer("dp", 1, kMostGpus)) {
    dp.degree = *v;
    dp_auto = false;
  }
  std::vector<std::string> names;
  for (strategies::Offload o : strategies::kAllOffloads)
    names.emplace_back(offload_name(o));
  if (auto v = reader.choice("offload", names)) {
    for (strategies::Offload o : strategies::kAllOffloads) {
      if (offload_name(o) == *v) dp.offload = o;
    }
  }
}

void read_overhead(const ConfigNode& node, Plan& plan, Diagnostics& diagnostics) {
  SectionReader reader(node, "overhead", keys_of("overhead"), diagnostics);
  if (!reader.valid()) return;
  read_table_keys(reader, "overhead", plan);
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

/// Where to report a problem that `keys` decide: a --set that gave one of them (the command
/// line changed something that was consistent), else the first of them written in the
/// file, else the first key's section or the top.
Location layout_problem_location(const ConfigNode& config, const std::vector<std::string>& keys) {
  std::optional<Location> written;
  for (const std::string& key : keys) {
    const size_t dot = key.find('.');
    const ConfigNode* section = config.get(key.substr(0, dot));
    const ConfigNode* node = section != nullptr && section->is_map() && dot != std::string::npos
                                 ? section->get(key.substr(dot + 1))
                                 : nullptr;
    if (node == nullptr) continue;
    if (node->where.file.starts_with("--set ")) return node->where;
    if (!written) written = node->where;
  }
  if (written) return *written;
  const size_t dot = keys.front().find('.');
  return where_is(config, keys.front().substr(0, dot), keys.front().substr(dot + 1));
}

/// Cross-section consistency: the parallel layout against the model and the cluster,
/// each problem reported at the key at fault.
void check_layout(const ConfigNode& config, Plan& plan, Diagnostics& diagnostics,
                  std::vector<Diagnostic>& warnings) {
  const strategies::LayoutProblems problems = strategies::resolve_layout(plan);
  for (size_t r = 0; r < strategies::layout_reason_count(); ++r) {
    if (!problems.test(r)) continue;
    const auto reason = static_cast<strategies::LayoutReason>(r);
    const Location where = layout_problem_location(config, layout_keys(reason));
    const std::string message = layout_message(reason, plan);
    if (strategies::layout_errors(problems).test(r)) {
      diagnostics.error(where, message);
    } else {
      warnings.push_back({where, message});
    }
  }
}

}  // namespace

std::optional<Plan> read_plan(const ConfigNode& config, const std::string& scenario_dir,
                              Diagnostics& diagnostics, std::vector<Diagnostic>& warnings,
                              bool resolve) {
  Plan plan;
  bool dp_auto = true;
  Diagnostics local;
  if (const ConfigNode* mode = config.get("mode")) {
    if (mode->is_scalar() && mode->scalar == "inference") {
      plan.mode = strategies::Mode::kInference;
    } else if (!mode->is_scalar() || mode->scalar != "training") {
      local.error(mode->where,
                  fmt::format("mode = {}: expected training or inference", mode->describe()));
    }
  }
  const bool inference = plan.mode == strategies::Mode::kInference;
  if (const ConfigNode* model = required(config, "model", local)) {
    if (auto spec = read_model(*model, scenario_dir, local, warnings)) plan.model = *spec;
  }
  if (const ConfigNode* node = required(config, "hardware", local))
    read_hardware(*node, plan, local);
  // A scenario may carry both sections, so that compare variants can switch modes; the
  // mode's own is required.
  if (const ConfigNode* node =
          inference ? config.get("training") : required(config, "training", local))
    read_training(*node, plan, local);
  if (const ConfigNode* node =
          inference ? required(config, "inference", local) : config.get("inference"))
    read_inference(*node, plan, local);
  if (const ConfigNode* node = config.get("parallel")) read_parallel(*node, plan, local, dp_auto);
  read_top_level_keys(config, plan, local);
  if (const ConfigNode* node = config.get("overhead")) read_overhead(*node, plan, local);
  if (!local.empty()) {
    local.forward_to(diagnostics);
    return std::nullopt;
  }
  if (inference) check_inference_layout(config, plan, local);
  if (!local.empty()) {
    local.forward_to(diagnostics);
    return std::nullopt;
  }
  if (dp_auto) plan.parallel.dp.degree = 0;
  if (!resolve) return plan;
  check_layout(config, plan, local, warnings);
  if (!local.empty()) {
    local.forward_to(diagnostics);
    return std::nullopt;
  }
  return plan;
}

}  // namespace memsim::scenarios
