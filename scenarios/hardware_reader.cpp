#include "scenarios/hardware_reader.h"

#include <limits>
#include <optional>

#include <fmt/format.h>

#include "hardware/builtin_gpus.h"
#include "scenarios/config_tree.h"
#include "scenarios/section_reader.h"

namespace memsim::scenarios {

namespace {

using hardware::GpuProfile;

constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;

// Bounds that keep every byte count inside 64 bits and every rate and price finite.
constexpr int64_t kMaxMib = int64_t{1} << 30;
constexpr int64_t kMaxGib = int64_t{1} << 30;
constexpr double kMaxRate = 1e9;  // TFLOP/s or GB/s
constexpr double kMaxUsd = 1e9;

const std::vector<std::string> kRequired = {"name",           "memory_mib",     "bf16_tflops",
                                            "hbm_gb_s",       "gpu_link_gb_s",  "network_gb_s",
                                            "host_link_gb_s", "host_memory_gib"};

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> all = kRequired;
    all.insert(all.end(),
               {"aliases", "description", "source", "purchase_usd", "cloud_usd_per_hour"});
    return all;
  }();
  return keys;
}

/// A rate must be more than zero, which SectionReader's closed ranges cannot say.
std::optional<double> rate(SectionReader& reader, const std::string& key) {
  const auto value =
      reader.number(key, std::numeric_limits<double>::lowest(), std::numeric_limits<double>::max());
  if (value && (*value <= 0 || *value > kMaxRate)) {
    const ConfigNode& node = *reader.node(key);
    reader.diagnostics().error(node.where,
                               fmt::format("{} = {}: expected a positive number up to {:g}",
                                           reader.dotted(key), node.scalar, kMaxRate));
    return std::nullopt;
  }
  return value;
}

GpuProfile read_profile(const ConfigNode& node, size_t index, Diagnostics& diagnostics) {
  // Messages name the profile when it has a name, else its place in the list.
  const ConfigNode* name = node.is_map() ? node.get("name") : nullptr;
  const std::string path = name != nullptr && name->is_scalar() && !name->scalar.empty()
                               ? name->scalar
                               : fmt::format("gpus[{}]", index);
  SectionReader reader(node, path, known_keys(), diagnostics, {});
  GpuProfile gpu;
  if (!reader.valid()) return gpu;
  for (const std::string& key : kRequired) {
    if (!reader.has(key)) diagnostics.error(node.where, reader.dotted(key) + " is missing");
  }
  if (auto v = reader.text("name")) {
    if (v->empty()) diagnostics.error(reader.node("name")->where, "a GPU's name is empty");
    gpu.name = *v;
  }
  if (const ConfigNode* aliases = reader.node("aliases")) {
    if (!aliases->is_sequence()) {
      diagnostics.error(aliases->where, reader.dotted("aliases") + ": expected a list of names");
    } else {
      for (const ConfigNode& alias : aliases->items) {
        if (!alias.is_scalar() || alias.scalar.empty()) {
          diagnostics.error(alias.where, reader.dotted("aliases") + ": expected a name");
        } else {
          gpu.aliases.push_back(alias.scalar);
        }
      }
    }
  }
  if (auto v = reader.text("description")) gpu.description = *v;
  if (auto v = reader.integer("memory_mib", 1, kMaxMib)) gpu.capacity = sim::kMiB * *v;
  if (auto v = rate(reader, "bf16_tflops")) gpu.peak_16bit_flop_per_s = *v * kTera;
  if (auto v = rate(reader, "hbm_gb_s")) gpu.memory_bandwidth_bytes_per_s = *v * kGiga;
  if (auto v = rate(reader, "gpu_link_gb_s")) gpu.intra_node_bytes_per_s = *v * kGiga;
  if (auto v = rate(reader, "network_gb_s")) gpu.inter_node_bytes_per_s = *v * kGiga;
  if (auto v = rate(reader, "host_link_gb_s")) gpu.host_link_bytes_per_s = *v * kGiga;
  if (auto v = reader.integer("host_memory_gib", 1, kMaxGib))
    gpu.cpu_memory_per_node = sim::kGiB * *v;
  if (auto v = reader.text("source")) gpu.source = *v;
  if (auto v = reader.number("purchase_usd", 0, kMaxUsd)) gpu.purchase_usd = *v;
  if (auto v = reader.number("cloud_usd_per_hour", 0, kMaxUsd)) gpu.cloud_usd_per_hour = *v;
  return gpu;
}

std::vector<GpuProfile> read_profiles(const ConfigNode& root) {
  if (!root.is_map()) {
    throw InputError(root.where, fmt::format("a GPU profile file is a mapping with a 'gpus' "
                                             "list, not {}",
                                             root.describe()));
  }
  Diagnostics diagnostics;
  SectionReader top(root, "", {"gpus"}, diagnostics, {});
  const ConfigNode* list = top.node("gpus");
  std::vector<GpuProfile> profiles;
  if (list == nullptr) {
    diagnostics.error(root.where, "gpus is missing");
  } else if (!list->is_sequence()) {
    diagnostics.error(list->where,
                      fmt::format("gpus = {}: expected a list of GPU profiles", list->describe()));
  } else {
    std::vector<Location> named_at;  // where each of `profiles` got its name
    for (size_t i = 0; i < list->items.size(); ++i) {
      const ConfigNode& item = list->items[i];
      GpuProfile gpu = read_profile(item, i, diagnostics);
      if (gpu.name.empty()) continue;
      const Location& where = item.get("name")->where;
      for (size_t j = 0; j < profiles.size(); ++j) {
        if (profiles[j].name == gpu.name) {
          diagnostics.error(where, fmt::format("duplicate GPU '{}' (first at line {})", gpu.name,
                                               named_at[j].line));
        }
      }
      profiles.push_back(std::move(gpu));
      named_at.push_back(where);
    }
  }
  diagnostics.throw_if_any();
  return profiles;
}

}  // namespace

std::vector<GpuProfile> read_gpu_file(const std::string& path) {
  return read_profiles(load_yaml_file(path));
}

const hardware::GpuCatalog& builtin_gpu_catalog() {
  static const hardware::GpuCatalog catalog = [] {
    hardware::GpuCatalog built_in;
    const std::string text(hardware::builtin_gpus_yaml());
    for (GpuProfile& gpu : read_profiles(parse_yaml(text, "<built-in hardware/gpus.yaml>")))
      built_in.add_or_replace(std::move(gpu));
    return built_in;
  }();
  return catalog;
}

hardware::GpuCatalog load_gpu_catalog(const std::vector<std::string>& files) {
  hardware::GpuCatalog catalog = builtin_gpu_catalog();
  Diagnostics diagnostics;
  for (const std::string& file : files) {
    try {
      for (GpuProfile& gpu : read_gpu_file(file))
        catalog.add_or_replace(std::move(gpu));
    } catch (const InputError& e) {
      for (const Diagnostic& d : e.diagnostics())
        diagnostics.error(d.where, d.message);
    }
  }
  diagnostics.throw_if_any();
  return catalog;
}

}  // namespace memsim::scenarios
