#include "strategies/schedules.h"

#include <algorithm>
#include <deque>
#include <string>
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

// PyTorch's ScheduleZBVZeroBubble, the ZB-V schedule of Qi et al. 2024 §6 (schedules.py at
// commit 00722e6, _calculate_single_rank_operations): two chunks per stage in a V, split
// backwards. It is laid out for max(2p - 1, m) microbatches, then the steps of microbatches
// past m are dropped.
std::vector<ScheduledStep> zbv_zero_bubble(int64_t stage, int64_t p, int64_t, int64_t m) {
  const int64_t n = std::max(2 * p - 1, m);
  std::vector<ScheduledStep> steps;
  int64_t f[2] = {0, 0};  // per chunk: forwards, input steps, weight steps so far
  int64_t b[2] = {0, 0};
  int64_t w[2] = {0, 0};
  auto add = [&](StepKind kind, int64_t chunk, int64_t& count) {
    if (count < m) steps.push_back(backward(count, chunk, kind));
    ++count;
  };
  auto forward_step = [&](int64_t c) { add(StepKind::kForward, c, f[c]); };
  auto input_step = [&](int64_t c) { add(StepKind::kBackwardInput, c, b[c]); };
  auto weight_step = [&](int64_t c) { add(StepKind::kBackwardWeight, c, w[c]); };
  for (int64_t i = 0; i < 2 * (p - stage) - 1; ++i)
    forward_step(0);
  for (int64_t i = 0; i < stage; ++i) {
    forward_step(1);
    forward_step(0);
  }
  for (int64_t i = 0; i < p - stage; ++i) {
    forward_step(1);
    input_step(1);
    weight_step(1);
  }
  while (f[1] < f[0] || f[0] < n) {
    if (f[0] < n) forward_step(0);
    input_step(0);
    weight_step(0);
    forward_step(1);
    input_step(1);
    weight_step(1);
  }
  for (int64_t i = 0; i < stage; ++i) {
    input_step(0);
    input_step(1);
  }
  for (int64_t i = 0; i < p - stage; ++i) {
    input_step(0);
    weight_step(0);
  }
  while (w[1] < b[1])
    weight_step(1);
  while (w[0] < b[0])
    weight_step(0);
  return steps;
}

// PyTorch's ScheduleDualPipeV, after DeepSeek's DualPipe (DeepSeek-V3 report §3.2.1;
// schedules.py at commit 00722e6): two chunks per stage in a V; in its steady part each
// step pairs one chunk's forward with the other's whole backward (OVERLAP_F_B, which the
// runtime runs forward first); the second half of the cool-down splits backwards, the
// weight steps filling the end.
std::vector<ScheduledStep> dual_pipe_v(int64_t stage, int64_t p, int64_t, int64_t m) {
  std::vector<ScheduledStep> steps;
  int64_t f[2] = {0, 0};  // per chunk: forwards, and backwards or input steps, so far
  int64_t b[2] = {0, 0};
  std::deque<ScheduledStep> unweighed;
  auto forward_step = [&](int64_t c) { steps.push_back(forward(f[c]++, c)); };
  auto backward_step = [&](int64_t c, bool split) {
    if (!split) {
      steps.push_back(backward(b[c]++, c));
      return;
    }
    steps.push_back(backward(b[c], c, StepKind::kBackwardInput));
    unweighed.push_back(backward(b[c]++, c, StepKind::kBackwardWeight));
  };
  auto weigh_oldest = [&] {
    if (unweighed.empty()) return;
    steps.push_back(unweighed.front());
    unweighed.pop_front();
  };
  auto overlapped = [&](int64_t forward_chunk) {
    forward_step(forward_chunk);
    backward_step(1 - forward_chunk, false);
  };
  for (int64_t i = 0; i < 2 * (p - stage - 1); ++i)
    forward_step(0);
  for (int64_t i = 0; i < stage + 1; ++i) {
    forward_step(0);
    forward_step(1);
  }
  for (int64_t i = 0; i < p - stage - 1; ++i) {
    backward_step(1, true);
    weigh_oldest();
    forward_step(1);
  }
  for (int64_t i = 0; i < m - 2 * p + stage + 1; ++i) {
    overlapped(0);  // the last stage's first pair is not overlapped: the same order
    overlapped(1);
  }
  for (int64_t i = 0; i < p - stage - 1; ++i) {
    backward_step(1, false);
    overlapped(1);
  }
  const int64_t halves = stage + 1;
  bool split = false;
  for (int64_t i = 0; i < halves; ++i) {
    if (i == halves / 2 && stage % 2 == 1) split = true;
    backward_step(1, split);
    if (i == halves / 2 && stage % 2 == 0) split = true;
    backward_step(0, split);
  }
  for (int64_t i = 0; i < p - stage - 1; ++i) {
    weigh_oldest();
    backward_step(0, split);
  }
  for (int64_t i = 0; i < stage + 1; ++i)
    weigh_oldest();
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
       false, false, gpipe},
      {"1f1b", "warm-up, then one forward one backward; stage s holds p - s microbatches", false,
       false, false, false, false, one_f_one_b},
      {"interleaved",
       "Megatron-LM's 1F1B over v model chunks per stage; the bubble shrinks by v (needs m a "
       "multiple of p; with m = p every forward warms up)",
       true, true, false, false, false, interleaved_megatron},
      {"interleaved-pytorch",
       "PyTorch's ScheduleInterleaved1F1B: Megatron-LM's, but with m = p it warms up only "
       "2(p - s - 1) + (v - 1)p forwards (needs m a multiple of p)",
       true, true, false, false, false, interleaved_pytorch},
      {"looped-bfs",
       "PyTorch's ScheduleLoopedBFS: each chunk runs every microbatch's forward, then the "
       "chunks in reverse every backward; every microbatch in flight",
       true, false, false, false, false, looped_bfs},
      {"zero-bubble",
       "PyTorch's ScheduleInterleavedZeroBubble (ZB-1P): backwards split into input and "
       "weight steps, the weight steps filling the bubble; a microbatch keeps its "
       "activations and its weights' output gradients until its weight step (needs m a "
       "multiple of p)",
       true, true, true, false, false, interleaved_zero_bubble},
      {"zbv",
       "PyTorch's ScheduleZBVZeroBubble (ZB-V): two chunks per stage in a V (stage s runs "
       "model chunks s and 2p - 1 - s), backwards split into input and weight steps "
       "(needs virtual_stages 2)",
       true, false, true, true, false, zbv_zero_bubble},
      {"dualpipev",
       "PyTorch's ScheduleDualPipeV (DeepSeek's DualPipe in a V): two chunks per stage, each "
       "forward paired with the other chunk's backward, the cool-down's backwards split "
       "(needs virtual_stages 2 and at least 2p microbatches)",
       true, false, true, true, true, dual_pipe_v},
  };
  return table;
}

const char* schedule_names() {
  static const std::string names = [] {
    std::string all;
    for (const ScheduleInfo& info : schedules())
      all += (all.empty() ? "" : " | ") + std::string(info.name);
    return all;
  }();
  return names.c_str();
}

const ScheduleInfo* find_schedule(const std::string& name) {
  // Looked up several times for every point of a sweep, mostly for the same name: the
  // names' lengths are measured once, and the last one found is tried first.
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all;
    for (const ScheduleInfo& info : schedules())
      all.emplace_back(info.name);
    return all;
  }();
  thread_local size_t last = 0;
  if (name == names[last]) return &schedules()[last];
  for (size_t i = 0; i < names.size(); ++i) {
    if (name == names[i]) {
      last = i;
      return &schedules()[i];
    }
  }
  return nullptr;
}

int64_t microbatch_group(const ScheduleInfo& schedule, int64_t stages) {
  return schedule.interleaved && !schedule.v_shape ? stages : 1;
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
