#include "strategies/schedules.h"

#include <algorithm>
#include <string_view>

namespace memsim::strategies {

namespace {

using sim::ScheduledStep;
using sim::StepKind;

ScheduledStep forward(int64_t microbatch, int64_t chunk = 0) {
  return {StepKind::kForward, static_cast<int32_t>(microbatch), static_cast<int32_t>(chunk), 0.0};
}
ScheduledStep backward(int64_t microbatch, int64_t chunk = 0, StepKind kind = StepKind::kBackward) {
  return {kind, static_cast<int32_t>(microbatch), static_cast<int32_t>(chunk), 0.0};
}

// GPipe (Huang et al. 2019): every microbatch's forward, then every backward.
std::vector<ScheduledStep> gpipe(int64_t, int64_t, int64_t, int64_t m) {
  std::vector<ScheduledStep> steps;
  steps.reserve(2 * m);
  for (int64_t i = 0; i < m; ++i)
    steps.push_back(forward(i));
  for (int64_t i = 0; i < m; ++i)
    steps.push_back(backward(i));
  return steps;
}

// 1F1B (PipeDream-Flush, Narayanan et al. 2021): stage s runs p - s - 1 warm-up forwards,
// then alternates one forward and one backward, then drains the remaining backwards; at
// most min(p - s, m) microbatches are in flight.
std::vector<ScheduledStep> one_f_one_b(int64_t stage, int64_t p, int64_t, int64_t m) {
  const int64_t warmup = std::min(p - stage - 1, m);
  std::vector<ScheduledStep> steps;
  steps.reserve(2 * m);
  for (int64_t i = 0; i < warmup; ++i)
    steps.push_back(forward(i));
  for (int64_t i = 0; i < m - warmup; ++i) {
    steps.push_back(forward(warmup + i));
    steps.push_back(backward(i));
  }
  for (int64_t i = m - warmup; i < m; ++i)
    steps.push_back(backward(i));
  return steps;
}

// Interleaved 1F1B (Narayanan et al. 2021, §2.2): microbatches go through the v chunks in
// groups of p; stage s warms up with 2(p - s - 1) + (v - 1)p forward chunks, then
// alternates. Megatron-LM warms up all of them when m = p (`warm_all_of_one_round`;
// forward_backward_pipelining_with_interleaving), PyTorch's ScheduleInterleaved1F1B never
// more than that (torch/distributed/pipelining/schedules.py, _get_warmup_ops, with m a
// multiple of p: one round of p microbatches).
std::vector<ScheduledStep> interleaved_1f1b(int64_t stage, int64_t p, int64_t v, int64_t m,
                                            bool warm_all_of_one_round) {
  const int64_t total = m * v;
  const int64_t warmup =
      warm_all_of_one_round && m == p ? total : std::min(2 * (p - stage - 1) + (v - 1) * p, total);
  auto microbatch = [&](int64_t k) { return (k / (p * v)) * p + k % p; };
  auto forward_k = [&](int64_t k) { return forward(microbatch(k), (k / p) % v); };
  auto backward_k = [&](int64_t k) { return backward(microbatch(k), v - 1 - (k / p) % v); };
  std::vector<ScheduledStep> steps;
  steps.reserve(2 * total);
  for (int64_t k = 0; k < warmup; ++k)
    steps.push_back(forward_k(k));
  for (int64_t i = 0; i < total - warmup; ++i) {
    steps.push_back(forward_k(warmup + i));
    steps.push_back(backward_k(i));
  }
  for (int64_t k = total - warmup; k < total; ++k)
    steps.push_back(backward_k(k));
  return steps;
}
std::vector<ScheduledStep> interleaved_megatron(int64_t stage, int64_t p, int64_t v, int64_t m) {
  return interleaved_1f1b(stage, p, v, m, true);
}
std::vector<ScheduledStep> interleaved_pytorch(int64_t stage, int64_t p, int64_t v, int64_t m) {
  return interleaved_1f1b(stage, p, v, m, false);
}

// PyTorch's ScheduleInterleavedZeroBubble, the ZB-1P schedule of Qi et al. 2024 (Zero
// Bubble Pipeline Parallelism) over v chunks (torch/distributed/pipelining/schedules.py at
// commit 00722e6: _get_warmup_ops with multiply_factor 1, _get_1f1b_rank_ops with
// enable_zero_bubble): stage s warms up with (v - 1)p + p - s - 1 forwards, then runs a
// forward and an input step, adding from its s-th input step on the weight step of its
// oldest input step not yet weighed; the weight steps left run at the end. Microbatches
// go through the chunks in groups of p, as in Interleaved 1F1B.
std::vector<ScheduledStep> interleaved_zero_bubble(int64_t stage, int64_t p, int64_t v, int64_t m) {
  const int64_t total = m * v;
  const int64_t warmup = std::min((v - 1) * p + p - stage - 1, total);
  auto microbatch = [&](int64_t k) { return (k / (p * v)) * p + k % p; };
  auto backward_chunk = [&](int64_t i) { return v - 1 - (i / p) % v; };
  std::vector<ScheduledStep> steps;
  steps.reserve(3 * total);
  for (int64_t k = 0; k < warmup; ++k)
    steps.push_back(forward(microbatch(k), (k / p) % v));
  int64_t weighed = 0;
  auto weigh = [&] {
    steps.push_back(
        backward(microbatch(weighed), backward_chunk(weighed), StepKind::kBackwardWeight));
    ++weighed;
  };
  for (int64_t k = warmup; k < total + warmup; ++k) {
    if (k < total) steps.push_back(forward(microbatch(k), (k / p) % v));
    const int64_t i = k - warmup;
    steps.push_back(backward(microbatch(i), backward_chunk(i), StepKind::kBackwardInput));
    if (i >= stage) weigh();
  }
  while (weighed < total)
    weigh();
  return steps;
}

// Looped BFS (Lamy-Poirier 2023; PyTorch's ScheduleLoopedBFS): each local chunk runs every
// microbatch's forward in turn, then the chunks in reverse run every backward, the last
// microbatch first.
std::vector<ScheduledStep> looped_bfs(int64_t, int64_t, int64_t v, int64_t m) {
  std::vector<ScheduledStep> steps;
  steps.reserve(2 * m * v);
  for (int64_t c = 0; c < v; ++c) {
    for (int64_t i = 0; i < m; ++i)
      steps.push_back(forward(i, c));
  }
  for (int64_t c = v - 1; c >= 0; --c) {
    for (int64_t i = m - 1; i >= 0; --i)
      steps.push_back(backward(i, c));
  }
  return steps;
}

}  // namespace

const std::vector<ScheduleInfo>& schedules() {
  static const std::vector<ScheduleInfo> table = {
      {"gpipe", "all forwards, then all backwards; every microbatch in flight", false, false, false,
       gpipe},
      {"1f1b", "warm-up, then one forward one backward; stage s holds p - s microbatches", false,
       false, false, one_f_one_b},
      {"interleaved",
       "Megatron-LM's 1F1B over v model chunks per stage; the bubble shrinks by v (needs m a "
       "multiple of p; with m = p every forward warms up)",
       true, true, false, interleaved_megatron},
      {"interleaved-pytorch",
       "PyTorch's ScheduleInterleaved1F1B: Megatron-LM's, but with m = p it warms up only "
       "2(p - s - 1) + (v - 1)p forwards (needs m a multiple of p)",
       true, true, false, interleaved_pytorch},
      {"looped-bfs",
       "PyTorch's ScheduleLoopedBFS: each chunk runs every microbatch's forward, then the "
       "chunks in reverse every backward; every microbatch in flight",
       true, false, false, looped_bfs},
      {"zero-bubble",
       "PyTorch's ScheduleInterleavedZeroBubble (ZB-1P): backwards split into input and "
       "weight steps, the weight steps filling the bubble; a microbatch keeps its "
       "activations and its weights' output gradients until its weight step (needs m a "
       "multiple of p)",
       true, true, true, interleaved_zero_bubble},
  };
  return table;
}

const ScheduleInfo* find_schedule(const std::string& name) {
  // Looked up for every point of a sweep: the names' lengths are measured once.
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all;
    for (const ScheduleInfo& info : schedules())
      all.emplace_back(info.name);
    return all;
  }();
  for (size_t i = 0; i < names.size(); ++i) {
    if (name == names[i]) return &schedules()[i];
  }
  return nullptr;
}

int64_t microbatch_group(const ScheduleInfo& schedule, int64_t stages) {
  return schedule.interleaved ? stages : 1;
}

std::vector<std::vector<ScheduledStep>> every_stage_steps(const ScheduleInfo& schedule,
                                                          int64_t stages, int64_t chunks,
                                                          int64_t microbatches) {
  std::vector<std::vector<ScheduledStep>> steps;
  steps.reserve(stages);
  for (int64_t s = 0; s < stages; ++s)
    steps.push_back(schedule.steps(s, stages, chunks, microbatches));
  return steps;
}

}  // namespace memsim::strategies
