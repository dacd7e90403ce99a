#pragma once
/// The largest sizes memsim simulates, in one place (docs/scenarios.md, "Limits", lists
/// them). The model's sizes keep every product memsim forms inside 64 bits; the counts of
/// work keep one `memsim run` within seconds and 2 GiB on one core. A scenario over a limit
/// is an error at its key. Each is far above what is trained or served today.

#include <cstdint>

namespace memsim::sim {

// The model (today's largest dense models: 126 layers, hidden 16,384, ffn 53,248, 128
// heads, vocabularies of 256 k).
inline constexpr int64_t kMostLayers = 4096;
inline constexpr int64_t kMostHidden = int64_t{1} << 20;  ///< hidden, and heads × head_dim
inline constexpr int64_t kMostHeads = int64_t{1} << 14;
inline constexpr int64_t kMostFfn = int64_t{1} << 22;
inline constexpr int64_t kMostVocab = int64_t{1} << 24;
inline constexpr int64_t kMostPositions = int64_t{1} << 24;  ///< a learned position table

// Tokens and sequences: a training sequence, a prompt, the tokens generated; sequences in a
// microbatch or served together.
inline constexpr int64_t kMostTokens = int64_t{1} << 24;
inline constexpr int64_t kMostBatch = int64_t{1} << 24;

// The cluster (the largest clusters built have about 100,000 GPUs).
inline constexpr int64_t kMostGpus = int64_t{1} << 17;

// The work of one training step's walk, measured on one core: its microbatches; its layer
// passes (every microbatch through every layer, forward and backward: about 0.8 µs each); its
// pipeline steps (microbatches × pp × virtual stages: each chunk's forward and backward of
// one microbatch, timed across the stages: about 5 µs each); and its stages' layers (pp ×
// layers: each stage's program spans the whole model, about 6 KB a layer). A run walks every
// variant it reports.
inline constexpr int64_t kMostMicrobatches = int64_t{1} << 16;
inline constexpr int64_t kMostLayerPasses = int64_t{1} << 21;
inline constexpr int64_t kMostPipelineSteps = int64_t{1} << 18;
inline constexpr int64_t kMostStageLayers = int64_t{1} << 17;
inline constexpr int64_t kMostRunLayerPasses = int64_t{1} << 22;

}  // namespace memsim::sim
