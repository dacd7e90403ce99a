#include "strategies/checkpointing.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/check.h"
#include "strategies/strategy_pass.h"

namespace memsim::strategies {

namespace {

/// Positions [first, last] of each layer's ops in forward order.
std::vector<sim::RecomputeSpan> layer_positions(const sim::LayerGraph& graph, int32_t first_layer,
                                                int32_t last_layer) {
  std::vector<sim::RecomputeSpan> spans(last_layer - first_layer + 1, {-1, -1});
  const auto order = graph.forward_order();
  for (int pos = 0; pos < static_cast<int>(order.size()); ++pos) {
    const int32_t layer = graph.op(order[pos]).layer;
    if (layer < first_layer || layer > last_layer) continue;
    sim::RecomputeSpan& span = spans[layer - first_layer];
    if (span.first < 0) span.first = pos;
    MEMSIM_CHECK(span.last < 0 || span.last == pos - 1);  // a layer's ops are contiguous
    span.last = pos;
  }
  return spans;
}

/// Groups of `every` layers over the first `count` of [first_layer, last_layer].
std::vector<sim::RecomputeSpan> groups_of(const sim::LayerGraph& graph, int64_t every,
                                          int32_t first_layer, int32_t last_layer,
                                          int64_t count = FullCheckpointing::kAllLayers) {
  auto layers = layer_positions(graph, first_layer, last_layer);
  if (count < static_cast<int64_t>(layers.size())) layers.resize(static_cast<size_t>(count));
  std::vector<sim::RecomputeSpan> spans;
  for (size_t i = 0; i < layers.size(); i += every) {
    const size_t end = std::min(layers.size(), i + static_cast<size_t>(every)) - 1;
    spans.push_back({layers[i].first, layers[end].last});
  }
  return spans;
}

/// Per-op selective checkpointing of the layers it checkpoints: each a span whose kept
/// matmuls and attention reuse their forward's outputs.
std::vector<sim::RecomputeSpan> op_selective_spans(const sim::LayerGraph& graph,
                                                   const OpSelectiveCheckpointing& policy,
                                                   int32_t first_layer, int32_t last_layer) {
  const auto order = graph.forward_order();
  std::vector<sim::RecomputeSpan> spans;
  const auto layers = layer_positions(graph, first_layer, last_layer);
  for (size_t i = 0; i < layers.size(); ++i) {
    if ((static_cast<int64_t>(i) + 1) % policy.every != 0) continue;
    sim::RecomputeSpan span = layers[i];
    int64_t matmuls = 0;
    for (int pos = span.first; pos <= span.last; ++pos) {
      const sim::FlopsRule flops = sim::op_info(graph.op(order[pos]).kind).flops;
      const bool kept_matmul = flops == sim::FlopsRule::kMatmul &&
                               matmuls++ % policy.matmul_every == 0 &&
                               (policy.save & kSaveMatmuls) != 0;
      const bool kept_attention =
          flops == sim::FlopsRule::kAttention && (policy.save & kSaveAttention) != 0;
      if (kept_matmul || kept_attention) span.reused.push_back(pos);
    }
    spans.push_back(std::move(span));
  }
  return spans;
}

}  // namespace

std::string describe(const CheckpointPolicy& policy) {
  struct Visitor {
    std::string operator()(const NoCheckpointing&) const { return "none"; }
    std::string operator()(const SelectiveCheckpointing&) const { return "selective"; }
    std::string operator()(const FullCheckpointing& full) const {
      const std::string groups =
          (full.every == 1 ? "full" : fmt::format("full every {} layers", full.every)) +
          (full.distribute ? ", inputs distributed" : "");
      if (full.layers == FullCheckpointing::kAllLayers) return groups;
      return fmt::format("{}, first {} layers of each chunk", groups, full.layers);
    }
    std::string operator()(const SqrtCheckpointing&) const { return "sqrt"; }
    std::string operator()(const OpSelectiveCheckpointing& op) const {
      std::vector<std::string> kept;
      if ((op.save & kSaveMatmuls) != 0) {
        kept.push_back(op.matmul_every == 1 ? "matmuls"
                                            : fmt::format("every {} matmuls", op.matmul_every));
      }
      if ((op.save & kSaveAttention) != 0) kept.emplace_back("attention");
      const std::string layers = op.every == 1 ? "" : fmt::format(", every {} layers", op.every);
      return kept.empty() ? fmt::format("per-op keeping nothing{}", layers)
                          : fmt::format("per-op keeping {}{}", fmt::join(kept, " and "), layers);
    }
  };
  return std::visit(Visitor{}, policy);
}

std::vector<sim::RecomputeSpan> recompute_spans(const sim::LayerGraph& graph,
                                                const CheckpointPolicy& policy, int32_t first_layer,
                                                int32_t last_layer) {
  if (last_layer < first_layer) return {};
  struct Visitor {
    const sim::LayerGraph& graph;
    int32_t first;
    int32_t last;
    std::vector<sim::RecomputeSpan> operator()(const NoCheckpointing&) const { return {}; }
    std::vector<sim::RecomputeSpan> operator()(const SelectiveCheckpointing&) const {
      std::vector<sim::RecomputeSpan> spans;
      const auto order = graph.forward_order();
      for (int pos = 0; pos < static_cast<int>(order.size()); ++pos) {
        const sim::OpNode& node = graph.op(order[pos]);
        if (node.kind == sim::OpKind::kAttentionEager && node.layer >= first &&
            node.layer <= last) {
          spans.push_back({pos, pos});
        }
      }
      return spans;
    }
    std::vector<sim::RecomputeSpan> operator()(const FullCheckpointing& full) const {
      return groups_of(graph, full.every, first, last, full.layers);
    }
    std::vector<sim::RecomputeSpan> operator()(const SqrtCheckpointing&) const {
      const auto layers = static_cast<double>(last - first + 1);
      return groups_of(graph, static_cast<int64_t>(std::ceil(std::sqrt(layers))), first, last);
    }
    std::vector<sim::RecomputeSpan> operator()(const OpSelectiveCheckpointing& op) const {
      return op_selective_spans(graph, op, first, last);
    }
  };
  return std::visit(Visitor{graph, first_layer, last_layer}, policy);
}

namespace {

constexpr auto kPolicy = MEMSIM_PLAN_FIELD(training.chunk_passes.checkpointing);

void select_full(Plan& plan) {
  kPolicy(plan) = FullCheckpointing{1};
}

/// A distributed checkpoint: each group's hidden state, the input its first op reads, stays
/// as this rank's share from the group's forward end until its recomputation. Megatron-LM
/// splits the checkpoint's first argument, the hidden states, in place after the forward
/// and gathers it at the start of the backward (megatron/core/tensor_parallel/random.py,
/// CheckpointFunction, Megatron-LM d98e8a6); DeepSpeed partitions each floating-point
/// argument (deepspeed/runtime/activation_checkpointing/checkpointing.py,
/// partition_activations, DeepSpeed edaa722), in a GPT the hidden states alone.
std::vector<sim::HostMove> distribute_inputs(const std::vector<sim::RecomputeSpan>& spans,
                                             const sim::LayerGraph& graph,
                                             const std::vector<sim::KeptTensor>& kept) {
  std::vector<sim::HostMove> moves;
  const auto order = graph.forward_order();
  for (const sim::KeptTensor& k : kept) {
    for (const sim::RecomputeSpan& span : spans) {
      const auto& first_inputs = graph.op(order[span.first]).inputs;
      const bool hidden =
          std::find(first_inputs.begin(), first_inputs.end(), k.tensor) != first_inputs.end();
      if (!hidden || k.first_need < span.first || k.first_need > span.last) continue;
      moves.push_back({k.tensor, std::max(span.last, k.last_forward_use), span.last, true});
    }
  }
  return moves;
}

/// Each chunk's recompute spans, over the transformer layers it holds.
void recompute_chunks(const RecipeSettings& settings, sim::RankProgram& program) {
  const sim::LayerGraph& graph = *program.graph;
  for (const sim::ChunkSpan& chunk : program.chunks) {
    const auto [first, last] = graph.transformer_layers(chunk.first, chunk.last);
    const auto spans = recompute_spans(graph, settings.passes.checkpointing, first, last);
    program.recompute.insert(program.recompute.end(), spans.begin(), spans.end());
  }
  const auto* full = std::get_if<FullCheckpointing>(&settings.passes.checkpointing);
  if (full == nullptr || !full->distribute) return;
  program.host_moves = [spans = program.recompute](const sim::LayerGraph& graph, sim::ChunkSpan,
                                                   const std::vector<sim::KeptTensor>& kept) {
    return distribute_inputs(spans, graph, kept);
  };
}

/// The policy of kind `Policy` that one of its keys edits: the plan's, or a fresh one.
template <class Policy>
Policy& edited(Plan& plan) {
  if (!std::holds_alternative<Policy>(kPolicy(plan))) kPolicy(plan) = Policy{};
  return std::get<Policy>(kPolicy(plan));
}

/// A key of a policy's mapping (`checkpointing.full`, `checkpointing.selective`): one of its
/// integers, which selects the policy (0 when another policy).
template <class Policy, int64_t Policy::*Field>
SettingKey policy_row(const char* dotted, const char* meaning) {
  return setting_row(dotted, meaning,
                     {.read = SettingKey::Read::kInteger,
                      .least = 1,
                      .most = static_cast<double>(int64_t{1} << 20),
                      .copy = [](Plan& to, const Plan& from) { kPolicy(to) = kPolicy(from); },
                      .number =
                          [](const Plan& p) {
                            const auto* policy = std::get_if<Policy>(&kPolicy(p));
                            return policy == nullptr ? 0.0 : static_cast<double>(policy->*Field);
                          },
                      .set_integer = [](Plan& p, int64_t v) { edited<Policy>(p).*Field = v; }});
}

/// A flag of the full policy's mapping, which selects the policy.
template <bool FullCheckpointing::*Field>
SettingKey full_flag_row(const char* dotted, const char* meaning) {
  return setting_row(
      dotted, meaning,
      {.read = SettingKey::Read::kFlag,
       .least = 0.0,
       .most = 1.0,
       .copy = [](Plan& to, const Plan& from) { kPolicy(to) = kPolicy(from); },
       .number =
           [](const Plan& p) {
             const auto* full = std::get_if<FullCheckpointing>(&kPolicy(p));
             return full != nullptr && full->*Field ? 1.0 : 0.0;
           },
       .set_number = [](Plan& p, double v) { edited<FullCheckpointing>(p).*Field = v != 0.0; }});
}

bool distributed(const Plan& plan) {
  const auto* full = std::get_if<FullCheckpointing>(&kPolicy(plan));
  return full != nullptr && full->distribute;
}
/// Megatron-LM's arguments refuse it without tensor parallelism (megatron/training/
/// arguments.py) and with sequence parallelism (megatron/core/transformer/
/// transformer_config.py), where the hidden states are split already.
bool distributed_without_tp(const Plan& plan) {
  return distributed(plan) && (plan.parallel.tp.degree == 1 || plan.parallel.tp.sequence_parallel);
}
/// One strategy moves a tensor: memsim does not move a share to host memory (DeepSpeed's
/// cpu_checkpointing with partition_activations).
bool distributed_and_offloaded(const Plan& plan) {
  return distributed(plan) && plan.training.chunk_passes.activation_offload.layers > 0;
}

std::vector<SettingKey> selective_rows() {
  SettingKey save =
      setting_row("checkpointing.selective.save",
                  "the ops whose outputs a checkpointed layer keeps: a list of matmul, attention",
                  {.read = SettingKey::Read::kWordSet,
                   .words = {{"matmul", kSaveMatmuls}, {"attention", kSaveAttention}},
                   .copy = [](Plan& to, const Plan& from) { kPolicy(to) = kPolicy(from); },
                   .number =
                       [](const Plan& p) {
                         const auto* op = std::get_if<OpSelectiveCheckpointing>(&kPolicy(p));
                         return op == nullptr ? 0.0 : static_cast<double>(op->save);
                       },
                   .set_integer =
                       [](Plan& p, int64_t v) {
                         edited<OpSelectiveCheckpointing>(p).save = static_cast<uint8_t>(v);
                       }});
  return {
      mapping_row("checkpointing.selective",
                  "per-op selective checkpointing (PyTorch's, as torchtitan runs it): a "
                  "checkpointed layer keeps its input and the outputs of the ops in save",
                  kPolicy, {}, [](Plan& p) { kPolicy(p) = OpSelectiveCheckpointing{}; }),
      std::move(save),
      policy_row<OpSelectiveCheckpointing, &OpSelectiveCheckpointing::matmul_every>(
          "checkpointing.selective.matmul_every",
          "of a layer's matmuls, keep the 1st, (1 + n)th, ... (torchtitan: 2)"),
      policy_row<OpSelectiveCheckpointing, &OpSelectiveCheckpointing::every>(
          "checkpointing.selective.every",
          "checkpoint the n-th, 2n-th, ... layer; the others keep everything (1)"),
  };
}

}  // namespace

StrategyPass checkpointing_pass() {
  std::vector<SettingKey> keys = {
      mapping_row("checkpointing",
                  "none | selective | full | sqrt | {full: {every: k}} | {selective: "
                  "{save, matmul_every, every}}: what the backward recomputes",
                  kPolicy,
                  {{"none", [](Plan& p) { kPolicy(p) = NoCheckpointing{}; }},
                   {"selective", [](Plan& p) { kPolicy(p) = SelectiveCheckpointing{}; }},
                   {"full", select_full},
                   {"sqrt", [](Plan& p) { kPolicy(p) = SqrtCheckpointing{}; }}}),
      mapping_row("checkpointing.full",
                  "keep the input of every group of layers, recompute the rest in its "
                  "backward",
                  kPolicy, {}, select_full),
      policy_row<FullCheckpointing, &FullCheckpointing::every>("checkpointing.full.every",
                                                               "layers per recomputed group (1)"),
      policy_row<FullCheckpointing, &FullCheckpointing::layers>(
          "checkpointing.full.layers",
          "checkpoint only each chunk's first n layers; the others keep everything (all)"),
      full_flag_row<&FullCheckpointing::distribute>(
          "checkpointing.full.distribute",
          "each tensor-parallel rank keeps its share of a group's input, gathered before the "
          "recomputation (Megatron-LM's distribute_saved_activations, DeepSpeed's "
          "partition_activations)")};
  for (SettingKey& key : selective_rows())
    keys.push_back(std::move(key));
  return {
      .name = "activation checkpointing",
      .keys = std::move(keys),
      .checks = {{"checkpointing parallel.tp parallel.sequence_parallel",
                  "distributed checkpoints need TP without SP", distributed_without_tp,
                  [](const Plan&) -> std::string {
                    return "checkpointing.full.distribute splits each group's input over the "
                           "tensor-parallel ranks: it needs tp > 1 without sequence_parallel "
                           "(which splits it already)";
                  }},
                 {"checkpointing training.activation_offload",
                  "distributed checkpoints with activation offload", distributed_and_offloaded,
                  [](const Plan&) -> std::string {
                    return "checkpointing.full.distribute with training.activation_offload: "
                           "memsim does not move a rank's share of a checkpoint to host memory";
                  }}},
      .shape_chunks = recompute_chunks,
  };
}

}  // namespace memsim::strategies
