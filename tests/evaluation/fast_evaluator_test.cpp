// The fast path equals the walk: on thousands of random plans, every stage's peak, whether
// it fits, the host memory, the step time and the bubble agree.

#include "evaluation/fast_evaluator.h"

#include <functional>
#include <random>

#include <doctest/doctest.h>

#include "evaluation/evaluate.h"
#include "hardware/gpu_catalog.h"
#include "strategies/data_parallel.h"
#include "strategies/schedules.h"
#include "strategies/strategy_pass.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::Plan;

class PlanGenerator {
 public:
  explicit PlanGenerator(uint32_t seed) : rng_(seed) {}

  /// Mixed kinds of layer: one or two ranges of layers with widths of their own (possibly
  /// the model's own, which is no new kind).
  void add_layer_kinds(memsim::sim::ModelSpec& m) {
    int64_t first = static_cast<int64_t>(rng_() % m.layers);
    for (int range = 0; range < 2 && first < m.layers; ++range) {
      const int64_t last = first + static_cast<int64_t>(rng_() % (m.layers - first));
      m.layer_kinds.push_back({first, last, pick({64, 96, 128, 256, 320})});
      first = last + 1 + static_cast<int64_t>(rng_() % 2);
    }
  }

  Plan next() {
    Plan plan;
    memsim::sim::ModelSpec& m = plan.model;
    m.name = "random";
    m.layers = pick({1, 2, 3, 4, 5, 6, 8, 16});
    m.heads = pick({2, 4, 8});
    m.hidden = m.heads * pick({8, 16, 32});
    m.kv_heads = pick_divisor(m.heads);
    m.ffn = pick({64, 128, 192, 256});
    m.vocab = pick({100, 257, 1000});
    m.ffn_type = coin() ? memsim::sim::FfnType::kGelu : memsim::sim::FfnType::kSwiGlu;
    if (m.ffn_type == memsim::sim::FfnType::kSwiGlu && coin()) {
      m.swiglu_kernel = memsim::sim::SwiGluKernel::kFused;
    }
    m.norm = coin() ? memsim::sim::NormType::kLayerNorm : memsim::sim::NormType::kRmsNorm;
    if (m.norm == memsim::sim::NormType::kRmsNorm && coin()) {
      m.norm_kernel = memsim::sim::NormKernel::kEager;
    }
    m.bias = coin();
    m.qkv_bias = coin();
    m.tied_embeddings = coin();
    m.positions = coin() ? memsim::sim::PositionType::kRope : memsim::sim::PositionType::kLearned;
    m.max_positions = 256;
    m.attention = static_cast<memsim::sim::AttentionImpl>(rng_() % 3);
    m.dropout = coin() ? 0.0 : 0.1;
    if (coin()) add_layer_kinds(m);

    auto& tp = plan.parallel.tp;
    tp.degree = pick({1, 1, 2, 4});
    while (m.heads % tp.degree != 0 || m.ffn_not_divided_by(tp.degree) != 0 ||
           (m.kv_heads % tp.degree != 0 && tp.degree % m.kv_heads != 0)) {
      tp.degree /= 2;
    }
    plan.training.seq_len = pick({8, 16, 24, 64});
    tp.sequence_parallel = tp.degree > 1 && plan.training.seq_len % tp.degree == 0 && coin();
    tp.vocab_multiple = pick({1, 8, 128});

    auto& pp = plan.parallel.pp;
    pp.stages = std::min<int64_t>(pick({1, 1, 2, 3, 4}), m.layers);
    const auto& schedules = memsim::strategies::schedules();
    const auto& schedule = schedules[rng_() % schedules.size()];
    pp.schedule = schedule.name;
    pp.virtual_stages =
        schedule.interleaved ? std::max<int64_t>(1, m.layers / pp.stages / pick({1, 2})) : 1;
    pp.virtual_stages = std::min<int64_t>(pp.virtual_stages, 3);
    if (schedule.v_shape) {  // two chunks per stage, each with a layer
      pp.stages = std::max<int64_t>(1, std::min<int64_t>(pp.stages, m.layers / 2));
      pp.virtual_stages = 2;
    }
    pp.embedding_as_layer = coin() && coin();
    pp.loss_as_layer = coin() && coin();
    const auto layers = memsim::strategies::chunk_layers(m.layers, pp);
    for (size_t g = 1; g + 1 < layers.size(); ++g) {
      if (layers[g] <= 0) pp.embedding_as_layer = pp.loss_as_layer = false;
    }

    auto& dp = plan.parallel.dp;
    dp.degree = pick({1, 2, 3, 4});
    // Split backwards are modelled up to ZeRO-1 and without checkpointing (their checks).
    dp.zero = static_cast<int>(rng_() % (schedule.split_backward ? 2 : 4));
    dp.offload = memsim::strategies::Offload::kNone;
    if (dp.zero >= 1 && coin()) dp.offload = memsim::strategies::Offload::kOptimizer;
    if (dp.zero == 3 && coin()) dp.offload = memsim::strategies::Offload::kOptimizerAndParams;
    dp.reduce_bucket_elements = pick({1000, 100'000, 500'000'000});
    dp.prefetch_layers = pick({0, 1, 2});
    dp.persistence_threshold = pick({0, 300, 100'000});
    dp.sub_group_elements = pick({1000, 1'000'000'000});
    dp.overlap_communication = coin();
    dp.gradient_as_bucket_view = coin();
    dp.reduce_buckets = (dp.zero == 1 || dp.zero == 2) && coin() ? 2 : 1;
    if (dp.zero == 3 && dp.offload == memsim::strategies::Offload::kNone && coin()) {
      dp.sharding = memsim::strategies::Sharding::kFsdp2;
      dp.reshard_after_forward = coin();
      if (dp.degree == 4 && coin()) dp.replicate = 2;
    } else if (dp.zero == 3 && pp.stages == 1 && coin()) {
      // DeepSpeed's coordinator, with limits from a layer's worth to the whole model.
      dp.gathering = memsim::strategies::Gathering::kModules;
      dp.modules.prefetch_bucket = pick({0, 50'000, 50'000'000});
      dp.modules.max_live = pick({100'000, 1'000'000'000});
      dp.modules.max_reuse_distance = pick({0, 300'000, 1'000'000'000});
    }

    plan.training.micro_batch = pick({1, 2, 3});
    int64_t m_batches = pick({1, 2, 3, 4, 6, 8});
    if (schedule.interleaved) m_batches = pp.stages * pick({1, 2});
    if (schedule.fills_every_chunk) m_batches = pp.chunks() * pick({1, 2});
    plan.training.global_batch = m_batches * plan.training.micro_batch * dp.degree;
    plan.training.optimizer.name =
        pick_name({"adamw", "adam", "sgd", "lion", "adam8bit", "adafactor"});
    const auto& implementations =
        memsim::strategies::find_optimizer(plan.training.optimizer.name)->implementations;
    if (coin()) {
      plan.training.optimizer.implementation =
          implementations[rng_() % implementations.size()].implementation;
    }
    plan.training.gradient_buffers = coin() ? memsim::strategies::GradientBuffers::kPersistent
                                            : memsim::strategies::GradientBuffers::kOnDemand;
    const bool steps_in_place =
        (dp.zero == 0 || dp.sharding == memsim::strategies::Sharding::kFsdp2) &&
        dp.offload == memsim::strategies::Offload::kNone;
    plan.training.optimizer_in_backward = m_batches == 1 && steps_in_place && coin();
    plan.precision.recipe = static_cast<memsim::strategies::PrecisionRecipe>(
        rng_() % memsim::strategies::precision_recipes().size());
    if (coin() && coin()) plan.precision.gradients = memsim::strategies::Dtype::kFp32;
    switch (schedule.split_backward ? 0 : rng_() % 5) {
      case 0:
        plan.training.chunk_passes.checkpointing = memsim::strategies::NoCheckpointing{};
        break;
      case 1:
        plan.training.chunk_passes.checkpointing = memsim::strategies::SelectiveCheckpointing{};
        break;
      case 2:
        plan.training.chunk_passes.checkpointing = memsim::strategies::SqrtCheckpointing{};
        break;
      default:
        plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{
            pick({1, 2, 3}), pick({1, 3, memsim::strategies::FullCheckpointing::kAllLayers}),
            tp.degree > 1 && !tp.sequence_parallel && coin()};
    }
    // Before the cluster: a pass may set the layout (tensor parallelism's degree).
    draw_pass_settings(plan);
    const auto& gpus = memsim::hardware::gpus();
    plan.cluster.gpu = gpus[rng_() % gpus.size()];
    const int64_t world = tp.degree * pp.stages * dp.degree;
    plan.cluster.gpus_per_node = pick_divisor(world);
    plan.cluster.nodes = world / plan.cluster.gpus_per_node;
    // Small models: a capacity near their peaks makes "fits" go both ways.
    plan.cluster.gpu.edit().capacity = memsim::sim::Bytes(pick({1, 2, 4, 8, 64}) << 20);
    if (coin()) plan.cluster.cpu_memory_override = memsim::sim::Bytes(pick({1, 1 << 20, 1 << 30}));
    plan.overheads.allocator_reserve = pick({0, 15, 50}) / 100.0;
    plan.overheads.cuda_context = memsim::sim::Bytes(pick({0, 1000}));
    plan.overheads.nccl_per_group = memsim::sim::Bytes(pick({0, 100'000}));
    return plan;
  }

 private:
  /// Every registered strategy pass's settings, drawn from its own schema: a third of the
  /// time left as drawn above, a third one of its shorthand words (`all`, `sqrt`), a third
  /// its integer keys from their smallest values and words. A new pass is drawn here without
  /// editing this test; a pass that refuses the result gets its defaults back.
  void draw_pass_settings(Plan& plan) {
    using Read = memsim::strategies::SettingKey::Read;
    const Plan defaults;
    for (const auto& pass : memsim::strategies::strategy_passes()) {
      const auto way = rng_() % 3;
      for (const auto& key : pass.keys) {
        if (way == 1 && key.read == Read::kMapping && !key.shorthands.empty()) {
          key.shorthands[rng_() % key.shorthands.size()].set(plan);
        }
        if (way != 2 || coin()) continue;
        draw_key(key, plan);
      }
      for (const auto& check : pass.checks) {
        if (!check.fails(plan)) continue;
        for (const auto& key : pass.keys) {
          if (key.copy != nullptr) key.copy(plan, defaults);
        }
      }
    }
    // A check its own pass cannot settle (one without keys, refusing what others drew):
    // every pass gets its defaults back.
    for (const auto& check : memsim::strategies::pass_checks()) {
      if (!check.fails(plan)) continue;
      for (const auto& pass : memsim::strategies::strategy_passes()) {
        for (const auto& key : pass.keys) {
          if (key.copy != nullptr) key.copy(plan, defaults);
        }
      }
      break;
    }
  }

  /// One key of a pass: an integer from its smallest values and words, one of a choice's
  /// words, some of a word set's, or either value of a flag.
  void draw_key(const memsim::strategies::SettingKey& key, Plan& plan) {
    using Read = memsim::strategies::SettingKey::Read;
    std::vector<int64_t> values;
    switch (key.read) {
      case Read::kInteger:
        for (auto v = static_cast<int64_t>(key.least); v <= key.most && v <= key.least + 3; ++v)
          values.push_back(v);
        for (const auto& word : key.words)
          values.push_back(word.value);
        key.set_integer(plan, values[rng_() % values.size()]);
        break;
      case Read::kChoice:
        key.set_integer(plan, key.words[rng_() % key.words.size()].value);
        break;
      case Read::kWordSet: {
        int64_t bits = 0;
        for (const auto& word : key.words)
          bits |= coin() ? word.value : 0;
        key.set_integer(plan, bits);
        break;
      }
      case Read::kFlag:
        key.set_number(plan, coin() ? 1.0 : 0.0);
        break;
      default:
        break;
    }
  }

  int64_t pick(std::initializer_list<int64_t> values) {
    return *(values.begin() + rng_() % values.size());
  }
  std::string pick_name(std::initializer_list<const char*> values) {
    return *(values.begin() + rng_() % values.size());
  }
  int64_t pick_divisor(int64_t n) {
    std::vector<int64_t> divisors;
    for (int64_t d = 1; d <= n; ++d) {
      if (n % d == 0) divisors.push_back(d);
    }
    return divisors[rng_() % divisors.size()];
  }
  bool coin() { return rng_() % 2 == 0; }

  std::mt19937 rng_;
};

}  // namespace

TEST_CASE("the fast path equals the walk on 10,000 random plans") {
  PlanGenerator generator(20261128);
  memsim::evaluation::FastEvaluator fast;
  int fitting = 0;
  int by_module = 0;
  int distributed = 0;
  for (int i = 0; i < 10'000; ++i) {
    const Plan plan = generator.next();
    CAPTURE(i);
    by_module += memsim::strategies::gathers_modules(plan.parallel.dp) ? 1 : 0;
    const auto* full = std::get_if<memsim::strategies::FullCheckpointing>(
        &plan.training.chunk_passes.checkpointing);
    distributed += full != nullptr && full->distribute ? 1 : 0;
    const auto walked = memsim::evaluation::evaluate(plan);
    const auto quick = fast.evaluate(plan);
    const int64_t per_stage = plan.parallel.tp.degree * plan.parallel.dp.degree;
    REQUIRE(quick.stage_peaks.size() == static_cast<size_t>(plan.parallel.pp.stages));
    for (const auto& rank : walked.ranks) {
      CHECK(quick.stage_peaks[rank.placement.rank / per_stage] == rank.memory.peak);
    }
    CHECK(quick.peak == walked.peak);
    CHECK(quick.fits == walked.fits);
    CHECK(quick.cpu_bytes_per_node == walked.cpu_bytes_per_node);
    CHECK(quick.step_time_s == doctest::Approx(walked.step_time_s).epsilon(1e-9));
    CHECK(quick.bubble_fraction == doctest::Approx(walked.bubble_fraction).epsilon(1e-9));
    CHECK(quick.model_flops_utilization ==
          doctest::Approx(walked.model_flops_utilization).epsilon(1e-9));
    // Sweeps ask only for the largest peak, found from each kind of stage's moments.
    const auto largest = fast.evaluate(plan, memsim::evaluation::StagePeaks::kLargestOnly);
    CHECK(largest.stage_peaks.empty());
    CHECK(largest.peak == walked.peak);
    CHECK(largest.fits == walked.fits);
    CHECK(largest.step_time_s == quick.step_time_s);
    fitting += walked.fits ? 1 : 0;
    // A sweep's innermost axis: the same plan with another global batch, priced from the
    // stages just priced.
    if (i % 2 == 0) {
      Plan more = plan;
      more.training.global_batch *= 2 + (i / 2) % 2;
      const auto walked_more = memsim::evaluation::evaluate(more);
      const auto quick_more = fast.evaluate(more, memsim::evaluation::StagePeaks::kLargestOnly);
      CHECK(quick_more.peak == walked_more.peak);
      CHECK(quick_more.cpu_bytes_per_node == walked_more.cpu_bytes_per_node);
      CHECK(quick_more.step_time_s == doctest::Approx(walked_more.step_time_s).epsilon(1e-9));
    }
  }
  // Both outcomes are exercised, DeepSpeed's gathering module by module and distributed
  // checkpoints.
  CHECK(by_module > 200);
  CHECK(distributed > 50);
  CHECK(fitting > 1000);
  CHECK(fitting < 9000);
}

TEST_CASE("one evaluator follows a sweep that changes one setting at a time") {
  // A sweep varies a key or two between points: every table the evaluator keeps must see
  // each setting its value depends on, or the next point reads a stale value.
  auto base = memsim::testing::one_gpu_plan(memsim::testing::preset("llama2-7b"), 1024, 2);
  base.model.layers = 6;
  base.parallel.pp.stages = 2;
  base.parallel.dp.degree = 2;
  base.cluster.gpus_per_node = 4;
  base.training.global_batch = 16;
  std::vector<std::function<void(Plan&)>> changes = {
      [](Plan& p) {
        p.training.chunk_passes.activation_offload = {2, 1};
      },
      [](Plan& p) {
        p.training.chunk_passes.activation_offload = {2, 0};
      },
      [](Plan& p) { p.training.loss_chunks = 4; },
      [](Plan& p) {
        p.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{2};
      },
      [](Plan& p) {
        p.parallel.dp.zero = 3;
        p.parallel.dp.prefetch_layers = 2;
      },
      [](Plan& p) { p.training.micro_batch = 4; },
      [](Plan& p) { p.training.global_batch = 48; },
      [](Plan& p) { p.training.gradient_buffers = memsim::strategies::GradientBuffers::kOnDemand; },
      [](Plan& p) { p.parallel.dp.offload = memsim::strategies::Offload::kOptimizer; },
      [](Plan& p) { p.parallel.pp.schedule = "gpipe"; },
      [](Plan& p) {
        p.parallel.dp.zero = 3;
        p.parallel.dp.offload = memsim::strategies::Offload::kNone;
        p.parallel.dp.sharding = memsim::strategies::Sharding::kFsdp2;
      },
      [](Plan& p) { p.parallel.dp.reshard_after_forward = false; },
  };
  memsim::evaluation::FastEvaluator fast;
  Plan plan = base;
  for (size_t i = 0; i < changes.size(); ++i) {
    CAPTURE(i);
    // The base, then the base with one change, then with every change so far.
    for (const bool cumulative : {false, true}) {
      Plan point = cumulative ? plan : base;
      changes[i](point);
      const auto walked = memsim::evaluation::evaluate(point);
      const auto quick = fast.evaluate(point);
      CHECK(quick.peak == walked.peak);
      CHECK(quick.cpu_bytes_per_node == walked.cpu_bytes_per_node);
      CHECK(quick.step_time_s == doctest::Approx(walked.step_time_s).epsilon(1e-9));
      if (cumulative) plan = point;
      CHECK(fast.evaluate(base).peak == memsim::evaluation::evaluate(base).peak);
    }
  }
}

TEST_CASE("a micro-batch's sums per sample are its own, whichever micro-batch came first") {
  // Micro-batch 16 relates its sizes to micro-batch 1's: most are 16 times as large, a few
  // (the fixed ones) the same. Its per-sample sums leave the fixed ones out; micro-batch 1's
  // own sums hold them. The two must not be taken for each other, in either order.
  const Plan base = memsim::testing::scenario_from_text(R"(name: fixed
model: {layers: 4, hidden: 512, heads: 8, kv_heads: 2, ffn: 1536, vocab: 1024}
hardware: {gpu: a100-40gb, gpus_per_node: 8}
training: {seq_len: 512, micro_batch: 1, global_batch: 64}
parallel: {tp: 4, dp: auto, schedule: gpipe}
precision: fp32
)",
                                                        "fixed.yaml")
                        .variants.front()
                        .plan;
  const Plan one = base;
  Plan sixteen = base;
  sixteen.training.micro_batch = 16;
  for (const bool one_first : {true, false}) {
    CAPTURE(one_first);
    memsim::evaluation::FastEvaluator fast;
    const std::vector<const Plan*> order = one_first ? std::vector<const Plan*>{&one, &sixteen}
                                                     : std::vector<const Plan*>{&sixteen, &one};
    for (const Plan* plan : order)
      CHECK(fast.evaluate(*plan).peak == memsim::evaluation::evaluate(*plan).peak);
  }
}
