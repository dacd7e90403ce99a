// Benchmarks of memsim's hot paths. Built with the project, never run by the tests:
// compare ratios within one run, not absolute times across machines.

#include <atomic>
#include <ostream>
#include <streambuf>

#include <benchmark/benchmark.h>

#include "evaluation/compiled_plan.h"
#include "evaluation/evaluate.h"
#include "evaluation/fast_evaluator.h"
#include "hardware/gpu_catalog.h"
#include "scenarios/hardware_reader.h"
#include "scenarios/scenario.h"
#include "scenarios/sweep.h"
#include "sim/simulator.h"
#include "strategies/layout.h"
#include "tools/fit_search.h"
#include "tools/hardware_search.h"
#include "tools/sweep_runner.h"
#include "tools/timeline_writers.h"

namespace {

using memsim::strategies::Plan;

Plan scenario_plan(const std::string& file) {
  return memsim::scenarios::load_scenario(std::string(MEMSIM_SOURCE_DIR) + "/scenarios/" + file)
      .variants.front()
      .plan;
}

Plan llama3_70b_one_gpu() {
  Plan plan = scenario_plan("llama3-70b-64xh100.yaml");
  plan.cluster.nodes = 1;
  plan.cluster.gpus_per_node = 1;
  plan.parallel = {};
  plan.training.global_batch = 1;
  return plan;
}

// One simulated training step of llama3-70b on one GPU (one microbatch): graph build,
// program compilation (two walks: one sizes the allocator reserve) and the final walk.
void BM_Llama3_70b_Step_Evaluate(benchmark::State& state) {
  const Plan plan = llama3_70b_one_gpu();
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::evaluation::evaluate(plan));
}
BENCHMARK(BM_Llama3_70b_Step_Evaluate)->Unit(benchmark::kMillisecond);

// The walk alone, on an already compiled program.
void BM_Llama3_70b_Step_Walk(benchmark::State& state) {
  const memsim::evaluation::CompiledPlan compiled(llama3_70b_one_gpu());
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::sim::simulate(compiled.program(0)));
}
BENCHMARK(BM_Llama3_70b_Step_Walk)->Unit(benchmark::kMillisecond);

// One variant's evaluation at memsim's work limits (sim/limits.h), which docs/scenarios.md
// promises within seconds: a 4096-layer model through 512 microbatches (the most layer
// passes), 32 interleaved stages of 4 chunks, full recomputation; and a 64-layer one through
// 4096 microbatches over 16 stages of 4 chunks (the most pipeline steps).
Plan plan_at_limits(int64_t layers, int64_t microbatches, int64_t stages) {
  Plan plan = llama3_70b_one_gpu();
  plan.model.layers = layers;
  plan.model.hidden = 1024;
  plan.model.heads = 8;
  plan.model.kv_heads = 8;
  plan.model.ffn = 4096;
  plan.cluster.gpus_per_node = stages;
  plan.training.seq_len = 1024;
  plan.training.micro_batch = 1;
  plan.training.global_batch = microbatches;
  plan.parallel.pp.stages = stages;
  plan.parallel.pp.schedule = "interleaved";
  plan.parallel.pp.virtual_stages = 4;
  plan.parallel.dp.degree = 1;
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{1};
  if (memsim::strategies::layout_errors(memsim::strategies::resolve_layout(plan)).any()) {
    throw std::logic_error("the plan at memsim's limits is not a valid layout");
  }
  return plan;
}

void BM_Run_AtLayerPassLimit(benchmark::State& state) {
  const Plan plan = plan_at_limits(4096, 512, 32);
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::evaluation::evaluate(plan));
}
BENCHMARK(BM_Run_AtLayerPassLimit)->Unit(benchmark::kSecond)->Iterations(1);

void BM_Run_AtPipelineStepLimit(benchmark::State& state) {
  const Plan plan = plan_at_limits(64, 4096, 16);
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::evaluation::evaluate(plan));
}
BENCHMARK(BM_Run_AtPipelineStepLimit)->Unit(benchmark::kSecond)->Iterations(1);

// Reading a scenario whose `parallel:` holds 99,000 unknown keys (a mistake a generator can
// make): every key is checked once and the first 100 problems are worked out, so reading
// grows with the file, not with its square.
void BM_Read_ManyUnknownKeys(benchmark::State& state) {
  std::string text =
      "model: {layers: 2, hidden: 64, heads: 4, ffn: 256, vocab: 1000}\nhardware: {gpu: "
      "a100-80gb}\ntraining: {seq_len: 128}\nparallel:\n";
  for (int i = 0; i < 99'000; ++i)
    text += "  k" + std::to_string(i) + ": 1\n";
  for (auto _ : state) {
    try {
      memsim::scenarios::read_scenario(memsim::scenarios::parse_yaml(text, "many.yaml"),
                                       "many.yaml");
    } catch (const memsim::scenarios::InputError& e) {
      benchmark::DoNotOptimize(e.diagnostics().size());
    }
  }
}
BENCHMARK(BM_Read_ManyUnknownKeys)->Unit(benchmark::kMillisecond);

// Every rank's full timeline (events, spans and the live matrix) of a 405B-class model on
// 512 GPUs: tp 8, pp 8 interleaved with 2 chunks per stage, dp 8, 64 microbatches.
void BM_Llama3_405b_512Gpus_Timeline(benchmark::State& state) {
  const Plan plan = scenario_plan("llama3-405b-512xh100.yaml");
  std::vector<int64_t> ranks(plan.cluster.world_size());
  for (size_t r = 0; r < ranks.size(); ++r)
    ranks[r] = static_cast<int64_t>(r);
  int64_t events = 0;
  for (auto _ : state) {
    const memsim::evaluation::CompiledPlan compiled(plan);
    const auto set = memsim::tools::build_timelines(compiled, ranks, "405b");
    events = 0;
    for (const auto& p : set.programs)
      events += static_cast<int64_t>(p.timeline.events().size());
    benchmark::DoNotOptimize(set);
  }
  state.counters["distinct_timelines_events"] = static_cast<double>(events);
}
BENCHMARK(BM_Llama3_405b_512Gpus_Timeline)->Unit(benchmark::kMillisecond);

// The shipped 70B sweep (scenarios/llama3-70b-64xh100.yaml: tp, pp, zero, micro-batch and
// checkpointing for three schedules), or the same on 1024 GPUs (128 nodes, a 1024-sequence
// batch), as points to price.
std::vector<memsim::scenarios::VariantSweep> llama3_70b_sweeps(int64_t nodes) {
  std::vector<std::string> overrides;
  if (nodes != 8) {
    overrides = {"hardware.nodes=" + std::to_string(nodes), "training.global_batch=1024",
                 "parallel.dp=auto"};
  }
  const auto scenario = memsim::scenarios::load_scenario(
      std::string(MEMSIM_SOURCE_DIR) + "/scenarios/llama3-70b-64xh100.yaml", overrides);
  return memsim::scenarios::read_sweeps(scenario);
}

// `memsim sweep --threads 1` as a user runs it: a fresh evaluator builds every chunk
// profile and schedule it needs, then prices the points; rows go to a string. points/s
// counts every grid point, evaluated/s the valid layouts priced (every stage's peak, the
// step time).
/// Takes what is written and keeps none of it, as a pipe read by another process does: a
/// string holding a large sweep's rows would cost the sweep its growth and its pages.
class Discard : public std::streambuf {
 protected:
  std::streamsize xsputn(const char*, std::streamsize count) override { return count; }
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
};

void sweep_whole(benchmark::State& state,
                 const std::vector<memsim::scenarios::VariantSweep>& sweeps) {
  memsim::tools::SweepOptions options;
  options.threads = 1;
  const std::atomic<bool> never{false};
  memsim::tools::SweepSummary summary;
  Discard discard;
  std::ostream sink(&discard);
  for (auto _ : state)
    summary = memsim::tools::run_sweep(sweeps, options, sink, never);
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(summary.points) * iterations,
                                                  benchmark::Counter::kIsRate);
  state.counters["evaluated/s"] = benchmark::Counter(
      static_cast<double>(summary.evaluated) * iterations, benchmark::Counter::kIsRate);
  state.counters["evaluated"] = static_cast<double>(summary.evaluated);
}

void BM_Sweep_Llama3_70b_OneShot(benchmark::State& state) {
  sweep_whole(state, llama3_70b_sweeps(state.range(0)));
}
BENCHMARK(BM_Sweep_Llama3_70b_OneShot)
    ->Arg(8)
    ->Arg(128)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The steady rate of a long sweep: one evaluator prices the grid again and again, its
// per-shape caches (chunk profiles, schedules) built, its memo tables holding only the last
// few values, as in a sweep of millions of points that revisits each shape many times.
void BM_Sweep_Llama3_70b_Steady(benchmark::State& state) {
  const auto sweeps = llama3_70b_sweeps(state.range(0));
  memsim::evaluation::FastEvaluator evaluator;
  std::vector<memsim::strategies::Plan> plans;
  for (const auto& v : sweeps)
    plans.push_back(v.sweep.base());
  int64_t points = 0;
  int64_t evaluated = 0;
  auto sweep_once = [&] {
    for (size_t v = 0; v < sweeps.size(); ++v) {
      for (uint64_t point = 0; point < sweeps[v].sweep.points(); ++point, ++points) {
        if (!sweeps[v].sweep.prepare(point, plans[v]).empty()) continue;
        benchmark::DoNotOptimize(
            evaluator.evaluate(plans[v], memsim::evaluation::StagePeaks::kLargestOnly));
        ++evaluated;
      }
    }
  };
  sweep_once();  // builds the per-shape caches, untimed
  points = evaluated = 0;
  for (auto _ : state)
    sweep_once();
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
  state.counters["evaluated/s"] =
      benchmark::Counter(static_cast<double>(evaluated), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sweep_Llama3_70b_Steady)->Arg(8)->Arg(128)->Unit(benchmark::kMillisecond);

// The sweep benchmark grid (tools/bench/grids/llama3-70b-512gpus-500k.yaml: 501,760 points,
// about 351,000 valid layouts) as `memsim sweep --threads 1` prices it, CSV rows included:
// the rate to compare with whole-process timings of the command.
void BM_Sweep_Grid500k(benchmark::State& state) {
  const auto scenario = memsim::scenarios::load_scenario(
      std::string(MEMSIM_SOURCE_DIR) + "/tools/bench/grids/llama3-70b-512gpus-500k.yaml");
  sweep_whole(state, memsim::scenarios::read_sweeps(scenario));
}
BENCHMARK(BM_Sweep_Grid500k)->UseRealTime()->Unit(benchmark::kSecond)->Iterations(1);

/// The article scenario's serving base with 8 sequences of 2048 + 512 tokens.
Plan serving_32b() {
  Plan plan = scenario_plan("article-32b.yaml");
  plan.inference.batch = 8;
  plan.inference.prompt_len = 2048;
  plan.inference.generate_len = 512;
  return plan;
}

// One inference report of a 32B model: compile (a walk of the prefill and the last decode
// step), then every decode step timed.
void BM_Serving_32b_Evaluate(benchmark::State& state) {
  const Plan plan = serving_32b();
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::evaluation::evaluate(plan));
}
BENCHMARK(BM_Serving_32b_Evaluate)->Unit(benchmark::kMillisecond);

// The largest batch and the longest prompt that fit: two fit searches.
void BM_Serving_32b_Capacity(benchmark::State& state) {
  const Plan plan = serving_32b();
  memsim::evaluation::FastEvaluator evaluator;
  for (auto _ : state)
    benchmark::DoNotOptimize(memsim::tools::inference_capacity(plan, evaluator));
}
BENCHMARK(BM_Serving_32b_Capacity)->Unit(benchmark::kMillisecond);

// memsim hardware --for on the article's ZeRO-3 training: every GPU profile, every layout
// of each power of two of GPUs until one fits.
void BM_HardwareFor_32b_Training(benchmark::State& state) {
  const auto scenario = memsim::scenarios::load_scenario(std::string(MEMSIM_SOURCE_DIR) +
                                                         "/scenarios/article-32b.yaml");
  const Plan* plan = nullptr;
  for (const auto& variant : scenario.variants) {
    if (variant.name == "train-zero3-4gpu") plan = &variant.plan;
  }
  for (auto _ : state) {
    memsim::evaluation::FastEvaluator evaluator;
    benchmark::DoNotOptimize(
        memsim::tools::hardware_options(*plan, memsim::hardware::gpus(), evaluator));
  }
}
BENCHMARK(BM_HardwareFor_32b_Training)->Unit(benchmark::kMillisecond);

}  // namespace

// The benchmarks use the built-in GPU profiles only.
int main(int argc, char** argv) {
  memsim::hardware::install_gpu_catalog(memsim::scenarios::builtin_gpu_catalog());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
