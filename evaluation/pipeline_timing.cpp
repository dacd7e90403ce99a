#include "evaluation/pipeline_timing.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "sim/check.h"

namespace memsim::evaluation {

namespace {

using Entry = ScheduleOrder::Entry;

/// The steps of every stage as one graph, in an order where each step comes after the one
/// it waits for, with the time each would start if forwards took 1 and backwards 2.
struct StepGraph {
  std::vector<Entry> nodes;    ///< wait_for: a node id
  std::vector<int64_t> start;  ///< per node, in unit time
};

StepGraph step_graph(const std::vector<std::vector<sim::ScheduledStep>>& steps,
                     int64_t chunks_per_stage) {
  const auto p = static_cast<int64_t>(steps.size());
  const int64_t chunks = p * chunks_per_stage;
  int64_t microbatches = 0;
  std::vector<int32_t> first(p + 1, 0);  // each stage's first node id
  for (int64_t s = 0; s < p; ++s) {
    for (const auto& step : steps[s]) {
      microbatches = std::max<int64_t>(microbatches, step.microbatch + 1);
    }
    first[s + 1] = first[s] + static_cast<int32_t>(steps[s].size());
  }
  // The node of each (direction, microbatch, model chunk).
  std::vector<int32_t> node_of(2 * microbatches * chunks, -1);
  auto key = [&](sim::StepKind kind, int64_t mb, int64_t g) {
    return (static_cast<int64_t>(kind) * microbatches + mb) * chunks + g;
  };
  for (int64_t s = 0; s < p; ++s) {
    for (size_t i = 0; i < steps[s].size(); ++i) {
      const auto& step = steps[s][i];
      node_of[key(step.kind, step.microbatch, step.chunk * p + s)] =
          first[s] + static_cast<int32_t>(i);
    }
  }
  StepGraph graph;
  graph.nodes.resize(first[p]);
  for (int64_t s = 0; s < p; ++s) {
    for (size_t i = 0; i < steps[s].size(); ++i) {
      const auto& step = steps[s][i];
      const int64_t g = step.chunk * p + s;
      const bool forward = step.kind == sim::StepKind::kForward;
      // A forward waits for the previous chunk's, a backward for the next chunk's, both on
      // another stage. The last chunk's backward follows its own forward, which its stage
      // has already run, so it never waits for it.
      int32_t wait = -1;
      if (forward && g > 0) wait = node_of[key(sim::StepKind::kForward, step.microbatch, g - 1)];
      if (!forward && g < chunks - 1) {
        wait = node_of[key(sim::StepKind::kBackward, step.microbatch, g + 1)];
      }
      graph.nodes[first[s] + i] = {static_cast<int32_t>(s), step.chunk, forward, wait,
                                   static_cast<int32_t>(i)};
    }
  }
  // Unit-time list scheduling: repeatedly run every stage as far as its waits allow.
  graph.start.assign(graph.nodes.size(), -1);
  std::vector<int64_t> ended(graph.nodes.size(), -1);
  std::vector<int64_t> free_at(p, 0);
  std::vector<size_t> next(p, 0);
  size_t remaining = graph.nodes.size();
  while (remaining > 0) {
    bool progressed = false;
    for (int64_t s = 0; s < p; ++s) {
      for (; next[s] < steps[s].size(); ++next[s]) {
        const int32_t id = first[s] + static_cast<int32_t>(next[s]);
        const Entry& node = graph.nodes[id];
        if (node.wait_for >= 0 && ended[node.wait_for] < 0) break;
        graph.start[id] = std::max(free_at[s], node.wait_for >= 0 ? ended[node.wait_for] : 0);
        free_at[s] = ended[id] = graph.start[id] + (node.forward ? 1 : 2);
        --remaining;
        progressed = true;
      }
    }
    MEMSIM_CHECK(progressed);  // a schedule whose stages wait on each other forever
  }
  return graph;
}

/// Whether entry k + period is entry k shifted by a period.
bool shifted(const std::vector<Entry>& entries, int64_t k, int64_t period) {
  const Entry& a = entries[k];
  const Entry& b = entries[k + period];
  if (a.stage != b.stage || a.chunk != b.chunk || a.forward != b.forward) return false;
  if (a.wait_for < 0 || b.wait_for < 0) return a.wait_for == b.wait_for;
  return b.wait_for == a.wait_for + period;
}

/// The runs of shifted periods in `entries` (see ScheduleOrder). A period starting at i ends
/// where the same step of the next microbatch(es) starts; each run is at least 4 periods.
std::vector<ScheduleOrder::Run> find_runs(const std::vector<Entry>& entries, int64_t stages) {
  const auto n = static_cast<int64_t>(entries.size());
  std::vector<ScheduleOrder::Run> runs;
  for (int64_t i = 0; i < n;) {
    bool found = false;
    int64_t tries = 0;
    // Interleaved schedules repeat after a group of p microbatches: try that many periods.
    for (int64_t j = i + 1; j < n && tries <= stages + 1 && !found; ++j) {
      const Entry& a = entries[i];
      const Entry& b = entries[j];
      if (a.stage != b.stage || a.chunk != b.chunk || a.forward != b.forward) continue;
      ++tries;
      const int64_t period = j - i;
      if (i + 4 * period > n) break;
      int64_t k = i;
      while (k + period < n && shifted(entries, k, period))
        ++k;
      if (k - i >= 3 * period) {
        runs.push_back({i, k + period, period, 0});
        i = k + period;
        found = true;
      }
    }
    if (!found) i += stages;  // no run starts here: look a little further on
  }
  // How many periods back a run's steps, and the steps after it, wait.
  for (ScheduleOrder::Run& run : runs) {
    for (int64_t k = run.begin; k < n; ++k) {
      const int32_t w = entries[k].wait_for;
      if (w < run.begin || w >= run.end) continue;
      const int64_t from = std::min(k, run.end);
      run.recall = std::max(run.recall, (from - w + run.period - 1) / run.period);
    }
  }
  return runs;
}

/// Each entry as timing reads it (see ScheduleOrder::Timed).
std::vector<ScheduleOrder::Timed> timed(const std::vector<Entry>& entries, int64_t chunks) {
  std::vector<ScheduleOrder::Timed> packed;
  packed.reserve(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    packed.push_back(
        {e.wait_for >= 0 ? static_cast<int32_t>(k) - e.wait_for : 0, e.stage,
         static_cast<int32_t>(2 * (e.stage * chunks + e.chunk) + (e.forward ? 0 : 1))});
  }
  return packed;
}

}  // namespace

ScheduleOrder order_schedule(const std::vector<std::vector<sim::ScheduledStep>>& steps,
                             int64_t chunks_per_stage) {
  const StepGraph graph = step_graph(steps, chunks_per_stage);
  // By unit start time, then stage: node ids run stage by stage, so a counting sort by start
  // that keeps id order within a start does both.
  const int64_t latest =
      graph.start.empty() ? 0 : *std::max_element(graph.start.begin(), graph.start.end());
  std::vector<int32_t> first_at(latest + 2, 0);
  for (const int64_t start : graph.start)
    ++first_at[start + 1];
  std::partial_sum(first_at.begin(), first_at.end(), first_at.begin());
  std::vector<int32_t> order(graph.nodes.size());
  for (size_t id = 0; id < graph.nodes.size(); ++id)
    order[first_at[graph.start[id]]++] = static_cast<int32_t>(id);
  std::vector<int32_t> position(order.size());
  for (size_t i = 0; i < order.size(); ++i)
    position[order[i]] = static_cast<int32_t>(i);
  ScheduleOrder result;
  result.stages = static_cast<int64_t>(steps.size());
  result.chunks_per_stage = chunks_per_stage;
  result.microbatches = static_cast<int64_t>(order.size()) / (2 * result.stages * chunks_per_stage);
  result.entries.reserve(order.size());
  for (const int32_t id : order) {
    Entry entry = graph.nodes[id];
    if (entry.wait_for >= 0) entry.wait_for = position[entry.wait_for];
    result.entries.push_back(entry);
  }
  result.timed = timed(result.entries, chunks_per_stage);
  result.runs = find_runs(result.entries, result.stages);
  return result;
}

namespace {

/// The microbatches of a family's seed order: orders settle within 2p microbatches (4
/// groups of p for interleaved schedules).
int64_t shortest_seed(int64_t group, int64_t stages, int64_t microbatches) {
  return microbatches % group + group * (2 * stages / group + 2);
}

/// `e` moved on by `groups` groups of microbatches: the step it waits for is as many blocks
/// of `block` entries later, and it is `per_stage` places later on its stage per group.
Entry moved_on(Entry e, int64_t groups, int64_t block, int64_t per_stage) {
  if (e.wait_for >= 0) e.wait_for += static_cast<int32_t>(groups * block);
  e.index += static_cast<int32_t>(groups * per_stage);
  return e;
}

/// Where `longer` (one group of microbatches more) is `shorter` with a block repeated: the
/// first entry x from which on each entry is `shorter`'s one block before, moved on a group,
/// the entries before x being `shorter`'s own; -1 if there is none.
int64_t repeats_from(const std::vector<Entry>& shorter, const std::vector<Entry>& longer,
                     int64_t per_stage) {
  const auto block = static_cast<int64_t>(longer.size() - shorter.size());
  auto x = static_cast<int64_t>(longer.size());
  while (x > block && longer[x - 1] == moved_on(shorter[x - 1 - block], 1, block, per_stage))
    --x;
  for (int64_t i = 0; i < x; ++i) {
    if (i >= static_cast<int64_t>(shorter.size()) || shorter[i] != longer[i]) return -1;
  }
  return x;
}

/// The runs of an order `groups` groups longer, its entries the same before `same` and
/// repeated blocks from x on (see repeats_from): a run across both grows by as many blocks,
/// a run after them moves on.
std::vector<ScheduleOrder::Run> runs_moved_on(std::vector<ScheduleOrder::Run> runs, int64_t same,
                                              int64_t x, int64_t groups, int64_t block) {
  for (ScheduleOrder::Run& run : runs) {
    if (run.begin >= same) run.begin += groups * block;
    if (run.end > x) run.end += groups * block;
  }
  return runs;
}

}  // namespace

OrderSeeds order_seeds(const strategies::ScheduleInfo& schedule, int64_t stages, int64_t chunks,
                       int64_t microbatches) {
  OrderSeeds seeds;
  seeds.schedule = &schedule;
  seeds.stages = stages;
  seeds.chunks = chunks;
  seeds.group = strategies::microbatch_group(schedule, stages);
  seeds.shortest = shortest_seed(seeds.group, stages, microbatches);
  auto direct = [&](int64_t m) {
    return order_schedule(strategies::every_stage_steps(schedule, stages, chunks, m), chunks);
  };
  seeds.first = direct(seeds.shortest);
  const ScheduleOrder second = direct(seeds.shortest + seeds.group);
  const ScheduleOrder third = direct(seeds.shortest + 2 * seeds.group);
  // Each stage runs each chunk forward and backward once per microbatch.
  const int64_t per_stage = 2 * chunks * seeds.group;
  const int64_t x = repeats_from(seeds.first.entries, second.entries, per_stage);
  if (x < 0 || repeats_from(second.entries, third.entries, per_stage) != x) return seeds;
  seeds.at = x;
  seeds.block = static_cast<int64_t>(second.entries.size() - seeds.first.entries.size());
  // Runs are found alike in orders a group apart, as their entries are.
  const std::vector<Entry>& first = seeds.first.entries;
  seeds.same = static_cast<int64_t>(
      std::mismatch(first.begin(), first.end(), second.entries.begin(), second.entries.end())
          .first -
      first.begin());
  seeds.runs_repeat =
      runs_moved_on(seeds.first.runs, seeds.same, x, 1, seeds.block) == second.runs &&
      runs_moved_on(second.runs, seeds.same, x, 1, seeds.block) == third.runs;
  return seeds;
}

ScheduleOrder order_of(const OrderSeeds& seeds, int64_t microbatches, OrderDetail detail) {
  const int64_t group = seeds.group;
  MEMSIM_CHECK(microbatches % group == seeds.shortest % group);
  if (seeds.at < 0 || microbatches < seeds.shortest + 2 * group) {
    return order_schedule(
        strategies::every_stage_steps(*seeds.schedule, seeds.stages, seeds.chunks, microbatches),
        seeds.chunks);
  }
  const int64_t groups = (microbatches - seeds.shortest) / group;
  const ScheduleOrder& first = seeds.first;
  const int64_t x = seeds.at;
  const int64_t block = seeds.block;
  const int64_t per_stage = 2 * seeds.chunks * group;
  ScheduleOrder result;
  result.stages = seeds.stages;
  result.chunks_per_stage = seeds.chunks;
  result.microbatches = microbatches;
  const int64_t n = static_cast<int64_t>(first.entries.size()) + groups * block;
  auto list_entries = [&] {
    result.entries.reserve(n);
    result.entries.assign(first.entries.begin(), first.entries.begin() + x);
    for (int64_t j = x; j < n; ++j) {
      const int64_t moves = std::min(groups, (j - x + block) / block);
      result.entries.push_back(moved_on(first.entries[j - moves * block], moves, block, per_stage));
    }
  };
  // What timing reads of a repeated entry is the same in every copy.
  result.timed = first.timed;
  result.repeat = {x, block, groups, group};
  result.runs = runs_moved_on(first.runs, seeds.same, x, groups, block);
  if (!seeds.runs_repeat) {
    list_entries();
    result.runs = find_runs(result.entries, seeds.stages);
    if (detail == OrderDetail::kTimingOnly) result.entries = {};
  }
  if (detail == OrderDetail::kEntries && result.entries.empty()) list_entries();
  return result;
}

bool extends_from_seeds(const strategies::ScheduleInfo& schedule, int64_t stages,
                        int64_t microbatches) {
  const int64_t group = strategies::microbatch_group(schedule, stages);
  return microbatches >= shortest_seed(group, stages, microbatches) + 2 * group;
}

ScheduleOrder order_of(const strategies::ScheduleInfo& schedule, int64_t stages, int64_t chunks,
                       int64_t microbatches, OrderDetail detail) {
  if (!extends_from_seeds(schedule, stages, microbatches)) {
    return order_schedule(strategies::every_stage_steps(schedule, stages, chunks, microbatches),
                          chunks);
  }
  return order_of(order_seeds(schedule, stages, chunks, microbatches), microbatches, detail);
}

namespace {

/// A stage's time in steps: each of its chunks forward and backward once per microbatch.
double busy_s(const std::vector<ChunkTimes>& stage, int64_t microbatches) {
  double busy = 0.0;
  for (const ChunkTimes& t : stage)
    busy += t.forward_s + t.backward_s;
  return busy * static_cast<double>(microbatches);
}

/// Times entries one by one, and jumps over steady periods of runs.
class Timer {
 public:
  Timer(const ScheduleOrder& order, const std::vector<std::vector<ChunkTimes>>& times,
        double transfer_s, TimingScratch& scratch, std::vector<std::vector<double>>* starts)
      : order_(order), transfer_s_(transfer_s), ended_(scratch.ended), starts_(starts) {
    const int64_t v = order.chunks_per_stage;
    durations_.resize(2 * order.stages * v);
    for (int64_t s = 0; s < order.stages; ++s) {
      for (int64_t c = 0; c < v; ++c) {
        durations_[2 * (s * v + c)] = times[s][c].forward_s;
        durations_[2 * (s * v + c) + 1] = times[s][c].backward_s;
      }
    }
    end_.assign(order.stages, 0.0);
    // Every position read is written first (skipped ones are never read), so no clearing.
    if (ended_.size() < static_cast<size_t>(order.size())) ended_.resize(order.size());
  }

  void run(bool jump) {
    int64_t k = 0;
    if (jump) {
      for (const ScheduleOrder::Run& run : order_.runs) {
        steps(k, run.begin);
        k = time_run(run, std::max(k, run.begin));
      }
    }
    steps(k, order_.size());
  }

  const std::vector<double>& end() const { return end_; }
  int64_t jumped() const { return jumped_; }
  const SettledRun& settled() const { return settled_; }

 private:
  /// Times entries [k, end) one by one, in stretches whose entries come one after another
  /// in `timed`: a repeated block's copy, or what comes before or after the copies.
  void steps(int64_t k, int64_t end) {
    const ScheduleOrder::Repeat& repeat = order_.repeat;
    const int64_t copies_end = repeat.at + repeat.copies * repeat.block;
    while (k < end) {
      const int64_t source = order_.source(k);
      int64_t stretch = end;
      if (k < repeat.at && repeat.copies > 0) {
        stretch = std::min(end, repeat.at);
      } else if (k >= repeat.at && k < copies_end) {
        stretch = std::min(end, k + (repeat.at - source));  // to the copy's end
      }
      if (starts_ != nullptr) {
        time_stretch<true>(k, source, stretch);
      } else {
        time_stretch<false>(k, source, stretch);
      }
      k = stretch;
    }
  }

  /// Times entries [k, end), entry k being `timed[source]` and the rest the ones after it.
  template <bool kStarts>
  void time_stretch(int64_t k, int64_t source, int64_t end) {
    for (; k < end; ++k, ++source) {
      const ScheduleOrder::Timed& e = order_.timed[source];
      const double ready = e.wait_back > 0 ? ended_[k - e.wait_back] + transfer_s_ : 0.0;
      const double start = std::max(end_[e.stage], ready);
      if constexpr (kStarts) (*starts_)[e.stage][order_.entries[k].index] = start;
      end_[e.stage] = start + durations_[e.slot];
      ended_[k] = end_[e.stage];
    }
  }

  /// Times `run` from entry k (inside it) to its end, period by period; once the run is
  /// steady (steady_cycle), the remaining whole cycles are the last one shifted by λ each.
  int64_t time_run(const ScheduleOrder::Run& run, int64_t k) {
    const int64_t period = run.period;
    // Periods needed before comparing: the recall window, and one before it.
    const int64_t settled = run.begin + (run.recall + 2) * period;
    for (; k + period <= run.end; k += period) {
      if (k >= settled) {
        if (const std::optional<Steady> steady = steady_cycle(run, k)) {
          const int64_t cycles = (run.end - k) / steady->cycle.period;
          if (holds_repeat(run)) settle(run, k, *steady);
          skip(steady->cycle, k, cycles, steady->lambda);
          k += cycles * steady->cycle.period;
          break;
        }
      }
      previous_end_.assign(end_.begin(), end_.end());
      steps(k, k + period);
    }
    steps(k, run.end);
    return std::max(k, run.end);
  }

  /// A run seen as repeating every `cycle.period` entries (some whole periods), and how much
  /// later each cycle ends than the one before.
  struct Steady {
    ScheduleOrder::Run cycle;
    double lambda;
  };

  /// Whether `run` holds the order's repeated block: it spans where the copies go.
  bool holds_repeat(const ScheduleOrder::Run& run) const {
    const ScheduleOrder::Repeat& repeat = order_.repeat;
    return repeat.copies > 0 && run.begin <= repeat.at &&
           repeat.at < run.end - repeat.copies * repeat.block;
  }

  /// Keeps where the run holding the repeat settled, when every stage steps in a cycle (so
  /// that every stage's end moves on with more cycles).
  void settle(const ScheduleOrder::Run& run, int64_t k, const Steady& steady) {
    std::vector<bool> seen(order_.stages, false);
    for (int64_t x = k - steady.cycle.period; x < k; ++x)
      seen[order_.timed[order_.source(x)].stage] = true;
    if (std::find(seen.begin(), seen.end(), false) != seen.end()) return;
    settled_ = {k, steady.cycle.period, run.period, run.end, steady.lambda};
  }

  /// Whether `run` is steady at entry k: its last period the one before shifted by λ, or
  /// else its last c periods the c before shifted by λ for the fewest c up to the number of
  /// chunks (uneven stages can settle into a cycle of several periods: a pipeline of 16
  /// slower stages and 16 faster ones does, every 16 periods).
  std::optional<Steady> steady_cycle(const ScheduleOrder::Run& run, int64_t k) const {
    if (const double lambda = steady_shift(run, k); lambda >= 0.0) return Steady{run, lambda};
    const double tolerance = 1e-13 * std::abs(ended_[k - 1]);
    const int64_t most = order_.stages * order_.chunks_per_stage;
    for (int64_t c = 2; c <= most; ++c) {
      ScheduleOrder::Run cycle = run;
      cycle.period = c * run.period;
      // The window later steps read, and at least the last period (every stage's end).
      cycle.recall = std::max<int64_t>(1, (run.recall + c - 1) / c);
      if (k < run.begin + (cycle.recall + 2) * cycle.period) break;  // too few cycles yet
      const double lambda = ended_[k - 1] - ended_[k - 1 - cycle.period];
      auto same = [&](int64_t x) {
        return std::abs(ended_[x] - ended_[x - cycle.period] - lambda) <= tolerance;
      };
      // One step a period before first: most c fail there.
      if (!same(k - 1 - run.period)) continue;
      int64_t x = k - cycle.recall * cycle.period;
      while (x < k && same(x))
        ++x;
      if (x == k) return Steady{cycle, lambda};
    }
    return std::nullopt;
  }

  /// λ when the period ending at entry k is the one before shifted by λ (within rounding),
  /// else -1.
  double steady_shift(const ScheduleOrder::Run& run, int64_t k) const {
    const int64_t period = run.period;
    const double lambda = ended_[k - 1] - ended_[k - 1 - period];
    const double tolerance = 1e-13 * std::abs(ended_[k - 1]);
    auto same = [&](double shift) { return std::abs(shift - lambda) <= tolerance; };
    for (int64_t x = k - run.recall * period; x < k; ++x) {
      if (!same(ended_[x] - ended_[x - period])) return -1.0;
    }
    // Every stage of the run moved on by λ too.
    for (int64_t x = k - period; x < k; ++x) {
      const int32_t s = order_.timed[order_.source(x)].stage;
      if (!same(end_[s] - previous_end_[s])) return -1.0;
    }
    return lambda;
  }

  /// Jumps `periods` periods from entry k: stage ends move on by λ each; the steps that later
  /// steps wait for (the last `recall` periods) and, for a timeline, every start, are the
  /// last timed period's shifted.
  void skip(const ScheduleOrder::Run& run, int64_t k, int64_t periods, double lambda) {
    const int64_t period = run.period;
    const int64_t to = k + periods * period;
    std::vector<bool> moved(order_.stages, false);
    for (int64_t x = k - period; x < k; ++x)
      moved[order_.timed[order_.source(x)].stage] = true;
    for (int64_t s = 0; s < order_.stages; ++s) {
      if (moved[s]) end_[s] += static_cast<double>(periods) * lambda;
    }
    jumped_ += to - k;
    for (int64_t x = std::max(k, to - run.recall * period); x < to; ++x) {
      const int64_t shift = (x - k) / period + 1;
      ended_[x] = ended_[x - shift * period] + static_cast<double>(shift) * lambda;
    }
    if (starts_ != nullptr) {
      for (int64_t x = k; x < to; ++x) {
        const int64_t shift = (x - k) / period + 1;
        const Entry& e = order_.entries[x];
        const Entry& like = order_.entries[x - shift * period];
        (*starts_)[e.stage][e.index] =
            (*starts_)[like.stage][like.index] + static_cast<double>(shift) * lambda;
      }
    }
  }

  const ScheduleOrder& order_;
  double transfer_s_;
  std::vector<double>& ended_;
  std::vector<std::vector<double>>* starts_;
  std::vector<double> durations_;
  std::vector<double> end_;
  std::vector<double> previous_end_;  ///< at the start of the last period timed
  int64_t jumped_ = 0;                ///< entries jumped over
  SettledRun settled_;
};

}  // namespace

OrderFamily family_of(const ScheduleOrder& order) {
  const ScheduleOrder::Repeat& repeat = order.repeat;
  return {order.stages, order.chunks_per_stage, order.microbatches - repeat.copies * repeat.group,
          repeat.at, repeat.block};
}

std::optional<double> family_shift(const ScheduleOrder::Repeat& timed, const SettledRun& settled,
                                   int64_t copies) {
  if (settled.at < 0) return std::nullopt;
  // Both orders time the same entries up to `at`, and the other's run is long enough to be
  // found steady there too.
  if (settled.at > timed.at + std::min(timed.copies, copies) * timed.block) return std::nullopt;
  const int64_t more = (copies - timed.copies) * timed.block;
  if (settled.end + more < settled.at + settled.period) return std::nullopt;
  // Then it jumps as many whole cycles more, and the steps after it are the same steps.
  if (more % settled.cycle != 0) return std::nullopt;
  return static_cast<double>(more / settled.cycle) * settled.lambda;
}

double bubble_fraction(double makespan_s, const std::vector<std::vector<ChunkTimes>>& times,
                       int64_t microbatches) {
  double idle = 0.0;
  if (makespan_s <= 0.0) return idle;
  for (const std::vector<ChunkTimes>& stage : times)
    idle = std::max(idle, (makespan_s - busy_s(stage, microbatches)) / makespan_s);
  return idle;
}

PipelineTiming time_order(const ScheduleOrder& order,
                          const std::vector<std::vector<ChunkTimes>>& times, double transfer_s,
                          std::vector<std::vector<double>>* starts, TimingScratch* scratch,
                          bool jump) {
  TimingScratch own;
  MEMSIM_CHECK(starts == nullptr || static_cast<int64_t>(order.entries.size()) == order.size());
  Timer timer(order, times, transfer_s, scratch != nullptr ? *scratch : own, starts);
  timer.run(jump);
  PipelineTiming timing;
  timing.end_s = timer.end();
  timing.steps_timed = order.size() - timer.jumped();
  timing.settled = timer.settled();
  timing.busy_s.assign(order.stages, 0.0);
  for (int64_t s = 0; s < order.stages; ++s)
    timing.busy_s[s] = busy_s(times[s], order.microbatches);
  timing.makespan_s = *std::max_element(timing.end_s.begin(), timing.end_s.end());
  timing.bubble_fraction = bubble_fraction(timing.makespan_s, times, order.microbatches);
  return timing;
}

PipelineTiming time_schedule(const std::vector<std::vector<sim::ScheduledStep>>& steps,
                             const std::vector<std::vector<ChunkTimes>>& times, double transfer_s,
                             std::vector<std::vector<double>>* starts) {
  if (starts != nullptr) {
    starts->assign(steps.size(), {});
    for (size_t s = 0; s < steps.size(); ++s)
      (*starts)[s].assign(steps[s].size(), 0.0);
  }
  const auto chunks_per_stage = static_cast<int64_t>(times.front().size());
  return time_order(order_schedule(steps, chunks_per_stage), times, transfer_s, starts);
}

}  // namespace memsim::evaluation
