#include "sim/model_spec.h"

#include <fmt/format.h>

#include "sim/limits.h"

namespace memsim::sim {

namespace {

void check_size(std::vector<SpecProblem>& problems, const std::string& key, int64_t value,
                int64_t most) {
  if (value <= 0) {
    problems.push_back({key, fmt::format("{} = {} must be a positive integer", key, value)});
  } else if (value > most) {
    problems.push_back(
        {key, fmt::format("{} = {} is more than memsim simulates ({})", key, value, most)});
  }
}

/// The ranges of `layer_kinds` inside the model, each with a valid width, none overlapping.
void check_layer_kinds(std::vector<SpecProblem>& problems, const ModelSpec& spec) {
  std::vector<bool> taken(static_cast<size_t>(spec.layers), false);
  for (const LayerRange& range : spec.layer_kinds) {
    if (range.first < 0 || range.last < range.first || range.last >= spec.layers) {
      problems.push_back({"layer_kinds", fmt::format("layer_kinds: layers {}-{} are not a range of "
                                                     "the model's layers (0-{})",
                                                     range.first, range.last, spec.layers - 1)});
      continue;
    }
    if (range.ffn <= 0 || range.ffn > kMostFfn) {
      problems.push_back({"layer_kinds", fmt::format("layer_kinds: ffn = {} must be from 1 to {}",
                                                     range.ffn, kMostFfn)});
    }
    for (int64_t layer = range.first; layer <= range.last; ++layer) {
      if (taken[static_cast<size_t>(layer)]) {
        problems.push_back(
            {"layer_kinds", fmt::format("layer_kinds: layer {} is in two ranges", layer)});
        break;
      }
      taken[static_cast<size_t>(layer)] = true;
    }
  }
}

}  // namespace

int64_t ModelSpec::ffn_of_layer(int64_t layer) const {
  for (const LayerRange& range : layer_kinds) {
    if (range.first <= layer && layer <= range.last) return range.ffn;
  }
  return ffn;
}

int64_t ModelSpec::ffn_not_divided_by(int64_t d) const {
  int64_t covered = 0;  // layers of other widths (the ranges do not overlap)
  for (const LayerRange& range : layer_kinds) {
    if (range.ffn % d != 0) return range.ffn;
    covered += range.last - range.first + 1;
  }
  return covered < layers && ffn % d != 0 ? ffn : 0;
}

std::vector<SpecProblem> find_problems(const ModelSpec& spec) {
  std::vector<SpecProblem> problems;
  check_size(problems, "layers", spec.layers, kMostLayers);
  check_size(problems, "hidden", spec.hidden, kMostHidden);
  check_size(problems, "heads", spec.heads, kMostHeads);
  check_size(problems, "kv_heads", spec.kv_heads, kMostHeads);
  check_size(problems, "ffn", spec.ffn, kMostFfn);
  check_size(problems, "vocab", spec.vocab, kMostVocab);
  if (spec.head_dim != 0) check_size(problems, "head_dim", spec.head_dim, kMostHidden);
  if (spec.positions == PositionType::kLearned) {
    check_size(problems, "max_positions", spec.max_positions, kMostPositions);
  }
  if (spec.attention_window < 0) {
    problems.push_back({"attention_window", "attention_window must not be negative"});
  }
  if (spec.dropout < 0.0 || spec.dropout >= 1.0) {
    problems.push_back({"dropout", fmt::format("dropout = {} must be in [0, 1)", spec.dropout)});
  }
  if (!problems.empty()) return problems;
  check_layer_kinds(problems, spec);

  if (spec.head_dim == 0 && spec.hidden % spec.heads != 0) {
    problems.push_back(
        {"heads", fmt::format("heads = {} does not divide hidden ({})", spec.heads, spec.hidden)});
  }
  if (spec.head_dim != 0 && spec.heads * spec.head_dim > kMostHidden) {
    problems.push_back({"head_dim", fmt::format("heads × head_dim = {} × {} is more than memsim "
                                                "simulates ({})",
                                                spec.heads, spec.head_dim, kMostHidden)});
  }
  if (spec.norm_kernel != NormKernel::kFused && spec.norm != NormType::kRmsNorm) {
    problems.push_back(
        {"norm_kernel",
         fmt::format("norm_kernel = {} is an RMSNorm in PyTorch ops; a layernorm is one kernel "
                     "(torch's native_layer_norm)",
                     spec.norm_kernel == NormKernel::kEager ? "eager" : "eager-fp32")});
  }
  if (spec.swiglu_kernel == SwiGluKernel::kFused && spec.ffn_type != FfnType::kSwiGlu) {
    problems.push_back({"swiglu_kernel", "swiglu_kernel = fused needs ffn_type = swiglu"});
  }
  if (spec.softmax_kernel == SoftmaxKernel::kFp32 && spec.attention != AttentionImpl::kEager) {
    problems.push_back({"softmax_kernel",
                        "softmax_kernel = fp32 is eager attention's softmax; a fused attention "
                        "core keeps no probabilities"});
  }
  if (spec.heads % spec.kv_heads != 0) {
    problems.push_back({"kv_heads", fmt::format("kv_heads = {} does not divide heads ({})",
                                                spec.kv_heads, spec.heads)});
  }
  return problems;
}

std::string to_string(FfnType type) {
  return type == FfnType::kGelu ? "gelu" : "swiglu";
}
std::string to_string(NormType type) {
  return type == NormType::kLayerNorm ? "layernorm" : "rmsnorm";
}
std::string to_string(PositionType type) {
  switch (type) {
    case PositionType::kRope:
      return "rope";
    case PositionType::kLearned:
      return "learned";
    case PositionType::kNone:
      return "none";
  }
  return "?";
}

}  // namespace memsim::sim
