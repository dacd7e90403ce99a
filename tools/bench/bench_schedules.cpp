// Benchmarks of a sweep's per-schedule work: building a schedule's entry (its steps, the
// moments each stage may be fullest at, the timing order) and timing it.

#include <benchmark/benchmark.h>

#include "evaluation/fast_tables.h"
#include "evaluation/pipeline_timing.h"
#include "strategies/schedules.h"

namespace {

namespace evaluation = memsim::evaluation;

// A schedule's entry as a sweep builds it once per (schedule, p, v, m), from seeds made
// once per (schedule, p, v): args p, v, m.
void BM_Schedule_Entry(benchmark::State& state) {
  const evaluation::fast::ScheduleKey key{
      state.range(2),
      memsim::strategies::find_schedule(state.range(1) > 1 ? "interleaved" : "1f1b"),
      state.range(0), state.range(1)};
  const bool extends = evaluation::extends_from_seeds(*key.schedule, key.stages, key.microbatches);
  const evaluation::OrderSeeds seeds =
      evaluation::order_seeds(*key.schedule, key.stages, key.virtual_stages, key.microbatches);
  const bool settles = evaluation::moments_from_seeds(*key.schedule, key.stages, key.microbatches);
  const evaluation::MomentSeeds moments =
      evaluation::moment_seeds(*key.schedule, key.stages, key.virtual_stages, key.microbatches);
  for (auto _ : state) {
    benchmark::DoNotOptimize(evaluation::fast::schedule_entry(key, extends ? &seeds : nullptr,
                                                              settles ? &moments : nullptr));
  }
  state.counters["steps/s"] = benchmark::Counter(
      static_cast<double>(2 * key.stages * key.virtual_stages * key.microbatches),
      benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Schedule_Entry)
    ->Args({64, 1, 4096})
    ->Args({8, 1, 512})
    ->Args({16, 4, 1024})
    ->Unit(benchmark::kMillisecond);

// Timing a 1F1B order of p stages and m microbatches, as a sweep does once per distinct set
// of stage times: args p, m, and whether the first half of the stages hold twice the layers
// of the others (80 layers on 64 stages), which settles so slowly that every step is timed;
// otherwise all but the last stage (the head) are alike, and the steady middle is skipped.
void BM_Schedule_Time(benchmark::State& state) {
  const int64_t p = state.range(0);
  const auto order =
      evaluation::order_of(*memsim::strategies::find_schedule("1f1b"), p, 1, state.range(1));
  std::vector<std::vector<evaluation::ChunkTimes>> times(p, {{0.25, 0.5}});
  for (int64_t s = 0; s < p / 2 && state.range(2) != 0; ++s)
    times[s] = {{0.5, 1.0}};
  times.back() = {{0.35, 0.7}};
  evaluation::TimingScratch scratch;
  for (auto _ : state) {
    benchmark::DoNotOptimize(evaluation::time_order(order, times, 0.01, nullptr, &scratch));
  }
}
BENCHMARK(BM_Schedule_Time)
    ->Args({64, 512, 0})
    ->Args({64, 512, 1})
    ->Args({8, 512, 0})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
