#include "strategies/data_parallel.h"

#include <algorithm>

namespace memsim::strategies {

namespace {

using sim::Bytes;
using sim::Category;

/// One rank's part of `total` split `dp` ways with padding: ⌈total / dp⌉.
int64_t shard(int64_t total, int64_t dp) {
  return sim::ceil_div(total, dp);
}
Bytes shard(Bytes total, int64_t dp) {
  return Bytes(sim::ceil_div(total.value(), dp));
}

}  // namespace

std::vector<sim::HeldBuffer> held_buffers(int prefetch) {
  using sim::HeldSpan;
  return {{HeldSpan::kBackwardPass, Category::kTemporary, kGradientBucket, 0},
          {HeldSpan::kLayerRuns, Category::kWeights, kGatheredParameters, prefetch},
          {HeldSpan::kBackwardRuns, Category::kGradients, kLayerGradients, 0}};
}

ShardedStates shard_states(const std::vector<RankParam>& params, const sim::LayerGraph& graph,
                           const DataParallelism& dp, const Precision& precision,
                           const OptimizerSettings& optimizer) {
  const int64_t n = dp.degree;
  const sim::CategoryBytes full = unsharded_states(params, precision, optimizer);
  const bool offload = dp.offload != Offload::kNone;
  ShardedStates out;
  out.gradients_per_twin.assign(graph.twins().size(), Bytes{});
  out.gathered.assign(graph.layer_slots(), Bytes{});
  out.gradients.assign(graph.layer_slots(), Bytes{});

  // Per layer kind, what one layer gathers and reduces (not times `count`: that is how many
  // layers there are); over the rank, everything times `count`.
  int64_t elements = 0;
  int64_t persistent = 0;  // ZeRO-3: small tensors kept whole
  for (const RankParam& p : params) {
    const Bytes weight = sim::bytes_of({p.elements()}, precision.weight_bytes());
    const Bytes gradient = sim::bytes_of({p.elements()}, precision.gradient_bytes());
    out.gradients[graph.layer_slot(p.layer)] += gradient;
    if (!p.tied) {
      elements += p.elements() * p.count;
      out.gradients_per_twin[graph.twin_slot(p.op)] += gradient;
    }
    if (dp.zero == 3) {
      if (p.elements() < dp.persistence_threshold) {
        if (!p.tied) persistent += p.elements() * p.count;
      } else {
        out.gathered[graph.layer_slot(p.layer)] += weight;
      }
    }
  }

  // Optimizer states and fp32 master weights: sharded from ZeRO-1 on.
  const Bytes master =
      dp.zero >= 1 ? shard(full[Category::kMasterWeights], n) : full[Category::kMasterWeights];
  const Bytes states =
      dp.zero >= 1 ? shard(full[Category::kOptimizer], n) : full[Category::kOptimizer];
  // Gradients: whole under ZeRO-0/1, this rank's shard from ZeRO-2 on. With offload the
  // optimizer steps on the CPU from fp32 gradients kept there (ZeRO-Offload).
  const Bytes gradients =
      dp.zero >= 2 ? shard(full[Category::kGradients], n) : full[Category::kGradients];
  // Weights: whole below ZeRO-3; then this rank's shard plus the small tensors kept whole.
  const Bytes weights = dp.zero == 3 ? sim::bytes_of({shard(elements - persistent, n) + persistent},
                                                     precision.weight_bytes())
                                     : full[Category::kWeights];

  out.gpu[Category::kWeights] = weights;
  if (offload) {
    out.cpu = master + states + sim::bytes_of({shard(elements, n)}, 4);
    if (dp.offload == Offload::kOptimizerAndParams) {
      out.gpu[Category::kWeights] = sim::bytes_of({persistent}, precision.weight_bytes());
      out.cpu += weights - out.gpu[Category::kWeights];
    }
  } else {
    out.gpu[Category::kMasterWeights] = master;
    out.gpu[Category::kOptimizer] = states;
    out.gpu[Category::kGradients] = gradients;
  }
  out.gradients_resident_in_full = dp.zero < 2 && !offload;
  if (out.gradients_resident_in_full)
    std::fill(out.gradients.begin(), out.gradients.end(), Bytes{});
  if (dp.zero >= 1 || offload) {
    out.reduce_bucket =
        sim::bytes_of({std::min(dp.reduce_bucket_elements, elements)}, precision.gradient_bytes());
  }
  return out;
}

int64_t owned_parameters(const std::vector<RankParam>& params, const DataParallelism& dp,
                         int64_t dp_rank) {
  int64_t owned = 0;
  for (const RankParam& p : params)
    owned += p.owned;
  if (dp.zero < 3) return owned;
  const int64_t part = shard(owned, dp.degree);
  return std::clamp<int64_t>(owned - dp_rank * part, 0, part);
}

}  // namespace memsim::strategies
