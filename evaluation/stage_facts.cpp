#include "evaluation/stage_facts.h"

#include <algorithm>
#include <cmath>

#include "evaluation/compiled_plan.h"
#include "evaluation/plan_context.h"
#include "evaluation/time_model.h"
#include "strategies/communication.h"
#include "strategies/model_states.h"
#include "strategies/strategy_pass.h"

namespace memsim::evaluation {

namespace {

using sim::Category;

}  // namespace

FactsInputs facts_inputs(const TrainingPlan& plan, const OptimizerSettings& optimizer,
                         const Cluster& cluster) {
  return {plan.parallel,
          plan.precision,
          &optimizer,
          plan.training.gradient_buffers,
          plan.training.optimizer_in_backward,
          plan.training.gradient_accumulation,
          &cluster,
          plan.overheads};
}

sim::GradientLifetime plan_gradient_lifetime(const FactsInputs& inputs) {
  if (inputs.optimizer_in_backward) return sim::GradientLifetime::kOpBackward;
  const bool on_demand =
      inputs.gradient_buffers == GradientBuffers::kOnDemand || sharded_by_fsdp(inputs.parallel.dp);
  return on_demand ? sim::GradientLifetime::kToStepEnd : sim::GradientLifetime::kWholeStep;
}

StageExtent stage_extent(const sim::LayerGraph& graph, const std::vector<ChunkShape>& shapes) {
  StageExtent extent;
  extent.layers.assign(graph.kind_count(), 0);
  for (const ChunkShape& shape : shapes) {
    for (int kind = 0; kind < graph.kind_count(); ++kind) {
      extent.layers[kind] +=
          graph.kind_layers(kind, shape.first_layer, shape.first_layer + shape.layers - 1);
    }
    extent.embedding = extent.embedding || shape.embedding;
    extent.head = extent.head || shape.head;
  }
  return extent;
}

ParamGroups param_groups(const sim::LayerGraph& graph, const TensorParallelism& tp,
                         bool embedding_here) {
  const sim::DimSizes full = sim::model_dims(graph.model(), 1, 1);
  auto of = [&](std::span<const sim::OpId> ops) {
    return rank_params(graph, {ops.begin(), ops.end()}, full, tp, 0, embedding_here);
  };
  ParamGroups groups{of(graph.embedding_ops()), {}, of(graph.head_ops())};
  for (int kind = 0; kind < graph.kind_count(); ++kind)
    groups.layer.push_back(of(graph.kind_ops(kind)));
  return groups;
}

StageFacts stage_facts(const FactsInputs& inputs, const sim::LayerGraph& graph,
                       const StageExtent& extent, const ParamGroups& groups) {
  // The embedding's and head's parameters once, each kind's first layer's once per layer
  // of the kind.
  std::vector<RankParam> params;
  if (extent.embedding) params = groups.embedding;
  for (size_t kind = 0; kind < extent.layers.size(); ++kind) {
    if (extent.layers[kind] == 0) continue;
    for (RankParam p : groups.layer[kind]) {
      p.count = extent.layers[kind];
      params.push_back(p);
    }
  }
  if (extent.head) params.insert(params.end(), groups.head.begin(), groups.head.end());
  StageFacts facts;
  facts.states = stage_states(
      {params, graph, inputs.parallel, inputs.precision, *inputs.optimizer, *inputs.cluster});
  facts.gradients = plan_gradient_lifetime(inputs);
  const bool kept_by_strategy =
      !facts.states.gradients_made_in_backward && !facts.states.gradients_resident_in_full;
  if (facts.gradients == sim::GradientLifetime::kToStepEnd && kept_by_strategy)
    facts.gradients = sim::GradientLifetime::kWholeStep;
  facts.resident = facts.states.gpu;
  if (facts.gradients != sim::GradientLifetime::kWholeStep)
    facts.resident[Category::kGradients] = facts.states.bucket_copies;
  // Stepped in backward, a parameter at a time: no step after the backward.
  if (facts.gradients == sim::GradientLifetime::kOpBackward)
    facts.states.step_workspace = sim::Bytes{};
  // ZeRO-2/3 and FSDP hold a layer's whole gradients in backward instead (states.gradients);
  // stepped in backward, no gradient outlives its op to be added to.
  facts.accumulates_in_place = inputs.gradient_accumulation == GradientAccumulation::kInPlace &&
                               facts.states.gradients_resident_in_full &&
                               facts.gradients != sim::GradientLifetime::kOpBackward;
  // The optimizer reads and writes the states it holds, bound by memory bandwidth.
  facts.optimizer_s = 2.0 * static_cast<double>(facts.resident.total().value()) /
                      inputs.cluster->gpu->memory_bandwidth_bytes_per_s;
  facts.overheads.cuda_context = inputs.overheads.cuda_context;
  facts.overheads.process_groups = process_groups(inputs.parallel);
  facts.overheads.communication = inputs.overheads.nccl_per_group * facts.overheads.process_groups;
  facts.resident[Category::kOverhead] =
      facts.overheads.cuda_context + facts.overheads.communication;
  return facts;
}

void add_layer_communication(const StageStates& states, std::vector<sim::ChunkSpan>& chunks,
                             std::vector<ChunkTimes>& times) {
  if (states.forward_communication_s == 0.0 && states.backward_communication_s == 0.0) return;
  const auto count = static_cast<double>(times.size());
  const double forward = states.forward_communication_s / count;
  const double backward = states.backward_communication_s / count;
  const bool overlap = states.overlaps_compute;
  for (size_t c = 0; c < times.size(); ++c) {
    ChunkTimes& t = times[c];
    chunks[c].forward_wait_s = overlap ? std::max(0.0, forward - t.forward_s) : forward;
    chunks[c].backward_wait_s = overlap ? std::max(0.0, backward - t.backward_s) : backward;
    t.forward_s += chunks[c].forward_wait_s;
    t.backward_s += chunks[c].backward_wait_s;
  }
}

double pipeline_transfer_s(const TrainingPlan& plan, const PlanContext& context) {
  const Parallelism& parallel = plan.parallel;
  if (parallel.pp.stages <= 1) return 0.0;
  const double bandwidth =
      group_bandwidth(plan.cluster, parallel.tp.degree * parallel.dp.degree, parallel.pp.stages);
  return static_cast<double>(context.boundary_bytes().value()) / bandwidth;
}

double model_flops_per_step(const TrainingPlan& plan, const PlanContext& context) {
  return 3.0 * context.model_forward_flops() *
         static_cast<double>(plan.microbatches() * plan.parallel.dp.degree);
}

sim::Bytes allocator_reserve(const PlanCore& plan, sim::Bytes dynamic) {
  return sim::Bytes(static_cast<int64_t>(
      std::ceil(plan.overheads.allocator_reserve * static_cast<double>(dynamic.value()))));
}

}  // namespace memsim::evaluation
