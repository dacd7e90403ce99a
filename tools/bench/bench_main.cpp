// Benchmarks of memsim's hot paths. Built with the project, never run by the tests:
// compare ratios within one run, not absolute times across machines.

#include <benchmark/benchmark.h>

#include "scenarios/scenario.h"
#include "sim/simulator.h"
#include "strategies/compiled_plan.h"
#include "strategies/evaluate.h"
#include "tools/timeline_writers.h"

namespace {

using memsim::strategies::TrainingPlan;

TrainingPlan scenario_plan(const std::string& file) {
  return memsim::scenarios::load_scenario(std::string(MEMSIM_SOURCE_DIR) + "/scenarios/" + file)
      .variants.front()
      .plan;
}

TrainingPlan llama3_70b_one_gpu() {
  TrainingPlan plan = scenario_plan("llama3-70b-64xh100.yaml");
  plan.cluster.nodes = 1;
  plan.cluster.gpus_per_node = 1;
  plan.parallel = {};
  plan.training.global_batch = 1;
  return plan;
}

// One simulated training step of llama3-70b on one GPU (one microbatch): graph build,
// program compilation (two walks: one sizes the allocator reserve) and the final walk.
void BM_Llama3_70b_Step_Evaluate(benchmark::State& state) {
  const TrainingPlan plan = llama3_70b_one_gpu();
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::strategies::evaluate(plan));
}
BENCHMARK(BM_Llama3_70b_Step_Evaluate)->Unit(benchmark::kMillisecond);

// The walk alone, on an already compiled program.
void BM_Llama3_70b_Step_Walk(benchmark::State& state) {
  const memsim::strategies::CompiledPlan compiled(llama3_70b_one_gpu());
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::sim::simulate(compiled.program(0)));
}
BENCHMARK(BM_Llama3_70b_Step_Walk)->Unit(benchmark::kMillisecond);

// Every rank's full timeline (events, spans and the live matrix) of a 405B-class model on
// 512 GPUs: tp 8, pp 8 interleaved with 2 chunks per stage, dp 8, 64 microbatches.
void BM_Llama3_405b_512Gpus_Timeline(benchmark::State& state) {
  const TrainingPlan plan = scenario_plan("llama3-405b-512xh100.yaml");
  std::vector<int64_t> ranks(plan.cluster.world_size());
  for (size_t r = 0; r < ranks.size(); ++r)
    ranks[r] = static_cast<int64_t>(r);
  int64_t events = 0;
  for (auto _ : state) {
    const memsim::strategies::CompiledPlan compiled(plan);
    const auto set = memsim::tools::build_timelines(compiled, ranks, "405b");
    events = 0;
    for (const auto& p : set.programs)
      events += static_cast<int64_t>(p.timeline.events().size());
    benchmark::DoNotOptimize(set);
  }
  state.counters["distinct_timelines_events"] = static_cast<double>(events);
}
BENCHMARK(BM_Llama3_405b_512Gpus_Timeline)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
