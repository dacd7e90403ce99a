#include "strategies/pipeline.h"

#include <algorithm>

#include "sim/check.h"
#include "strategies/schedules.h"

namespace memsim::strategies {

std::vector<int64_t> chunk_layers(int64_t layers, const PipelineParallelism& pp) {
  if (!pp.layers_per_stage.empty()) return pp.layers_per_stage;
  const int64_t chunks = pp.chunks();
  const int64_t extra_first = pp.embedding_as_layer ? 1 : 0;
  const int64_t extra_last = pp.loss_as_layer ? 1 : 0;
  const int64_t items = layers + extra_first + extra_last;
  std::vector<int64_t> per_chunk(chunks, items / chunks);
  for (int64_t i = 0; i < items % chunks; ++i)
    ++per_chunk[i];
  per_chunk.front() -= extra_first;
  per_chunk.back() -= extra_last;
  return per_chunk;
}

std::vector<int64_t> chunk_starts(const std::vector<int64_t>& layers_per_chunk) {
  std::vector<int64_t> starts = {0};
  for (int64_t n : layers_per_chunk)
    starts.push_back(starts.back() + n);
  return starts;
}

std::vector<ChunkShape> stage_shapes(const std::vector<int64_t>& layers_per_chunk, int64_t stage,
                                     const PipelineParallelism& pp) {
  const ScheduleInfo* schedule = find_schedule(pp.schedule);
  MEMSIM_CHECK(schedule != nullptr);
  const std::vector<int64_t> starts = chunk_starts(layers_per_chunk);
  const auto chunks = static_cast<int64_t>(layers_per_chunk.size());
  MEMSIM_CHECK(chunks % pp.stages == 0);
  std::vector<ChunkShape> shapes;
  for (int64_t c = 0; c < chunks / pp.stages; ++c) {
    const int64_t g = model_chunk(*schedule, stage, c, pp.stages);
    shapes.push_back({starts[g], layers_per_chunk[g], g == 0, g == chunks - 1});
  }
  return shapes;
}

ChunkShape canonical_shape(const sim::LayerGraph& graph, const ChunkShape& shape) {
  const int64_t layers = graph.model().layers;
  ChunkShape canonical = shape;
  if (shape.embedding || shape.head) return canonical;  // at the model's start or end
  auto same_kinds_at = [&](int64_t first) {
    for (int64_t i = 0; i < shape.layers; ++i) {
      const auto at = static_cast<int32_t>(first + i);
      if (graph.layer_kind(at) != graph.layer_kind(static_cast<int32_t>(shape.first_layer + i)))
        return false;
    }
    return true;
  };
  // Not at layer 0 when it fits elsewhere, as a middle chunk usually is.
  canonical.first_layer = std::min<int64_t>(1, layers - shape.layers);
  while (!same_kinds_at(canonical.first_layer))
    ++canonical.first_layer;
  return canonical;
}

sim::ChunkSpan chunk_span(const sim::LayerGraph& graph, const ChunkShape& shape) {
  // The chunk's layers, widened to the embedding (first chunk) and the head (last).
  const int64_t lo = shape.embedding ? sim::kEmbeddingLayer : shape.first_layer;
  const int64_t hi = shape.head ? graph.model().layers : shape.first_layer + shape.layers - 1;
  const auto order = graph.forward_order();
  sim::ChunkSpan span{-1, -1};
  for (int pos = 0; pos < static_cast<int>(order.size()); ++pos) {
    const int32_t layer = graph.op(order[pos]).layer;
    if (layer < lo || layer > hi) continue;
    if (span.first < 0) span.first = pos;
    MEMSIM_CHECK(span.last < 0 || span.last == pos - 1);  // a chunk's ops are contiguous
    span.last = pos;
  }
  MEMSIM_CHECK(span.first >= 0);
  return span;
}

std::vector<sim::ChunkSpan> stage_chunks(const sim::LayerGraph& graph,
                                         const std::vector<int64_t>& layers_per_chunk,
                                         int64_t stage, const PipelineParallelism& pp) {
  std::vector<sim::ChunkSpan> spans;
  for (const ChunkShape& shape : stage_shapes(layers_per_chunk, stage, pp))
    spans.push_back(chunk_span(graph, shape));
  return spans;
}

std::vector<sim::OpId> ops_in(const sim::LayerGraph& graph,
                              const std::vector<sim::ChunkSpan>& spans) {
  std::vector<sim::OpId> ops;
  for (const sim::ChunkSpan& span : spans) {
    for (int pos = span.first; pos <= span.last; ++pos)
      ops.push_back(graph.forward_order()[pos]);
  }
  return ops;
}

}  // namespace memsim::strategies
