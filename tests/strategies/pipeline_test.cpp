// Pipeline partition, schedules, their timing and the memory they hold in flight.

#include "strategies/pipeline.h"

#include <array>
#include <map>
#include <set>
#include <tuple>

#include <doctest/doctest.h>

#include "evaluation/compiled_plan.h"
#include "evaluation/evaluate.h"
#include "evaluation/pipeline_timing.h"
#include "sim/schedule_walk.h"
#include "strategies/schedules.h"
#include "support/test_support.h"

namespace {

using memsim::evaluation::ChunkTimes;

/// The bubble of `schedule` with every chunk taking the same time and free transfers.
double uniform_bubble(const std::string& schedule, int64_t p, int64_t m, int64_t v) {
  const auto* info = memsim::strategies::find_schedule(schedule);
  REQUIRE(info != nullptr);
  const auto steps = memsim::strategies::every_stage_steps(*info, p, v, m);
  // A layer's backward takes twice its forward; a stage's work splits over its v chunks.
  const std::vector<std::vector<ChunkTimes>> times(p,
                                                   std::vector<ChunkTimes>(v, {1.0 / v, 2.0 / v}));
  return memsim::evaluation::time_schedule(*info, steps, times, 0.0).bubble_fraction;
}

memsim::sim::ModelSpec gpt_like(int64_t layers) {
  auto m = memsim::testing::preset("gpt3-175b");
  m.layers = layers;
  m.hidden = 1024;
  m.heads = 16;
  m.kv_heads = 16;
  m.ffn = 4096;
  return m;
}

memsim::strategies::Plan pipelined(const memsim::sim::ModelSpec& model, int64_t p, int64_t m,
                                   const std::string& schedule, int64_t v = 1) {
  auto plan = memsim::testing::one_gpu_plan(model, 512);
  plan.cluster.gpus_per_node = p;
  plan.parallel.pp.stages = p;
  plan.parallel.pp.schedule = schedule;
  plan.parallel.pp.virtual_stages = v;
  plan.training.global_batch = m;
  return plan;
}

}  // namespace

TEST_CASE("GPipe and 1F1B idle (p-1)/(m+p-1) of the step, interleaved (p-1)/(vm+p-1)") {
  // Narayanan et al. 2021 §2.2 (reference/formulas.md §4), communication time zero,
  // uniform stages.
  for (int64_t p : {2, 4, 8}) {
    for (int64_t m : {1, 3, 8, 32}) {
      CAPTURE(p);
      CAPTURE(m);
      const double expected = static_cast<double>(p - 1) / static_cast<double>(m + p - 1);
      CHECK(uniform_bubble("gpipe", p, m, 1) == doctest::Approx(expected).epsilon(1e-12));
      CHECK(uniform_bubble("1f1b", p, m, 1) == doctest::Approx(expected).epsilon(1e-12));
    }
    for (int64_t v : {2, 3, 4}) {
      for (int64_t m : {p, 2 * p, 4 * p}) {
        CAPTURE(p);
        CAPTURE(v);
        CAPTURE(m);
        const double expected = static_cast<double>(p - 1) / static_cast<double>(v * m + p - 1);
        CHECK(uniform_bubble("interleaved", p, m, v) == doctest::Approx(expected).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("each schedule runs every forward and backward of every chunk once, forward first") {
  using memsim::sim::StepKind;
  for (const auto& info : memsim::strategies::schedules()) {
    const int64_t p = 4, v = info.interleaved ? 2 : 1, m = 8;
    for (int64_t s = 0; s < p; ++s) {
      CAPTURE(info.name);
      CAPTURE(s);
      // Per (microbatch, chunk): the steps of each kind so far.
      std::map<std::pair<int, int>, std::array<int, memsim::sim::kStepKinds>> runs;
      for (const auto& step : info.steps(s, p, v, m)) {
        auto& seen = runs[{step.microbatch, step.chunk}];
        const auto count = [&](StepKind kind) { return seen[static_cast<int>(kind)]; };
        switch (step.kind) {
          case StepKind::kForward:
            CHECK(count(StepKind::kForward) == 0);
            break;
          case StepKind::kBackward:
          case StepKind::kBackwardInput:
            CHECK(count(StepKind::kForward) == 1);
            CHECK(count(StepKind::kBackward) + count(StepKind::kBackwardInput) == 0);
            break;
          case StepKind::kBackwardWeight:
            CHECK(count(StepKind::kBackwardInput) == 1);
            CHECK(count(StepKind::kBackwardWeight) == 0);
            break;
        }
        // Only schedules that split backwards take input and weight steps.
        if (step.kind == StepKind::kBackwardInput) CHECK(info.split_backward);
        ++seen[static_cast<int>(step.kind)];
      }
      CHECK(runs.size() == static_cast<size_t>(m * v));
      for (const auto& [key, seen] : runs) {
        // A whole backward, or an input and a weight step.
        const int input = seen[static_cast<int>(StepKind::kBackwardInput)];
        CHECK(seen[static_cast<int>(StepKind::kBackward)] + input == 1);
        CHECK(seen[static_cast<int>(StepKind::kBackwardWeight)] == input);
      }
    }
  }
}

TEST_CASE("layers split evenly, the first chunks taking the remainder") {
  memsim::strategies::PipelineParallelism pp;
  pp.stages = 4;
  CHECK(memsim::strategies::chunk_layers(80, pp) == std::vector<int64_t>{20, 20, 20, 20});
  CHECK(memsim::strategies::chunk_layers(30, pp) == std::vector<int64_t>{8, 8, 7, 7});
  pp.embedding_as_layer = true;
  pp.loss_as_layer = true;
  CHECK(memsim::strategies::chunk_layers(30, pp) == std::vector<int64_t>{7, 8, 8, 7});
  pp.virtual_stages = 2;
  pp.embedding_as_layer = pp.loss_as_layer = false;
  CHECK(memsim::strategies::chunk_layers(16, pp) == std::vector<int64_t>(8, 2));
  pp.layers_per_stage = {1, 3, 3, 1, 2, 2, 2, 2};
  CHECK(memsim::strategies::chunk_layers(16, pp) == pp.layers_per_stage);
}

TEST_CASE("1F1B: the first stage holds p microbatches of L/p layers, as much as L layers") {
  // Korthikanti et al. 2022 §4.2.3 and §4.3 (formulas.md §3): with 1F1B the first stage
  // holds p microbatches of its L/p layers, plus, per microbatch, the embedding's dropout
  // mask (sbh bytes) and its int64 input (8sb).
  const int64_t L = 8, p = 4, s = 512, b = 1, h = 1024;
  const auto model = gpt_like(L);
  const auto single = memsim::testing::walk(memsim::testing::one_gpu_plan(model, s, b));
  const int64_t layer = memsim::testing::forward_activation_bytes(single.timeline, 3);
  const int64_t embedding = s * b * h + 8 * s * b;
  const auto stage0 = [&](const memsim::strategies::Plan& plan) {
    return memsim::testing::walk(plan, 0)
        .result.max_by_category[memsim::sim::Category::kActivations]
        .value();
  };
  CHECK(stage0(pipelined(model, p, 16, "1f1b")) == L * layer + p * embedding);
  // Stage i holds p - i microbatches.
  const auto later = memsim::testing::walk(pipelined(model, p, 16, "1f1b"), 2).result;
  CHECK(later.max_by_category[memsim::sim::Category::kActivations].value() ==
        (p - 2) * (L / p) * layer);
  // Fewer microbatches than stages: the first stage holds all m.
  CHECK(stage0(pipelined(model, p, 2, "1f1b")) == 2 * (L / p * layer + embedding));
  // GPipe holds every microbatch.
  CHECK(stage0(pipelined(model, p, 16, "gpipe")) == 16 * (L / p * layer + embedding));
}

TEST_CASE("interleaved: the first stage holds L(1 + (p-1)/(pv)) layers' worth") {
  const int64_t L = 16, p = 4, v = 2, s = 512, b = 1, h = 1024;
  const auto model = gpt_like(L);
  const auto single = memsim::testing::walk(memsim::testing::one_gpu_plan(model, s, b));
  const int64_t layer = memsim::testing::forward_activation_bytes(single.timeline, 3);
  const auto w = memsim::testing::walk(pipelined(model, p, 8, "interleaved", v), 0).result;
  // At most p·v + p - 1 = 11 chunks of L/(pv) = 2 layers are in flight on the first stage.
  // The fullest moment is after its twelfth forward (chunk 0 of microbatch 7), when the
  // first chunks of all 8 microbatches are alive, each with its embedding's activations.
  const int64_t chunks_in_flight = p * v + p - 1;
  const int64_t layers_in_flight = chunks_in_flight * L / (p * v);
  CHECK(layers_in_flight * (p * v) == L * (p * v + p - 1));  // = L(1 + (p-1)/(pv))
  const int64_t embedding = s * b * h + 8 * s * b;
  CHECK(w.max_by_category[memsim::sim::Category::kActivations].value() ==
        layers_in_flight * layer + 8 * embedding);
}

TEST_CASE("stages differ where they should: activations on the first, logits on the last") {
  auto plan = pipelined(memsim::testing::preset("llama3-8b"), 4, 8, "1f1b");
  plan.model.attention = memsim::sim::AttentionImpl::kFlash;
  const auto report = memsim::evaluation::evaluate(plan);
  using memsim::sim::Category;
  const auto& first = report.ranks.front().memory;
  const auto& last = report.ranks.back().memory;
  CHECK(first.max_by_category[Category::kActivations] >
        last.max_by_category[Category::kActivations]);
  CHECK(last.max_by_category[Category::kTemporary] > first.max_by_category[Category::kTemporary]);
  // The last stage's temporaries include the fp32 logits: 4·s·b·V bytes at least.
  CHECK(last.max_by_category[Category::kTemporary].value() >= 4LL * 512 * 128256);
  for (const auto& rank : report.ranks)
    CHECK(rank.memory.step_time_s <= report.step_time_s);
  CHECK(report.bubble_fraction > 0.0);
}

TEST_CASE("a tied LM head on the last stage keeps a replica of the embedding") {
  auto plan = pipelined(memsim::testing::preset("gpt2-124m"), 2, 4, "1f1b");
  const memsim::evaluation::CompiledPlan compiled(plan);
  using memsim::sim::Category;
  const auto last_weights = compiled.program(1).resident[Category::kWeights].value();
  const auto first_weights = compiled.program(0).resident[Category::kWeights].value();
  // GPT-2: 12 layers split 6/6; the first stage has wte and wpe, the last the final norm
  // and a replica of wte (50257 × 768), in bf16.
  CHECK(first_weights - last_weights == 2 * (1024 * 768 - 2 * 768));
  // The replica belongs to the first stage's count: shares still add up to the model.
  CHECK(compiled.rank_parameters(0) + compiled.rank_parameters(1) ==
        compiled.graph().parameter_count());
}

TEST_CASE("every rank's timeline maximum is its peak") {
  auto plan = pipelined(gpt_like(8), 4, 8, "interleaved", 2);
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{1};
  for (int64_t rank = 0; rank < 4; ++rank) {
    const auto w = memsim::testing::walk(plan, rank);
    CHECK(w.timeline.live_by_category().rowwise().sum().maxCoeff() == w.result.peak.value());
  }
}

namespace {

/// The most chunks of microbatches `schedule`'s stage `s` holds at once: forward run,
/// weight gradients not yet made.
int64_t most_in_flight(const std::string& schedule, int64_t s, int64_t p, int64_t v, int64_t m) {
  const auto steps = memsim::strategies::find_schedule(schedule)->steps(s, p, v, m);
  int64_t most = 0;
  memsim::sim::walk_steps(steps, v, [&](const memsim::sim::StepState& at) {
    int64_t held = at.step.kind == memsim::sim::StepKind::kForward ? 1 : 0;
    for (const int64_t n : at.in_flight)
      held += n;
    for (const int64_t n : at.awaiting)
      held += n;
    most = std::max(most, held);
  });
  return most;
}

}  // namespace

TEST_CASE("PyTorch's interleaved 1F1B holds fewer chunks than Megatron-LM's when m = p") {
  const int64_t p = 4, v = 2;
  for (int64_t s = 0; s < p; ++s) {
    CAPTURE(s);
    // Megatron-LM warms up every forward of its one round; PyTorch 2(p - s - 1) + (v - 1)p,
    // then alternates, so one more is in flight before each backward.
    CHECK(most_in_flight("interleaved", s, p, v, p) == p * v);
    CHECK(most_in_flight("interleaved-pytorch", s, p, v, p) ==
          std::min(2 * (p - s - 1) + (v - 1) * p + 1, p * v));
    // With more rounds the two are one schedule.
    CHECK(memsim::strategies::find_schedule("interleaved")->steps(s, p, v, 3 * p) ==
          memsim::strategies::find_schedule("interleaved-pytorch")->steps(s, p, v, 3 * p));
  }
  // Looped BFS holds every microbatch of every chunk before its first backward.
  CHECK(most_in_flight("looped-bfs", 0, p, v, 6) == 6 * v);
}

TEST_CASE("zero-bubble: PyTorch's ZB-1P order, the weight steps delayed by the stage") {
  using memsim::sim::ScheduledStep;
  using memsim::sim::StepKind;
  const auto F = [](int mb) { return ScheduledStep{StepKind::kForward, mb, 0, 0.0}; };
  const auto I = [](int mb) { return ScheduledStep{StepKind::kBackwardInput, mb, 0, 0.0}; };
  const auto W = [](int mb) { return ScheduledStep{StepKind::kBackwardWeight, mb, 0, 0.0}; };
  const auto& zb = *memsim::strategies::find_schedule("zero-bubble");
  // p = 2, one chunk: stage 0 warms up with p - 1 forwards and weighs each input step at
  // once; stage 1 weighs each a step later (ScheduleInterleavedZeroBubble's
  // num_1f1b_microbatches = rank), the last one at the end.
  CHECK(zb.steps(0, 2, 1, 4) == std::vector<ScheduledStep>{F(0), F(1), I(0), W(0), F(2), I(1), W(1),
                                                           F(3), I(2), W(2), I(3), W(3)});
  CHECK(zb.steps(1, 2, 1, 4) == std::vector<ScheduledStep>{F(0), I(0), F(1), I(1), W(0), F(2), I(2),
                                                           W(1), F(3), I(3), W(2), W(3)});
}

TEST_CASE("zero-bubble: a microbatch awaiting its weight step still holds its activations") {
  // The last of 2 stages: under 1F1B one microbatch is in flight before each backward;
  // under ZB-1P another awaits its weight step, holding its activations and its weights'
  // output gradients, so the stage peaks higher.
  auto plan = pipelined(gpt_like(4), 2, 4, "1f1b");
  const auto one_f_one_b = memsim::evaluation::evaluate(plan);
  plan.parallel.pp.schedule = "zero-bubble";
  const auto zero_bubble = memsim::evaluation::evaluate(plan);
  using memsim::sim::Category;
  const auto& before = one_f_one_b.ranks.back().memory;
  const auto& after = zero_bubble.ranks.back().memory;
  CHECK(after.max_by_category[Category::kActivations] >
        before.max_by_category[Category::kActivations]);
  CHECK(after.peak > before.peak);
  // The weight steps fill the bubble: the step idles less.
  CHECK(zero_bubble.bubble_fraction < one_f_one_b.bubble_fraction);
}

TEST_CASE("zero-bubble schedules hold as much on every stage as 1F1B on its first") {
  // Qi et al. 2024 (Zero Bubble Pipeline Parallelism): ZB-1P and ZB-V keep p microbatches'
  // activations on every stage (ZB-V's chunks being half a stage, 2p of them), where 1F1B
  // keeps p - s on stage s. DualPipeV holds one chunk more: each pair's forward runs before
  // its backward frees.
  for (const int64_t p : {2, 4, 8}) {
    for (int64_t s = 0; s < p; ++s) {
      CAPTURE(p);
      CAPTURE(s);
      CHECK(most_in_flight("1f1b", s, p, 1, 4 * p) == p - s);
      CHECK(most_in_flight("zero-bubble", s, p, 1, 4 * p) == p);
      CHECK(most_in_flight("zero-bubble", s, p, 2, 4 * p) == 2 * p);
      CHECK(most_in_flight("zbv", s, p, 2, 4 * p) == 2 * p);
      CHECK(most_in_flight("dualpipev", s, p, 2, 4 * p) == 2 * p + 1);
    }
  }
}

TEST_CASE("V-shaped schedules place stage s's chunks at s and 2p - 1 - s") {
  auto plan = pipelined(gpt_like(8), 2, 4, "zbv", 2);
  const auto layers = memsim::strategies::chunk_layers(8, plan.parallel.pp);
  const auto first = memsim::strategies::stage_shapes(layers, 0, plan.parallel.pp);
  const auto second = memsim::strategies::stage_shapes(layers, 1, plan.parallel.pp);
  using Shape = memsim::strategies::ChunkShape;
  // The first stage runs the embedding's chunk and the head's; the second the middle two.
  CHECK(first == std::vector<Shape>{{0, 2, true, false}, {6, 2, false, true}});
  CHECK(second == std::vector<Shape>{{2, 2, false, false}, {4, 2, false, false}});
  plan.parallel.pp.schedule = "zero-bubble";
  CHECK(memsim::strategies::stage_shapes(layers, 0, plan.parallel.pp)[1].first_layer == 4);
  // The walk runs them: the first stage holds the whole embedding and head.
  plan.parallel.pp.schedule = "zbv";
  const memsim::evaluation::CompiledPlan compiled(plan);
  CHECK(compiled.rank_parameters(0) > compiled.rank_parameters(1));
  CHECK(memsim::evaluation::evaluate(plan).bubble_fraction > 0.0);
}
