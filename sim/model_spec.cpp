#include "sim/model_spec.h"

#include <fmt/format.h>

namespace memsim::sim {

namespace {

// Upper bounds keep every product of dimensions far inside 64 bits.
constexpr int64_t kMaxDimension = int64_t{1} << 24;

void check_positive(std::vector<SpecProblem>& problems, const std::string& key, int64_t value) {
  if (value <= 0) {
    problems.push_back({key, fmt::format("{} = {} must be a positive integer", key, value)});
  } else if (value > kMaxDimension) {
    problems.push_back({key, fmt::format("{} = {} is larger than {}", key, value, kMaxDimension)});
  }
}

}  // namespace

std::vector<SpecProblem> find_problems(const ModelSpec& spec) {
  std::vector<SpecProblem> problems;
  check_positive(problems, "layers", spec.layers);
  check_positive(problems, "hidden", spec.hidden);
  check_positive(problems, "heads", spec.heads);
  check_positive(problems, "kv_heads", spec.kv_heads);
  check_positive(problems, "ffn", spec.ffn);
  check_positive(problems, "vocab", spec.vocab);
  if (spec.head_dim != 0) check_positive(problems, "head_dim", spec.head_dim);
  if (spec.positions == PositionType::kLearned) {
    check_positive(problems, "max_positions", spec.max_positions);
  }
  if (spec.dropout < 0.0 || spec.dropout >= 1.0) {
    problems.push_back({"dropout", fmt::format("dropout = {} must be in [0, 1)", spec.dropout)});
  }
  if (!problems.empty()) return problems;

  if (spec.head_dim == 0 && spec.hidden % spec.heads != 0) {
    problems.push_back(
        {"heads", fmt::format("heads = {} does not divide hidden ({})", spec.heads, spec.hidden)});
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
std::string to_string(AttentionImpl impl) {
  return impl == AttentionImpl::kEager ? "eager" : "flash";
}

}  // namespace memsim::sim
