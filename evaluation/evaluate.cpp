#include "evaluation/evaluate.h"

#include <algorithm>

#include "evaluation/step_summary.h"
#include "sim/check.h"

namespace memsim::evaluation {

sim::Bytes usable_memory(const ServingPlan& plan) {
  return sim::Bytes(static_cast<int64_t>(plan.inference.memory_utilization *
                                         static_cast<double>(plan.cluster.gpu->capacity.value())));
}

sim::Bytes usable_memory(const TrainingPlan& plan) {
  return plan.cluster.gpu->capacity;
}

sim::Bytes usable_memory(const Plan& plan) {
  if (plan.mode == Mode::kTraining) return usable_memory(static_cast<const TrainingPlan&>(plan));
  return usable_memory(serving_plan(plan));
}

TrainingReport evaluate(const CompiledPlan& compiled) {
  const TrainingPlan& plan = compiled.plan();
  TrainingReport report;
  report.parameters = compiled.graph().parameter_count();
  report.world_size = compiled.world_size();
  report.microbatches = plan.microbatches();
  report.capacity = plan.cluster.gpu->capacity;

  std::vector<sim::RankResult> results;
  results.reserve(compiled.program_count());
  for (size_t i = 0; i < compiled.program_count(); ++i)
    results.emplace_back();
  std::vector<bool> done(compiled.program_count(), false);

  for (int64_t rank = 0; rank < compiled.world_size(); ++rank) {
    const size_t index = compiled.program_index(rank);
    if (!done[index]) {
      results[index] = sim::simulate(compiled.program(rank));
      done[index] = true;
    }
    RankReport& entry = report.ranks.emplace_back();
    entry.placement = compiled.placement(rank);
    entry.parameters = compiled.rank_parameters(rank);
    entry.memory = results[index];
    entry.overheads = compiled.overheads(rank);
    entry.cpu_bytes = compiled.rank_cpu_bytes(rank) + entry.memory.host_peak;
    entry.fits = entry.memory.peak <= report.capacity;
    report.peak = std::max(report.peak, entry.memory.peak);
    report.step_time_s = std::max(report.step_time_s, entry.memory.step_time_s);
  }
  std::vector<sim::Bytes> stage_cpu;
  const int64_t per_stage = plan.parallel.tp.degree * plan.parallel.dp.degree;
  for (int64_t first = 0; first < compiled.world_size(); first += per_stage)
    stage_cpu.push_back(report.ranks[first].cpu_bytes);
  report.cpu_bytes_per_node = fullest_node_cpu_bytes(plan, stage_cpu);
  report.cpu_capacity_per_node = plan.cluster.cpu_memory_per_node();
  report.bubble_fraction = compiled.bubble_fraction();
  const Throughput throughput =
      step_throughput(plan, report.step_time_s, compiled.model_flops_per_step());
  report.tokens_per_s = throughput.tokens_per_s;
  report.model_flops_utilization = throughput.model_flops_utilization;
  report.cpu_fits = report.cpu_bytes_per_node <= report.cpu_capacity_per_node;
  report.fits = step_fits(plan, report.peak, report.cpu_bytes_per_node);
  return report;
}

ServingReport evaluate(const CompiledInference& compiled) {
  const ServingPlan& plan = compiled.plan();
  const Inference& inference = plan.inference;
  ServingReport report;
  report.parameters = compiled.graph().parameter_count();
  report.world_size = plan.cluster.world_size();
  report.capacity = plan.cluster.gpu->capacity;
  InferenceFacts facts;
  facts.usable = usable_memory(plan);
  ServingPlan unsharded = plan;  // the cache of one token, before tensor parallelism
  unsharded.parallel.tp.degree = 1;
  facts.kv_bytes_per_token = kv_bytes_per_token(unsharded, plan.model.layers);

  std::vector<sim::RankResult> stages;
  for (int64_t s = 0; s < compiled.stages(); ++s)
    stages.push_back(compiled.summary(s));
  // One request's passes run through the stages one after another.
  facts.prefill_s = compiled.prefill_seconds();
  const CompiledInference::DecodeSeconds decode = compiled.decode_seconds();
  facts.generate_s = decode.all;
  facts.last_decode_step_s = decode.last;
  if (facts.generate_s > 0.0) {
    facts.decode_tokens_per_s =
        static_cast<double>(inference.batch * plan.parallel.dp.degree * inference.generate_len) /
        facts.generate_s;
  }

  report.fits = true;
  const int64_t tp = plan.parallel.tp.degree;
  const int64_t dp = plan.parallel.dp.degree;
  for (int64_t rank = 0; rank < report.world_size; ++rank) {
    RankReport& entry = report.ranks.emplace_back();
    entry.placement = rank_placement(plan.parallel, rank);
    const int64_t stage = entry.placement.pp_stage;
    entry.parameters = compiled.rank_parameters(stage, entry.placement.tp_rank);
    entry.memory = stages[stage];
    entry.memory.step_time_s = facts.prefill_s + facts.generate_s;
    entry.overheads = compiled.overheads(stage);
    entry.fits = entry.memory.peak <= facts.usable;
    report.fits = report.fits && entry.fits;
    report.peak = std::max(report.peak, entry.memory.peak);
  }
  MEMSIM_CHECK(static_cast<int64_t>(report.ranks.size()) == tp * dp * compiled.stages());
  report.step_time_s = facts.prefill_s + facts.generate_s;
  // Every token a request passes through the model, prompt and generated.
  report.tokens_per_s =
      static_cast<double>(inference.batch * plan.parallel.dp.degree * inference.context()) /
      report.step_time_s;
  report.cpu_capacity_per_node = plan.cluster.cpu_memory_per_node();
  report.serving = facts;
  return report;
}

Report evaluate(const Plan& plan) {
  Report report;
  if (plan.mode == Mode::kInference) {
    ServingReport serving = evaluate(CompiledInference(serving_plan(plan)));
    report.inference = serving.serving;
    static_cast<ReportCore&>(report) = std::move(serving);
  } else {
    static_cast<TrainingReport&>(report) = evaluate(CompiledPlan(plan));
  }
  return report;
}

}  // namespace memsim::evaluation
