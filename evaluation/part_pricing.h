#pragma once
/// A chunk's parts priced: its passes' candidate sums (chunk_profile.h) evaluated on a
/// configuration's quantities, context and stage apart (fast_tables.h: PartValues), and
/// what they come to together: the fullest the pass gets and where it ends.

#include <cstdint>
#include <vector>

#include "evaluation/chunk_profile.h"
#include "evaluation/fast_tables.h"

namespace memsim::evaluation::fast {

/// Pass `kind` (PassKind, then ProfilePass) of `profile`.
const PassProfile& pass_of(const ChunkProfile& profile, int kind);

/// The passes of `profile` worth evaluating (the first that many): a split backward's
/// only when it has one, host memory's only when it offloads.
int passes_of(const ChunkProfile& profile);

/// The fullest a chunk pass gets: the largest candidate (per-sample context sums times the
/// micro-batch, plus fixed ones and the stage's), never below the start.
int64_t fullest(int64_t scale, const PassValues& context, const PassValues& fixed,
                const PassValues& stage);

/// Where a chunk pass ends, from the same parts.
int64_t net(int64_t scale, const PassValues& context, const PassValues& fixed,
            const PassValues& stage);

/// The stage's terms of `pass` on the stage's quantities.
void evaluate_stage_pass(const PassProfile& pass, const std::vector<int64_t>& quantities,
                         PassValues& out);

/// The context terms of `pass` on per-sample quantities, and (when any) on the fixed ones.
void evaluate_context_pass(const PassProfile& pass, const std::vector<int64_t>& per_sample,
                           const std::vector<int64_t>* fixed, PassValues& out,
                           PassValues& out_fixed);

}  // namespace memsim::evaluation::fast
