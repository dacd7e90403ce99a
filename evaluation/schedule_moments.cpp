#include "evaluation/schedule_moments.h"

#include <algorithm>
#include <functional>

#include "sim/check.h"
#include "sim/schedule_walk.h"

namespace memsim::evaluation {

namespace {

bool dominated(const Moment& a, const Moment& by) {
  if (a.kind != by.kind || a.chunk != by.chunk || a.first_backward != by.first_backward)
    return false;
  for (size_t c = 0; c < a.in_flight.size(); ++c) {
    if (a.in_flight[c] > by.in_flight[c] || a.gradients_made[c] > by.gradients_made[c])
      return false;
  }
  for (size_t c = 0; c < a.awaiting.size(); ++c) {
    if (a.awaiting[c] > by.awaiting[c]) return false;
  }
  return true;
}

/// Whether a moment of `moments` dominates the state `at`, as add_undominated would find
/// once it is a Moment: most states of a long schedule are, and are then never made one.
bool dominated(const sim::StepState& at, const std::vector<Moment>& moments) {
  return std::any_of(moments.begin(), moments.end(), [&](const Moment& by) {
    return at.step.kind == by.kind && at.step.chunk == by.chunk &&
           at.first_backward == by.first_backward &&
           std::equal(at.in_flight.begin(), at.in_flight.end(), by.in_flight.begin(),
                      std::less_equal<>()) &&
           std::equal(at.backward_done.begin(), at.backward_done.end(), by.gradients_made.begin(),
                      std::less_equal<>()) &&
           std::equal(at.awaiting.begin(), at.awaiting.end(), by.awaiting.begin(),
                      std::less_equal<>());
  });
}

/// Whether moment b lies on the segment from a to c (same step): its counts are a
/// weighted mean of theirs, so what it holds never exceeds the larger of the two.
bool between(const Moment& a, const Moment& b, const Moment& c) {
  if (a.kind != c.kind || a.chunk != c.chunk || a.first_backward != c.first_backward ||
      b.kind != c.kind || b.chunk != c.chunk || b.first_backward != c.first_backward) {
    return false;
  }
  std::vector<int64_t> u;  // b − a, then c − b
  std::vector<int64_t> w;
  for (size_t i = 0; i < a.in_flight.size(); ++i) {
    u.push_back(b.in_flight[i] - a.in_flight[i]);
    u.push_back(b.gradients_made[i] - a.gradients_made[i]);
    w.push_back(c.in_flight[i] - b.in_flight[i]);
    w.push_back(c.gradients_made[i] - b.gradients_made[i]);
  }
  for (size_t i = 0; i < a.awaiting.size(); ++i) {
    u.push_back(b.awaiting[i] - a.awaiting[i]);
    w.push_back(c.awaiting[i] - b.awaiting[i]);
  }
  size_t k = 0;
  while (k < u.size() && u[k] == 0)
    ++k;
  if (k == u.size()) return true;
  if (w[k] == 0 || (w[k] > 0) != (u[k] > 0)) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    if (u[i] * w[k] != w[i] * u[k]) return false;
  }
  return true;
}

}  // namespace

void add_undominated(std::vector<Moment>& moments, const Moment& m) {
  if (std::any_of(moments.begin(), moments.end(),
                  [&](const Moment& e) { return dominated(m, e); })) {
    return;
  }
  std::erase_if(moments, [&](const Moment& e) { return dominated(e, m); });
  auto same_step = [&](const Moment& e) {
    return e.kind == m.kind && e.chunk == m.chunk && e.first_backward == m.first_backward;
  };
  const auto last = std::find_if(moments.rbegin(), moments.rend(), same_step);
  if (last != moments.rend()) {
    const auto before = std::find_if(std::next(last), moments.rend(), same_step);
    if (before != moments.rend() && between(*before, *last, m)) {
      moments.erase(std::next(last).base());
    }
  }
  moments.push_back(m);
}

std::vector<Moment> moments_of(const std::vector<sim::ScheduledStep>& steps, int64_t chunks) {
  std::vector<Moment> moments;
  sim::walk_steps(steps, chunks, [&](const sim::StepState& at) {
    if (dominated(at, moments)) return;
    add_undominated(moments, {at.step.kind,
                              at.step.chunk,
                              at.first_backward,
                              {at.in_flight.begin(), at.in_flight.end()},
                              {at.backward_done.begin(), at.backward_done.end()},
                              {at.awaiting.begin(), at.awaiting.end()}});
  });
  return moments;
}

namespace {

std::vector<std::vector<Moment>> direct_moments(const ScheduleInfo& schedule, int64_t stages,
                                                int64_t chunks, int64_t microbatches) {
  std::vector<std::vector<Moment>> moments;
  for (const auto& steps : every_stage_steps(schedule, stages, chunks, microbatches))
    moments.push_back(moments_of(steps, chunks));
  return moments;
}

/// The microbatches of a family's shortest schedule: the moments settle within 2p + 2
/// microbatches (p + 4 groups of p for interleaved schedules, 4p + 2 in a V).
int64_t shortest_moments(const ScheduleInfo& schedule, int64_t stages, int64_t microbatches) {
  const int64_t group = microbatch_group(schedule, stages);
  const int64_t settled = schedule.v_shape       ? 4 * stages + 2
                          : schedule.interleaved ? stages + 4
                                                 : 2 * stages + 2;
  return microbatches % group + group * settled;
}

}  // namespace

MomentSeeds moment_seeds(const ScheduleInfo& schedule, int64_t stages, int64_t chunks,
                         int64_t microbatches) {
  const int64_t group = microbatch_group(schedule, stages);
  const int64_t shortest = shortest_moments(schedule, stages, microbatches);
  MomentSeeds seeds;
  // From twice that on, three short schedules cost less than a long one.
  seeds.from = 3 * (shortest + 2 * group);
  auto moments = direct_moments(schedule, stages, chunks, shortest);
  if (moments == direct_moments(schedule, stages, chunks, shortest + group) &&
      moments == direct_moments(schedule, stages, chunks, shortest + 2 * group)) {
    seeds.moments = std::move(moments);
  }
  return seeds;
}

bool moments_from_seeds(const ScheduleInfo& schedule, int64_t stages, int64_t microbatches) {
  const int64_t group = microbatch_group(schedule, stages);
  return microbatches >= 3 * (shortest_moments(schedule, stages, microbatches) + 2 * group);
}

std::vector<std::vector<Moment>> every_stage_moments(const MomentSeeds& seeds,
                                                     const ScheduleInfo& schedule, int64_t stages,
                                                     int64_t chunks, int64_t microbatches) {
  if (microbatches >= seeds.from && seeds.moments) return *seeds.moments;
  return direct_moments(schedule, stages, chunks, microbatches);
}

std::vector<std::vector<Moment>> every_stage_moments(const ScheduleInfo& schedule, int64_t stages,
                                                     int64_t chunks, int64_t microbatches) {
  if (!moments_from_seeds(schedule, stages, microbatches)) {
    return direct_moments(schedule, stages, chunks, microbatches);
  }
  return every_stage_moments(moment_seeds(schedule, stages, chunks, microbatches), schedule, stages,
                             chunks, microbatches);
}

std::vector<Moment> by_class(const std::vector<Moment>& moments,
                             const std::vector<ChunkShape>& shapes,
                             std::vector<int32_t>& representatives) {
  std::vector<size_t> class_of(shapes.size());
  representatives.clear();
  for (size_t c = 0; c < shapes.size(); ++c) {
    size_t j = 0;
    while (j < representatives.size() && shapes[representatives[j]] != shapes[c]) {
      ++j;
    }
    if (j == representatives.size()) representatives.push_back(static_cast<int32_t>(c));
    class_of[c] = j;
  }
  std::vector<Moment> projected;
  for (const Moment& m : moments) {
    const size_t classes = representatives.size();
    Moment p{m.kind,
             representatives[class_of[m.chunk]],
             m.first_backward,
             std::vector<int64_t>(classes, 0),
             std::vector<int64_t>(classes, 0),
             std::vector<int64_t>(m.awaiting.empty() ? 0 : classes, 0)};
    for (size_t c = 0; c < shapes.size(); ++c) {
      p.in_flight[class_of[c]] += m.in_flight[c];
      p.gradients_made[class_of[c]] += m.gradients_made[c];
      if (!m.awaiting.empty()) p.awaiting[class_of[c]] += m.awaiting[c];
    }
    add_undominated(projected, p);
  }
  return projected;
}

namespace {

int32_t pass_kind(const Moment& m) {
  switch (m.kind) {
    case sim::StepKind::kForward:
      return kForwardPass;
    case sim::StepKind::kBackwardInput:
      return kInputPass;
    case sim::StepKind::kBackwardWeight:
      return m.first_backward ? kFirstWeightPass : kWeightPass;
    case sim::StepKind::kBackward:
      break;
  }
  return m.first_backward ? kFirstBackwardPass : kBackwardPass;
}

}  // namespace

StageMoments flatten(const std::vector<Moment>& moments, std::vector<int32_t> chunks) {
  StageMoments flat;
  flat.chunks = std::move(chunks);
  flat.count = static_cast<int64_t>(moments.size());
  flat.awaiting = !moments.empty() && !moments.front().awaiting.empty();
  for (const Moment& m : moments) {
    MEMSIM_CHECK(m.awaiting.empty() != flat.awaiting);  // one schedule's moments, all alike
    flat.data.push_back(m.chunk);
    flat.data.push_back(pass_kind(m));
    for (const auto* counts : {&m.in_flight, &m.gradients_made, &m.awaiting}) {
      for (int64_t n : *counts)
        flat.data.push_back(static_cast<int32_t>(n));
    }
  }
  return flat;
}

int64_t fullest_moment(const StageMoments& moments, const std::vector<ChunkNumbers>& chunks) {
  const auto classes = static_cast<int64_t>(moments.chunks.size());
  const int32_t* m = moments.data.data();
  int64_t dynamic = 0;
  const int64_t stride = 2 + (moments.awaiting ? 3 : 2) * classes;
  for (int64_t i = 0; i < moments.count; ++i, m += stride) {
    int64_t held = chunks[m[0]].peaks[m[1]];
    for (int64_t j = 0; j < classes; ++j) {
      const ChunkNumbers& chunk = chunks[moments.chunks[j]];
      held += m[2 + j] * chunk.saved + m[2 + classes + j] * chunk.gradients;
    }
    for (int64_t j = 0; moments.awaiting && j < classes; ++j)
      held += m[2 + 2 * classes + j] * chunks[moments.chunks[j]].awaiting;
    dynamic = std::max(dynamic, held);
  }
  return dynamic;
}

}  // namespace memsim::evaluation
