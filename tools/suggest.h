#pragma once
/// "How to make it fit": the smallest changes to a variant's strategy that make it fit,
/// found by the sweep engine over the strategy keys that keep the training's arithmetic
/// (checkpointing, ZeRO stage, offload, tensor, sequence and pipeline parallelism,
/// micro-batch; for serving the formats of the weights and the cache and the parallelism).
/// The model, the GPUs and the global batch stay; more nodes, or pure bf16 and 8-bit Adam
/// (which change the arithmetic), only when allowed. A change is smallest when no fitting
/// change uses a strict subset of its keys; the smallest rank by the step time.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/config_tree.h"
#include "sim/units.h"
#include "strategies/plan.h"

namespace memsim::tools {

struct Suggestion {
  std::vector<std::pair<std::string, std::string>> changes;  ///< dotted key, value as YAML
  sim::Bytes peak;
  double step_time_s = 0.0;

  /// "--set checkpointing=full --set 'training.optimizer={name: adam8bit}'"
  std::string set_flags() const;
  /// The same laid out within `width`: a line breaks only between two --set flags and ends
  /// in " \\" (so that the lines paste into a shell), later lines after `indent`.
  std::vector<std::string> set_flag_lines(size_t width, const std::string& indent) const;
  /// "{checkpointing: full, parallel: {zero: 3, offload: optimizer}}"
  std::string yaml() const;
};

struct SuggestOptions {
  std::vector<std::string> keep;  ///< dotted keys not to change
  bool allow_gpus = false;        ///< also 2, 4 and 8 times the nodes
  bool allow_precision = false;   ///< also pure bf16 and 8-bit Adam
  size_t most = 3;                ///< suggestions at most
  /// Only the smallest changes; otherwise the others follow them, fewest keys first.
  bool only_smallest = true;
};

/// The strategy keys suggestions may change, for --keep's messages.
std::vector<std::string> suggestion_keys();

/// The changes that make the variant configured by `config` (its scenario in `dir`), whose
/// plan is `plan`, fit, fastest first; none when it fits already or nothing makes it fit.
std::vector<Suggestion> suggest(const scenarios::ConfigNode& config, const std::string& dir,
                                const strategies::Plan& plan,
                                const SuggestOptions& options);

}  // namespace memsim::tools
