#pragma once
/// Whether a plan's parallel layout is consistent with its model, cluster and batch. One
/// check serves the scenario reader (which reports each problem where it is written) and
/// sweeps (which skip inconsistent points and count them by reason); what each problem is
/// called, and which scenario keys decide it, is the scenarios' (scenarios/layout_problems.h).

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "strategies/plan.h"

namespace memsim::strategies {

enum class LayoutReason : uint8_t {
  kGpusNotDivisible,         ///< tp × pp does not divide the GPUs (dp auto)
  kGpusMismatch,             ///< tp × pp × dp is not the number of GPUs
  kVirtualStages,            ///< virtual stages without the interleaved schedule
  kInterleavedOneStage,      ///< the interleaved schedule with pp = 1
  kLayersPerStage,           ///< layers_per_stage has the wrong length or sum
  kEmptyChunk,               ///< a middle pipeline chunk without layers
  kGlobalBatch,              ///< global batch not divisible by micro_batch × dp
  kInterleavedMicrobatches,  ///< interleaved with microbatches not a multiple of pp
  kZeroWithoutDp,            ///< a warning: ZeRO with one data-parallel rank, no offload
  kPrefillPasses,            ///< inference: the prompt prefilled in too many chunks
  kTooManyMicrobatches,      ///< more microbatches per step than memsim walks
  kTooManyLayerPasses,       ///< layers × microbatches more than memsim walks
  kTooManyPipelineSteps,     ///< microbatches × pp × virtual stages more than memsim times
  kTooManyStageLayers,       ///< pp × layers more than memsim compiles
  kAttentionWindow,          ///< sequences longer than a sliding window, not simulated
};
/// The core's reasons; each strategy pass's checks follow them (strategy_pass.h).
inline constexpr size_t kCoreLayoutReasons = 15;
using LayoutProblems = std::bitset<64>;
/// The core's reasons and the passes' checks: the problems resolve_layout may find.
size_t layout_reason_count();

/// Resolves `dp: auto` (degree 0: the GPUs over tp × pp) and a global batch of 0
/// (micro_batch × dp), then lists every inconsistency.
LayoutProblems resolve_layout(Plan& plan);

/// A training step's layer passes: every microbatch through every layer (0 when serving).
/// The walk's time and memory follow it (sim/limits.h).
int64_t layer_passes(const Plan& plan);

/// Errors among `problems` (everything but warnings).
LayoutProblems layout_errors(LayoutProblems problems);

/// Tokens a sequence holds at its longest: training's seq_len, or a request's prompt and
/// generated tokens.
int64_t sequence_tokens(const Plan& plan);

}  // namespace memsim::strategies
