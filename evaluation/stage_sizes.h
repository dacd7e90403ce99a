#pragma once
/// The one pricing of a configuration: the bytes of every quantity a stage program
/// allocates (sim/quantity_index.h), from the plan's context (tensor classes, op buffers)
/// and the stage's model states (gradients, gathered parameters, bucket). The walk's
/// programs and the fast evaluation both take their sizes from here.

#include <vector>

#include "evaluation/plan_context.h"
#include "evaluation/stage_facts.h"
#include "sim/quantity_index.h"
#include "sim/units.h"

namespace memsim::evaluation {

using namespace strategies;  // the plan and the strategies' terms

/// Writes the context's quantities (those below index.context_count()) into `sizes`.
void price_context(const PlanContext& context, const sim::QuantityIndex& index,
                   std::vector<sim::Bytes>& sizes);

/// Writes the stage's quantities (from index.context_count() on) into `sizes`.
void price_stage(const StageFacts& facts, const sim::QuantityIndex& index,
                 std::vector<sim::Bytes>& sizes);

/// Every quantity of a stage.
std::vector<sim::Bytes> stage_sizes(const PlanContext& context, const StageFacts& facts,
                                    const sim::QuantityIndex& index);

}  // namespace memsim::evaluation
