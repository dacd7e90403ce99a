// Benchmarks of memsim's hot paths. Built with the project, never run by the tests:
// compare ratios within one run, not absolute times across machines.

#include <benchmark/benchmark.h>

#include "scenarios/model_presets.h"
#include "sim/simulator.h"
#include "strategies/compiled_plan.h"
#include "strategies/evaluate.h"

namespace {

using memsim::strategies::TrainingPlan;

TrainingPlan llama3_70b_plan() {
  TrainingPlan plan;
  plan.model = memsim::scenarios::find_preset("llama3-70b")->spec;
  plan.model.attention = memsim::sim::AttentionImpl::kFlash;
  plan.cluster.gpu = *memsim::hardware::find_gpu("h100-80gb");
  plan.training.seq_len = 8192;
  plan.training.micro_batch = 1;
  plan.training.global_batch = 1;
  return plan;
}

// One simulated training step of llama3-70b on one GPU (one microbatch): graph build,
// program compilation and the walk.
void BM_Llama3_70b_Step_Evaluate(benchmark::State& state) {
  const TrainingPlan plan = llama3_70b_plan();
  for (auto _ : state) {
    benchmark::DoNotOptimize(memsim::strategies::evaluate(plan));
  }
}
BENCHMARK(BM_Llama3_70b_Step_Evaluate)->Unit(benchmark::kMillisecond);

// The walk alone, on an already compiled program.
void BM_Llama3_70b_Step_Walk(benchmark::State& state) {
  const memsim::strategies::CompiledPlan compiled(llama3_70b_plan());
  for (auto _ : state) {
    benchmark::DoNotOptimize(memsim::sim::simulate(compiled.program(0)));
  }
}
BENCHMARK(BM_Llama3_70b_Step_Walk)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
