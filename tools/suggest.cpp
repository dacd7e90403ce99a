#include "tools/suggest.h"

#include <algorithm>
#include <bit>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "evaluation/fast_evaluator.h"
#include "scenarios/plan_reader.h"
#include "scenarios/sweep.h"

namespace memsim::tools {

namespace {

using scenarios::ConfigNode;

/// A key suggestions may change: the values tried besides the current one, and the value
/// when the scenario does not write it.
struct AxisSpec {
  const char* key;
  std::vector<const char*> values;
  const char* default_value;
};

// Training: what trades memory for time without changing the model, the GPUs or the batch.
const std::vector<AxisSpec> kTrainingAxes = {
    {"checkpointing", {"none", "selective", "full"}, "none"},
    {"parallel.zero", {"0", "1", "2", "3"}, "0"},
    {"parallel.offload", {"none", "optimizer", "optimizer+params"}, "none"},
    {"parallel.tp", {"1", "2", "4", "8"}, "1"},
    {"parallel.sequence_parallel", {"false", "true"}, "false"},
    {"parallel.pp", {"1", "2", "4", "8"}, "1"},
    {"parallel.dp", {"auto"}, "auto"},
    {"training.micro_batch", {"1", "2", "4", "8", "16"}, "1"},
};
// Training when allowed: arithmetic that holds less (and trains differently).
const std::vector<AxisSpec> kPrecisionAxes = {
    {"precision.recipe", {"bf16"}, "bf16-mixed"},
    {"training.optimizer", {"{name: adam8bit}"}, "{name: adamw}"},
};
// Serving: the weights' and the cache's formats, and how the GPUs split the model.
const std::vector<AxisSpec> kServingAxes = {
    {"inference.weights", {"fp8", "int8", "int4"}, "bf16"},
    {"inference.kv_cache", {"fp8"}, "bf16"},
    {"parallel.tp", {"1", "2", "4", "8"}, "1"},
    {"parallel.pp", {"1", "2", "4", "8"}, "1"},
    {"parallel.dp", {"auto"}, "auto"},
};

/// One key of the search: its values as YAML text, the first the variant's own.
struct Axis {
  std::string key;
  std::vector<std::string> values;
};

/// The variant's value of `spec`, then each other value that the variant can read.
Axis axis_of(const AxisSpec& spec, const ConfigNode& config, const std::string& dir) {
  const ConfigNode* written = scenarios::find_dotted(config, spec.key);
  Axis axis{spec.key, {written != nullptr ? scenarios::flow_text(*written) : spec.default_value}};
  for (const char* value : spec.values) {
    if (std::find(axis.values.begin(), axis.values.end(), value) != axis.values.end()) continue;
    ConfigNode with = config;
    scenarios::set_dotted(with, spec.key, scenarios::parse_yaml(value, "suggest"));
    scenarios::Diagnostics problems;
    std::vector<scenarios::Diagnostic> warnings;
    if (scenarios::read_plan(with, dir, problems, warnings, false)) axis.values.push_back(value);
  }
  return axis;
}

ConfigNode sweep_of(const std::vector<Axis>& axes) {
  ConfigNode sweep;
  sweep.kind = ConfigNode::Kind::kMap;
  for (const Axis& axis : axes) {
    ConfigNode list;
    list.kind = ConfigNode::Kind::kSequence;
    for (const std::string& value : axis.values)
      list.items.push_back(scenarios::parse_yaml(value, "suggest"));
    sweep.entries.push_back({axis.key, {}, std::move(list)});
  }
  return sweep;
}

/// The fastest fitting point of each set of changed keys (a bit per axis).
struct Best {
  uint64_t point = 0;
  evaluation::FastResult result;
};

/// Whether step time `a` is shorter than `b` by more than rounding: the fast evaluation's
/// times are exact to about 1e-14 relative (a timing moved on by whole cycles), and which
/// way such a difference falls must not decide a suggestion.
bool clearly_shorter(double a, double b) {
  return a < b * (1.0 - 1e-9);
}

/// Whether `candidate` is a better point of its set than `best`: clearly faster, or as fast
/// and lighter.
bool better_point(const evaluation::FastResult& candidate, const evaluation::FastResult& best) {
  if (clearly_shorter(candidate.step_time_s, best.step_time_s)) return true;
  return !clearly_shorter(best.step_time_s, candidate.step_time_s) && candidate.peak < best.peak;
}

/// Whether no other fitting set of keys is part of `set`.
bool smallest(uint32_t set, const std::map<uint32_t, Best>& best) {
  return std::none_of(best.begin(), best.end(), [&](const auto& other) {
    return other.first != set && (other.first & set) == other.first;
  });
}

/// Whether `set` is faster than every fitting set of keys that is part of it: changing more
/// is worth saying only when it buys time.
bool faster_than_its_parts(uint32_t set, const std::map<uint32_t, Best>& best) {
  const double time = best.at(set).result.step_time_s;
  return std::none_of(best.begin(), best.end(), [&](const auto& other) {
    return other.first != set && (other.first & set) == other.first &&
           !clearly_shorter(time, other.second.result.step_time_s);
  });
}

std::string quoted(const std::string& text) {
  const bool plain = text.find_first_of(" {}[],'\"") == std::string::npos;
  return plain ? text : "'" + text + "'";
}

}  // namespace

std::string Suggestion::set_flags() const {
  std::string text;
  for (const auto& [key, value] : changes)
    text += fmt::format("{}--set {}", text.empty() ? "" : " ", quoted(key + "=" + value));
  return text;
}

std::vector<std::string> Suggestion::set_flag_lines(size_t width, const std::string& indent) const {
  std::vector<std::string> lines(1);
  for (const auto& [key, value] : changes) {
    const std::string flag = "--set " + quoted(key + "=" + value);
    std::string& line = lines.back();
    const size_t used = line.size() + (lines.size() > 1 ? indent.size() : 0);
    if (!line.empty() && used + 1 + flag.size() + 2 > width) {
      line += " \\";
      lines.push_back(flag);
    } else {
      line += (line.empty() ? "" : " ") + flag;
    }
  }
  for (size_t i = 1; i < lines.size(); ++i)
    lines[i] = indent + lines[i];
  return lines;
}

std::string Suggestion::yaml() const {
  ConfigNode root;
  root.kind = ConfigNode::Kind::kMap;
  for (const auto& [key, value] : changes)
    scenarios::set_dotted(root, key, scenarios::parse_yaml(value, "suggest"));
  return scenarios::flow_text(root);
}

std::vector<std::string> suggestion_keys() {
  std::vector<std::string> keys;
  for (const auto* axes : {&kTrainingAxes, &kServingAxes, &kPrecisionAxes}) {
    for (const AxisSpec& spec : *axes) {
      if (std::find(keys.begin(), keys.end(), spec.key) == keys.end()) keys.emplace_back(spec.key);
    }
  }
  keys.emplace_back("hardware.nodes");
  return keys;
}

std::vector<Suggestion> suggest(const ConfigNode& config, const std::string& dir,
                                const strategies::Plan& plan, const SuggestOptions& options) {
  const bool serving = plan.mode == strategies::Mode::kInference;
  std::vector<AxisSpec> specs = serving ? kServingAxes : kTrainingAxes;
  if (!serving && options.allow_precision) {
    specs.insert(specs.end(), kPrecisionAxes.begin(), kPrecisionAxes.end());
  }
  std::vector<Axis> axes;
  for (const AxisSpec& spec : specs) {
    const bool kept =
        std::find(options.keep.begin(), options.keep.end(), spec.key) != options.keep.end();
    if (!kept) axes.push_back(axis_of(spec, config, dir));
  }
  if (options.allow_gpus) {
    Axis& nodes = axes.emplace_back(Axis{"hardware.nodes", {}});
    for (int64_t factor : {1, 2, 4, 8})
      nodes.values.push_back(std::to_string(plan.cluster.nodes * factor));
  }
  scenarios::Diagnostics problems;
  const scenarios::Sweep sweep = scenarios::read_sweep(sweep_of(axes), {}, config, dir, problems);

  evaluation::FastEvaluator evaluator;
  std::map<uint32_t, Best> best;
  strategies::Plan point_plan = sweep.base();
  std::vector<size_t> at;
  for (uint64_t point = 0; point < sweep.points(); ++point) {
    if (!sweep.prepare(point, point_plan).empty()) continue;
    const evaluation::FastResult result =
        evaluator.evaluate(point_plan, evaluation::StagePeaks::kLargestOnly);
    if (!result.fits) continue;
    sweep.coordinates(point, at);
    uint32_t set = 0;
    for (size_t a = 0; a < at.size(); ++a)
      set |= at[a] != 0 ? uint32_t{1} << a : 0;
    if (set == 0) return {};  // it fits as it is
    auto [found, added] = best.try_emplace(set, Best{point, result});
    if (!added && better_point(result, found->second.result)) found->second = {point, result};
  }
  // The smallest sets by step time, then (when wanted) the rest by size and step time.
  std::vector<std::pair<uint32_t, bool>> sets;
  for (const auto& [set, unused] : best) {
    const bool is_smallest = smallest(set, best);
    if (is_smallest || (!options.only_smallest && faster_than_its_parts(set, best))) {
      sets.emplace_back(set, is_smallest);
    }
  }
  const auto rank = [&](const std::pair<uint32_t, bool>& s) {
    return std::tuple{!s.second, s.second ? 0 : std::popcount(s.first),
                      best.at(s.first).result.step_time_s};
  };
  std::sort(sets.begin(), sets.end(),
            [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  std::vector<Suggestion> suggestions;
  for (const auto& [set, unused] : sets) {
    if (suggestions.size() == options.most) break;
    const Best& b = best.at(set);
    sweep.coordinates(b.point, at);
    Suggestion& s = suggestions.emplace_back();
    for (size_t a = 0; a < at.size(); ++a) {
      if (at[a] != 0) s.changes.emplace_back(axes[a].key, axes[a].values[at[a]]);
    }
    s.peak = b.result.peak;
    s.step_time_s = b.result.step_time_s;
  }
  return suggestions;
}

}  // namespace memsim::tools
