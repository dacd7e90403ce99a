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
/// (micro_batch × dp), then lists every inconsistency: resolve_parallel_layout, then
/// resolve_batch.
LayoutProblems resolve_layout(Plan& plan);
/// The part of resolve_layout that reads neither the global batch nor the microbatches
/// (a sweep over the global batch finds it once): dp resolved, the parallel layout, the
/// strategy passes' checks, serving's prefill.
LayoutProblems resolve_parallel_layout(Plan& plan);
/// The rest, given what resolve_parallel_layout found (`parallel`) and left in `plan`: the
/// global batch resolved and checked against micro_batch × dp and the schedule, the step's
/// work against the walk's limits (nothing more when serving, or when dp is unresolved).
/// Returns `parallel` and those problems.
LayoutProblems resolve_batch(Plan& plan, LayoutProblems parallel);

/// A training step's layer passes: every microbatch through every layer (0 when serving).
/// The walk's time and memory follow it (sim/limits.h).
int64_t layer_passes(const Plan& plan);

/// Errors among `problems` (everything but warnings).
LayoutProblems layout_errors(LayoutProblems problems);

/// Tokens a sequence holds at its longest: training's seq_len, or a request's prompt and
/// generated tokens.
int64_t sequence_tokens(const Plan& plan);

}  // namespace memsim::strategies
