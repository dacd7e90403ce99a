#include "strategies/checkpointing.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

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

std::vector<sim::RecomputeSpan> groups_of(const sim::LayerGraph& graph, int64_t every,
                                          int32_t first_layer, int32_t last_layer) {
  const auto layers = layer_positions(graph, first_layer, last_layer);
  std::vector<sim::RecomputeSpan> spans;
  for (size_t i = 0; i < layers.size(); i += every) {
    const size_t end = std::min(layers.size(), i + static_cast<size_t>(every)) - 1;
    spans.push_back({layers[i].first, layers[end].last});
  }
  return spans;
}

}  // namespace

std::string describe(const CheckpointPolicy& policy) {
  struct Visitor {
    std::string operator()(const NoCheckpointing&) const { return "none"; }
    std::string operator()(const SelectiveCheckpointing&) const { return "selective"; }
    std::string operator()(const FullCheckpointing& full) const {
      return full.every == 1 ? "full" : fmt::format("full every {} layers", full.every);
    }
    std::string operator()(const SqrtCheckpointing&) const { return "sqrt"; }
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
      return groups_of(graph, full.every, first, last);
    }
    std::vector<sim::RecomputeSpan> operator()(const SqrtCheckpointing&) const {
      const auto layers = static_cast<double>(last - first + 1);
      return groups_of(graph, static_cast<int64_t>(std::ceil(std::sqrt(layers))), first, last);
    }
  };
  return std::visit(Visitor{graph, first_layer, last_layer}, policy);
}

namespace {

constexpr auto kPolicy = MEMSIM_PLAN_FIELD(training.chunk_passes.checkpointing);

void select_full(Plan& plan) {
  kPolicy(plan) = FullCheckpointing{1};
}

/// Each chunk's recompute spans, over the transformer layers it holds.
void recompute_chunks(const RecipeSettings& settings, sim::RankProgram& program) {
  const sim::LayerGraph& graph = *program.graph;
  for (const sim::ChunkSpan& chunk : program.chunks) {
    const auto [first, last] = graph.transformer_layers(chunk.first, chunk.last);
    const auto spans = recompute_spans(graph, settings.passes.checkpointing, first, last);
    program.recompute.insert(program.recompute.end(), spans.begin(), spans.end());
  }
}

/// checkpointing.full.every: the group size of full checkpointing, which it selects.
SettingKey every_row() {
  return setting_row(
      "checkpointing.full.every", "layers per recomputed group (1)",
      {.read = SettingKey::Read::kInteger,
       .least = 1,
       .most = 1 << 20,
       .copy = [](Plan& to, const Plan& from) { kPolicy(to) = kPolicy(from); },
       .number =
           [](const Plan& p) {
             const auto* full = std::get_if<FullCheckpointing>(&kPolicy(p));
             return full == nullptr ? 0.0 : static_cast<double>(full->every);
           },
       .set_integer = [](Plan& p, int64_t every) { kPolicy(p) = FullCheckpointing{every}; }});
}

}  // namespace

StrategyPass checkpointing_pass() {
  return {
      .name = "activation checkpointing",
      .keys = {mapping_row("checkpointing",
                           "none | selective | full | sqrt | {full: {every: k}}: what the "
                           "backward recomputes",
                           kPolicy,
                           {{"none", [](Plan& p) { kPolicy(p) = NoCheckpointing{}; }},
                            {"selective", [](Plan& p) { kPolicy(p) = SelectiveCheckpointing{}; }},
                            {"full", select_full},
                            {"sqrt", [](Plan& p) { kPolicy(p) = SqrtCheckpointing{}; }}}),
               mapping_row("checkpointing.full",
                           "keep the input of every group of layers, recompute the rest in its "
                           "backward",
                           kPolicy, {}, select_full),
               every_row()},
      .shape_chunks = recompute_chunks,
  };
}

}  // namespace memsim::strategies
