#pragma once
/// Pipeline parallelism: the model's layers split into p stages, or into p·v chunks for the
/// interleaved schedules (chunk g runs on stage g mod p, or for V-shaped ones on stage g and
/// 2p − 1 − g: strategies/schedules.h). The embedding rides with the first chunk, the final
/// norm, LM head and loss with the last.

#include <cstdint>
#include <string>
#include <vector>

#include "sim/layer_graph.h"
#include "sim/rank_program.h"

namespace memsim::strategies {

struct PipelineParallelism {
  int64_t stages = 1;          ///< p
  int64_t virtual_stages = 1;  ///< v: model chunks per stage (interleaved schedule)
  std::string schedule = "1f1b";
  /// Layers per chunk in model order (p or p·v entries); empty: balanced.
  std::vector<int64_t> layers_per_stage;
  /// Count the embedding, and the LM head with the loss, as one layer each when balancing
  /// (Megatron-LM's --account-for-embedding/loss-in-pipeline-split).
  bool embedding_as_layer = false;
  bool loss_as_layer = false;
  int64_t chunks() const { return stages * virtual_stages; }
  bool operator==(const PipelineParallelism&) const = default;
};

/// Layers of each of the p·v chunks. Balanced: the layers (and the embedding and loss when
/// they count as layers) are split evenly, the first chunks taking one more when it does not
/// divide (DeepSpeed's uniform partition).
std::vector<int64_t> chunk_layers(int64_t layers, const PipelineParallelism& pp);

/// The first layer of each chunk, and one past the end.
std::vector<int64_t> chunk_starts(const std::vector<int64_t>& layers_per_chunk);

/// A chunk as the rank running it sees it: which layers, and whether the embedding or the
/// head and loss ride with it.
struct ChunkShape {
  int64_t first_layer = 0;
  int64_t layers = 0;
  bool embedding = false;
  bool head = false;
  bool operator==(const ChunkShape&) const = default;
};

/// The chunk that runs the same ops as `shape` up to which transformer layers they are (as
/// many layers, of the same kinds in the same order, and the embedding and head alike) at
/// the first place in the model where such a chunk can be: chunks are alike when their
/// canonical shapes are equal.
ChunkShape canonical_shape(const sim::LayerGraph& graph, const ChunkShape& shape);

/// The op positions of a chunk of `shape`, in forward order.
sim::ChunkSpan chunk_span(const sim::LayerGraph& graph, const ChunkShape& shape);

/// The shapes of the chunks stage `stage` runs, in order (where `pp`'s schedule places
/// them: model_chunk).
std::vector<ChunkShape> stage_shapes(const std::vector<int64_t>& layers_per_chunk, int64_t stage,
                                     const PipelineParallelism& pp);

/// The op positions stage `stage` runs, one span per chunk of its (v of them, in order).
std::vector<sim::ChunkSpan> stage_chunks(const sim::LayerGraph& graph,
                                         const std::vector<int64_t>& layers_per_chunk,
                                         int64_t stage, const PipelineParallelism& pp);

/// The ops of those spans.
std::vector<sim::OpId> ops_in(const sim::LayerGraph& graph,
                              const std::vector<sim::ChunkSpan>& spans);

}  // namespace memsim::strategies
