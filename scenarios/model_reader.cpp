#include <filesystem>

#include <fmt/format.h>

#include "scenarios/framework_profiles.h"
#include "scenarios/hf_config.h"
#include "scenarios/model_presets.h"
#include "scenarios/name_lookup.h"
#include "scenarios/plan_reader.h"
#include "scenarios/scenario_keys.h"
#include "scenarios/section_reader.h"

namespace memsim::scenarios {

namespace {

// Larger than any of memsim's limits on a model's sizes (sim/limits.h), which
// sim::find_problems checks whatever the spec came from.
constexpr int64_t kMaxDimension = int64_t{1} << 40;

/// The spec the explicit keys start from: a preset, a config.json, or nothing.
std::optional<sim::ModelSpec> starting_point(SectionReader& reader, const ConfigNode& node,
                                             const std::string& scenario_dir,
                                             std::vector<Diagnostic>& warnings) {
  const ConfigNode* preset = reader.node("preset");
  const ConfigNode* hf = reader.node("hf_config");
  if (preset != nullptr && hf != nullptr) {
    reader.diagnostics().error(hf->where, "model: give either preset or hf_config, not both");
    return std::nullopt;
  }
  if (preset != nullptr) {
    const auto name = reader.text("preset");
    if (!name) return std::nullopt;
    const auto found = resolve_name(*name, preset_names(), "model", "memsim models", preset->where,
                                    reader.diagnostics());
    if (!found) return std::nullopt;
    return model_presets()[*found].spec;
  }
  if (hf != nullptr) {
    const auto file = reader.text("hf_config");
    if (!file) return std::nullopt;
    const std::filesystem::path path = std::filesystem::path(scenario_dir) / *file;
    try {
      return read_hf_config(path.string(), &warnings);
    } catch (const InputError& e) {
      for (const Diagnostic& d : e.diagnostics()) {
        reader.diagnostics().error(d.where, fmt::format("{} (model.hf_config at {})", d.message,
                                                        format_location(hf->where)));
      }
      return std::nullopt;
    }
  }
  // Explicit dimensions: these must be given; the rest have defaults.
  bool complete = true;
  for (const char* key : {"layers", "hidden", "heads", "ffn", "vocab"}) {
    if (!reader.has(key)) {
      reader.diagnostics().error(
          node.where, fmt::format("model.{} is missing (or give a preset or hf_config)", key));
      complete = false;
    }
  }
  if (!complete) return std::nullopt;
  return sim::ModelSpec{};
}

template <typename Enum>
void read_enum(SectionReader& reader, const std::string& key,
               const std::vector<std::pair<std::string, Enum>>& table, Enum& out) {
  std::vector<std::string> names;
  for (const auto& entry : table)
    names.push_back(entry.first);
  if (const auto name = reader.choice(key, names)) {
    for (const auto& [text, value] : table) {
      if (text == *name) out = value;
    }
  }
}

/// A layer or an inclusive range of layers: `3` or `0-2`.
std::optional<std::pair<int64_t, int64_t>> layer_range(const ConfigNode& value) {
  if (!value.is_scalar()) return std::nullopt;
  const std::string& text = value.scalar;
  const size_t dash = text.find('-', 1);
  const auto first = parse_integer(text.substr(0, dash));
  const auto last = dash == std::string::npos ? first : parse_integer(text.substr(dash + 1));
  if (!first || !last) return std::nullopt;
  return std::pair{*first, *last};
}

/// `layer_kinds`: a list of `{layers: 0-2, ffn: 18432}`, layers with their own MLP width.
void read_layer_kinds(SectionReader& reader, sim::ModelSpec& spec) {
  const ConfigNode* list = reader.node("layer_kinds");
  if (list == nullptr) return;
  Diagnostics& diagnostics = reader.diagnostics();
  if (!list->is_sequence()) {
    diagnostics.error(list->where,
                      "model.layer_kinds: expected a list of {layers: first-last, "
                      "ffn: width}");
    return;
  }
  spec.layer_kinds.clear();
  for (const ConfigNode& item : list->items) {
    if (!item.is_map()) {
      diagnostics.error(item.where, fmt::format("model.layer_kinds: {} is not a mapping of "
                                                "layers and ffn",
                                                item.describe()));
      continue;
    }
    SectionReader kind(item, "model.layer_kinds", {"layers", "ffn"}, diagnostics);
    const ConfigNode* layers = kind.node("layers");
    const auto range = layers != nullptr ? layer_range(*layers) : std::nullopt;
    if (!range) {
      diagnostics.error(layers != nullptr ? layers->where : item.where,
                        "model.layer_kinds: layers must be a layer or a range such as 0-2");
    }
    const auto ffn = kind.integer("ffn", 1, kMaxDimension);
    if (!ffn && !kind.has("ffn")) {
      diagnostics.error(item.where, "model.layer_kinds: ffn (the layers' MLP width) is missing");
    }
    if (range && ffn) spec.layer_kinds.push_back({range->first, range->second, *ffn});
  }
}

/// A framework profile says how its framework runs RMSNorm, SwiGLU and eager attention's
/// softmax; for a model without them (a LayerNorm, a GeLU MLP, a fused attention core) its
/// choice does not apply.
void drop_inapplicable_kernels(SectionReader& reader, sim::ModelSpec& spec) {
  const auto from_profile = [&](const char* key) {
    const ConfigNode* node = reader.node(key);
    return node != nullptr && set_by_framework(*node);
  };
  if (spec.norm != sim::NormType::kRmsNorm && from_profile("norm_kernel")) {
    spec.norm_kernel = sim::NormKernel::kFused;
  }
  if (spec.ffn_type != sim::FfnType::kSwiGlu && from_profile("swiglu_kernel")) {
    spec.swiglu_kernel = sim::SwiGluKernel::kEager;
  }
  if (spec.attention != sim::AttentionImpl::kEager && from_profile("softmax_kernel")) {
    spec.softmax_kernel = sim::SoftmaxKernel::kFused;
  }
}

}  // namespace

std::optional<sim::ModelSpec> read_model(const ConfigNode& node, const std::string& scenario_dir,
                                         Diagnostics& diagnostics,
                                         std::vector<Diagnostic>& warnings) {
  const size_t problems_before = diagnostics.count();
  SectionReader reader(node, "model", keys_of("model"), diagnostics);
  if (!reader.valid()) return std::nullopt;
  std::optional<sim::ModelSpec> start = starting_point(reader, node, scenario_dir, warnings);
  if (!start) return std::nullopt;
  sim::ModelSpec spec = *start;
  const bool explicit_model = !reader.has("preset") && !reader.has("hf_config");

  if (auto v = reader.text("name")) spec.name = *v;
  for (auto [key, field] : {std::pair{"layers", &spec.layers},
                            {"hidden", &spec.hidden},
                            {"heads", &spec.heads},
                            {"kv_heads", &spec.kv_heads},
                            {"head_dim", &spec.head_dim},
                            {"ffn", &spec.ffn},
                            {"vocab", &spec.vocab},
                            {"max_positions", &spec.max_positions}}) {
    if (auto v = reader.integer(key, 1, kMaxDimension)) *field = *v;
  }
  if (explicit_model && !reader.has("kv_heads")) spec.kv_heads = spec.heads;
  read_enum<sim::FfnType>(reader, "ffn_type",
                          {{"gelu", sim::FfnType::kGelu}, {"swiglu", sim::FfnType::kSwiGlu}},
                          spec.ffn_type);
  read_enum<sim::NormType>(
      reader, "norm",
      {{"layernorm", sim::NormType::kLayerNorm}, {"rmsnorm", sim::NormType::kRmsNorm}}, spec.norm);
  read_enum<sim::PositionType>(reader, "positions",
                               {{"rope", sim::PositionType::kRope},
                                {"learned", sim::PositionType::kLearned},
                                {"none", sim::PositionType::kNone}},
                               spec.positions);
  read_enum<sim::AttentionImpl>(reader, "attention",
                                {{"eager", sim::AttentionImpl::kEager},
                                 {"flash", sim::AttentionImpl::kFlash},
                                 {"sdpa", sim::AttentionImpl::kSdpa}},
                                spec.attention);
  read_enum<sim::NormKernel>(reader, "norm_kernel",
                             {{"fused", sim::NormKernel::kFused},
                              {"eager", sim::NormKernel::kEager},
                              {"eager-fp32", sim::NormKernel::kEagerFp32Weight}},
                             spec.norm_kernel);
  read_enum<sim::SwiGluKernel>(
      reader, "swiglu_kernel",
      {{"eager", sim::SwiGluKernel::kEager}, {"fused", sim::SwiGluKernel::kFused}},
      spec.swiglu_kernel);
  read_enum<sim::SoftmaxKernel>(
      reader, "softmax_kernel",
      {{"fused", sim::SoftmaxKernel::kFused}, {"fp32", sim::SoftmaxKernel::kFp32}},
      spec.softmax_kernel);
  drop_inapplicable_kernels(reader, spec);
  if (auto v = reader.boolean("tied_embeddings")) spec.tied_embeddings = *v;
  if (auto v = reader.boolean("bias")) spec.bias = *v;
  if (auto v = reader.boolean("qkv_bias")) spec.qkv_bias = *v;
  if (auto v = reader.number("dropout", 0.0, 0.99)) spec.dropout = *v;
  read_layer_kinds(reader, spec);
  if (spec.name.empty()) spec.name = "custom";

  // Consistency, once every value read is valid: point at the key at fault, or the model.
  if (diagnostics.count() != problems_before) return std::nullopt;
  for (const sim::SpecProblem& problem : sim::find_problems(spec)) {
    const ConfigNode* at = reader.node(problem.key);
    diagnostics.error(at != nullptr ? at->where : node.where, "model." + problem.message);
  }
  return spec;
}

}  // namespace memsim::scenarios
