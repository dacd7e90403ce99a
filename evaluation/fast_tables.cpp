#include "evaluation/fast_tables.h"

#include <numeric>

#include "evaluation/stage_sizes.h"
#include "sim/check.h"

namespace memsim::evaluation::fast {

StageLayout stage_layout(const LayoutKey& key) {
  StageLayout layout;
  const int64_t stages = key.pp.stages;
  const sim::LayerGraph& graph = *key.model->graph;
  const std::vector<int64_t> per_chunk = chunk_layers(graph.model().layers, key.pp);
  for (int64_t s = 0; s < stages; ++s) {
    std::vector<ChunkShape> shapes = stage_shapes(per_chunk, s, key.pp);
    for (ChunkShape& shape : shapes)
      shape = canonical_shape(graph, shape);
    layout.shapes.push_back(std::move(shapes));
    size_t kind = 0;
    while (kind < layout.representative.size() &&
           layout.shapes[layout.representative[kind]] != layout.shapes.back()) {
      ++kind;
    }
    if (kind == layout.representative.size()) {
      layout.representative.push_back(s);
      layout.extent.push_back(stage_extent(graph, layout.shapes.back()));
    }
    layout.kind.push_back(static_cast<int32_t>(kind));
  }
  return layout;
}

OrderSeeds make_seeds(const SeedsKey& key) {
  return order_seeds(*key.schedule, key.stages, key.virtual_stages, key.residue);
}

MomentSeeds make_moment_seeds(const SeedsKey& key) {
  return moment_seeds(*key.schedule, key.stages, key.virtual_stages, key.residue);
}

ScheduleEntry schedule_entry(const ScheduleKey& key, const OrderSeeds* seeds,
                             const MomentSeeds* moment_seeds) {
  ScheduleEntry entry;
  entry.schedule = key.schedule;
  entry.moments =
      moment_seeds != nullptr
          ? every_stage_moments(*moment_seeds, *key.schedule, key.stages, key.virtual_stages,
                                key.microbatches)
          : every_stage_moments(*key.schedule, key.stages, key.virtual_stages, key.microbatches);
  for (const auto& stage_moments : entry.moments) {
    std::vector<int32_t> every_chunk(key.virtual_stages);
    std::iota(every_chunk.begin(), every_chunk.end(), 0);
    entry.flat.push_back(flatten(stage_moments, std::move(every_chunk)));
  }
  entry.order = seeds != nullptr ? order_of(*seeds, key.microbatches, OrderDetail::kTimingOnly)
                                 : order_of(*key.schedule, key.stages, key.virtual_stages,
                                            key.microbatches, OrderDetail::kTimingOnly);
  return entry;
}

ContextEntry::ContextEntry(PlanContext made, const sim::QuantityIndex& index)
    : context(std::move(made)) {
  price_context(context, index, sizes);
}

}  // namespace memsim::evaluation::fast
