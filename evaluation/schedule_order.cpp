#include "evaluation/schedule_order.h"

#include <algorithm>
#include <numeric>

#include "sim/check.h"

namespace memsim::evaluation {

namespace {

using Entry = ScheduleOrder::Entry;

/// Where an entry's duration is among its stage's chunks' (see ScheduleOrder::Timed).
int32_t duration_slot(const Entry& e, int64_t chunks) {
  return static_cast<int32_t>(sim::kStepKinds * (e.stage * chunks + e.chunk) +
                              static_cast<int64_t>(e.kind));
}

/// The steps of every stage as one graph, in an order where each step comes after the one
/// it waits for, with the time each would start if forwards took 1 and backwards 2 (an
/// input step 1, a weight step 1).
struct StepGraph {
  std::vector<Entry> nodes;    ///< wait_for: a node id
  std::vector<int64_t> start;  ///< per node, in unit time
  int64_t microbatches = 0;
};

StepGraph step_graph(const strategies::ScheduleInfo& schedule,
                     const std::vector<std::vector<sim::ScheduledStep>>& steps,
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
  // The node of each forward, and of each backward or input step (a microbatch's chunk has
  // one or the other), by (microbatch, model chunk); steps wait for no others.
  std::vector<int32_t> node_of(2 * microbatches * chunks, -1);
  auto key = [&](bool forward, int64_t mb, int64_t g) {
    return ((forward ? 0 : microbatches) + mb) * chunks + g;
  };
  for (int64_t s = 0; s < p; ++s) {
    for (size_t i = 0; i < steps[s].size(); ++i) {
      const auto& step = steps[s][i];
      if (step.kind == sim::StepKind::kBackwardWeight) continue;
      node_of[key(step.kind == sim::StepKind::kForward, step.microbatch,
                  strategies::model_chunk(schedule, s, step.chunk, p))] =
          first[s] + static_cast<int32_t>(i);
    }
  }
  StepGraph graph;
  graph.microbatches = microbatches;
  graph.nodes.resize(first[p]);
  for (int64_t s = 0; s < p; ++s) {
    for (size_t i = 0; i < steps[s].size(); ++i) {
      const auto& step = steps[s][i];
      const int64_t g = strategies::model_chunk(schedule, s, step.chunk, p);
      // A forward waits for the previous chunk's, a backward (or input step) for the next
      // chunk's, when another stage runs it. The last chunk's backward follows its own
      // forward, which its stage has already run, so it never waits for it; a weight step
      // follows its stage's own input step; neither do the steps of a V's two chunks on
      // one stage wait for each other (nothing crosses between stages).
      int32_t wait = -1;
      if (step.kind == sim::StepKind::kForward && g > 0) {
        wait = node_of[key(true, step.microbatch, g - 1)];
      }
      const bool input_gradients =
          step.kind == sim::StepKind::kBackward || step.kind == sim::StepKind::kBackwardInput;
      if (input_gradients && g < chunks - 1) wait = node_of[key(false, step.microbatch, g + 1)];
      if (wait >= first[s] && wait < first[s + 1]) wait = -1;
      graph.nodes[first[s] + i] = {static_cast<int32_t>(s), step.chunk, step.kind, wait,
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
        free_at[s] = ended[id] = graph.start[id] + (node.kind == sim::StepKind::kBackward ? 2 : 1);
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
  if (a.stage != b.stage || a.chunk != b.chunk || a.kind != b.kind) return false;
  if (a.wait_for < 0 || b.wait_for < 0) return a.wait_for == b.wait_for;
  return b.wait_for == a.wait_for + period;
}

/// Each entry's next one of the same step on its stage (chunk and kind), or the end.
std::vector<int64_t> next_alike(const std::vector<Entry>& entries, int64_t stages) {
  const auto n = static_cast<int64_t>(entries.size());
  int64_t chunks = 1;
  for (const Entry& e : entries)
    chunks = std::max<int64_t>(chunks, e.chunk + 1);
  std::vector<int64_t> next(n, n);
  std::vector<int64_t> later(sim::kStepKinds * stages * chunks, n);  // the next one seen
  for (int64_t k = n - 1; k >= 0; --k) {
    const Entry& e = entries[k];
    int64_t& slot = later[duration_slot(e, chunks)];
    next[k] = slot;
    slot = k;
  }
  return next;
}

/// The runs of shifted periods in `entries` (see ScheduleOrder). A period starting at i ends
/// where the same step of the next microbatch(es) starts; each run is at least 4 periods.
std::vector<ScheduleOrder::Run> find_runs(const std::vector<Entry>& entries, int64_t stages) {
  const auto n = static_cast<int64_t>(entries.size());
  const std::vector<int64_t> next = next_alike(entries, stages);
  std::vector<ScheduleOrder::Run> runs;
  for (int64_t i = 0; i < n;) {
    bool found = false;
    int64_t tries = 0;
    // Interleaved schedules repeat after a group of p microbatches: try that many periods.
    for (int64_t j = next[i]; j < n && tries <= stages + 1 && !found; j = next[j]) {
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
    packed.push_back({e.wait_for >= 0 ? static_cast<int32_t>(k) - e.wait_for : 0, e.stage,
                      duration_slot(e, chunks)});
  }
  return packed;
}

}  // namespace

ScheduleOrder order_schedule(const strategies::ScheduleInfo& schedule,
                             const std::vector<std::vector<sim::ScheduledStep>>& steps,
                             int64_t chunks_per_stage) {
  const StepGraph graph = step_graph(schedule, steps, chunks_per_stage);
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
  result.microbatches = graph.microbatches;
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

/// The steps each stage runs for a group of microbatches, from the entries a group adds.
int64_t steps_per_group(size_t added_entries, int64_t stages) {
  return static_cast<int64_t>(added_entries) / stages;
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
    return order_schedule(schedule, strategies::every_stage_steps(schedule, stages, chunks, m),
                          chunks);
  };
  seeds.first = direct(seeds.shortest);
  const ScheduleOrder second = direct(seeds.shortest + seeds.group);
  const ScheduleOrder third = direct(seeds.shortest + 2 * seeds.group);
  // Each stage runs as many steps more for each group (unless they differ by stage, when
  // the orders do not repeat).
  const int64_t per_stage =
      steps_per_group(second.entries.size() - seeds.first.entries.size(), stages);
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
        *seeds.schedule,
        strategies::every_stage_steps(*seeds.schedule, seeds.stages, seeds.chunks, microbatches),
        seeds.chunks);
  }
  const int64_t groups = (microbatches - seeds.shortest) / group;
  const ScheduleOrder& first = seeds.first;
  const int64_t x = seeds.at;
  const int64_t block = seeds.block;
  const int64_t per_stage = steps_per_group(static_cast<size_t>(block), seeds.stages);
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
    return order_schedule(
        schedule, strategies::every_stage_steps(schedule, stages, chunks, microbatches), chunks);
  }
  return order_of(order_seeds(schedule, stages, chunks, microbatches), microbatches, detail);
}

namespace {

/// How many entries from k on come one after another in `order.timed` (to the end of a
/// copy of the repeated block, or of the order).
int64_t stretch_from(const ScheduleOrder& order, int64_t k) {
  const ScheduleOrder::Repeat& repeat = order.repeat;
  const int64_t copies_end = repeat.at + repeat.copies * repeat.block;
  if (k < repeat.at && repeat.copies > 0) return repeat.at - k;
  if (k >= repeat.at && k < copies_end) return repeat.at - order.source(k);
  return order.size() - k;
}

}  // namespace

int64_t common_entries(const ScheduleOrder& a, const ScheduleOrder& b) {
  const int64_t n = std::min(a.size(), b.size());
  int64_t k = 0;
  while (k < n) {
    const int64_t length = std::min({n - k, stretch_from(a, k), stretch_from(b, k)});
    const auto first = a.timed.begin() + a.source(k);
    const auto differs = std::mismatch(first, first + length, b.timed.begin() + b.source(k)).first;
    k += differs - first;
    if (differs != first + length) break;
  }
  return k;
}

OrderFamily family_of(const ScheduleOrder& order) {
  const ScheduleOrder::Repeat& repeat = order.repeat;
  return {order.stages, order.chunks_per_stage, order.microbatches - repeat.copies * repeat.group,
          repeat.at, repeat.block};
}

}  // namespace memsim::evaluation
