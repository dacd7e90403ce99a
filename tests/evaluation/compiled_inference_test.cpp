// Inference: the KV cache (formulas.md §5), quantised weight bytes counted by hand, the
// prefill and decode walk, and the capacity answers at their boundaries.

#include "evaluation/compiled_inference.h"

#include <doctest/doctest.h>

#include "evaluation/evaluate.h"
#include "support/test_support.h"

namespace {

using memsim::evaluation::CompiledInference;
using memsim::sim::Bytes;
using memsim::sim::Category;
using memsim::strategies::Mode;
using memsim::strategies::Plan;
using memsim::strategies::WeightFormat;

using memsim::testing::serving_plan;

}  // namespace

TEST_CASE("the KV cache of qwen2.5-32b is 256 KiB per token in bf16") {
  // formulas.md §5: 2 (K and V) · 64 layers · 8 KV heads · 128 · 2 bytes = 262,144.
  Plan plan = serving_plan("qwen2.5-32b", 1, 1, 0);
  CHECK(memsim::strategies::kv_bytes_per_token(memsim::strategies::serving_plan(plan), 64) ==
        Bytes(262'144));
  plan.inference.kv_cache = memsim::strategies::KvFormat::kFp8;
  CHECK(memsim::strategies::kv_bytes_per_token(memsim::strategies::serving_plan(plan), 64) ==
        Bytes(131'072));
  // Tensor parallelism splits the KV heads: 8 / 2 = 4 per rank.
  plan.inference.kv_cache = memsim::strategies::KvFormat::kBf16;
  plan.parallel.tp.degree = 2;
  CHECK(memsim::strategies::kv_bytes_per_token(memsim::strategies::serving_plan(plan), 64) ==
        Bytes(131'072));

  // The walk holds it all: 8 sequences × (2048 + 512) tokens at the last decode step.
  plan = serving_plan("qwen2.5-32b", 8, 2048, 512);
  plan.model.attention = memsim::sim::AttentionImpl::kFlash;
  const auto report = memsim::evaluation::evaluate(plan);
  CHECK(report.ranks[0].memory.max_by_category[Category::kKvCache] ==
        Bytes(int64_t{262'144} * 8 * 2560));
  CHECK(report.inference->kv_bytes_per_token == Bytes(262'144));
  // Serving's own report carries the same facts; the scenario's report leaves the training
  // step's fields at zero.
  const memsim::evaluation::ServingReport serving = memsim::evaluation::evaluate(
      memsim::evaluation::CompiledInference(memsim::strategies::serving_plan(plan)));
  CHECK(serving.serving.kv_bytes_per_token == report.inference->kv_bytes_per_token);
  CHECK(serving.peak == report.peak);
  CHECK(report.microbatches == 0);
  CHECK(report.bubble_fraction == 0.0);
}

TEST_CASE("more tensor-parallel ranks than KV heads replicate one head per rank") {
  // llama3-70b: 8 KV heads of 128; tp = 16 leaves each rank one head (a replica):
  // 2 · 80 layers · 1 · 128 · 2 bytes = 40,960 per token.
  Plan plan = serving_plan("llama3-70b", 1, 1, 0);
  plan.parallel.tp.degree = 16;
  CHECK(memsim::strategies::kv_bytes_per_token(memsim::strategies::serving_plan(plan), 80) ==
        Bytes(40'960));
  plan.parallel.tp.degree = 8;
  CHECK(memsim::strategies::kv_bytes_per_token(memsim::strategies::serving_plan(plan), 80) ==
        Bytes(40'960));
  plan.parallel.tp.degree = 4;
  CHECK(memsim::strategies::kv_bytes_per_token(memsim::strategies::serving_plan(plan), 80) ==
        Bytes(81'920));
}

TEST_CASE("a paged cache rounds each sequence up to whole blocks") {
  Plan plan = serving_plan("llama2-7b", 3, 100, 0);
  plan.inference.kv_block = 16;
  CHECK(memsim::strategies::cached_tokens(plan.inference, 100) == 112);
  CHECK(memsim::strategies::cached_tokens(plan.inference, 112) == 112);
  const auto report = memsim::evaluation::evaluate(plan);
  // llama2-7b: 2 · 32 layers · 32 heads · 128 · 2 bytes = 524,288 per token (MHA).
  CHECK(report.ranks[0].memory.max_by_category[Category::kKvCache] == Bytes(524'288 * 112 * 3));
}

TEST_CASE("int4 weights with groups of 128 take the bytes counted by hand (llama2-7b)") {
  // Per layer, rows × inputs: q, k, v, o 4096 × 4096; gate and up 11008 × 4096; down
  // 4096 × 11008. int4 is half a byte per weight; each row keeps an fp16 scale and zero
  // point (4 bytes) per 128 inputs: ceil(4096 / 128) = 32 groups, ceil(11008 / 128) = 86.
  const int64_t attention = 4 * (4096 * 4096 / 2 + 4096 * 32 * 4);  // 35,651,584
  const int64_t gate_up = 2 * (11008 * 4096 / 2 + 11008 * 32 * 4);  // 47,906,816
  const int64_t down = 4096 * 11008 / 2 + 4096 * 86 * 4;            // 23,953,408
  const int64_t norms = 2 * 4096 * 2;                               // two RMSNorm weights, bf16
  const int64_t layers = 32 * (attention + gate_up + down + norms);
  // The embedding and the (untied) LM head stay in bf16: 32000 × 4096 × 2 each; the final
  // norm 4096 × 2.
  const int64_t expected = layers + 2 * 32000 * 4096 * 2 + 4096 * 2;
  CHECK(expected == 3'965'198'336);

  Plan plan = serving_plan("llama2-7b", 1, 16, 0);
  plan.inference.weights = WeightFormat::kInt4;
  const auto report = memsim::evaluation::evaluate(plan);
  CHECK(report.ranks[0].memory.max_by_category[Category::kWeights] == Bytes(expected));

  // bf16 is 2 bytes per parameter, exactly.
  plan.inference.weights = WeightFormat::kBf16;
  CHECK(memsim::evaluation::evaluate(plan).ranks[0].memory.max_by_category[Category::kWeights] ==
        Bytes(2 * report.parameters));
  // int8 with its groups: 1 byte per linear weight, the same scales.
  plan.inference.weights = WeightFormat::kInt8;
  const int64_t int8_layers =
      32 * (4 * (4096 * 4096 + 4096 * 32 * 4) + 2 * (11008 * 4096 + 11008 * 32 * 4) + 4096 * 11008 +
            4096 * 86 * 4 + norms);
  CHECK(memsim::evaluation::evaluate(plan).ranks[0].memory.max_by_category[Category::kWeights] ==
        Bytes(int8_layers + 2 * 32000 * 4096 * 2 + 4096 * 2));
}

TEST_CASE("served layers of another kind hold the weights of their own width") {
  // llama2-7b with layers 0-9 of MLP width 5504 (half of 11008): each keeps 3 × 4096 × 5504
  // fewer bf16 weights, and the rank holds exactly 2 bytes per parameter of the model.
  Plan plan = serving_plan("llama2-7b", 1, 16, 0);
  const auto whole = memsim::evaluation::evaluate(plan);
  plan.model.layer_kinds = {{0, 9, 5504}};
  const auto narrow = memsim::evaluation::evaluate(plan);
  CHECK(whole.parameters - narrow.parameters == 10 * 3 * 4096 * 5504);
  CHECK(narrow.ranks[0].memory.max_by_category[Category::kWeights] == Bytes(2 * narrow.parameters));
}

TEST_CASE("walking every decode step peaks where the prefill and the last step do") {
  struct Case {
    const char* name;
    int64_t tp, pp, chunk, block;
    bool flash;
  };
  for (const Case c : {Case{"plain", 1, 1, 0, 0, false}, Case{"flash", 1, 1, 0, 16, true},
                       Case{"chunked", 1, 1, 48, 0, false}, Case{"tp2 pp2", 2, 2, 0, 32, true}}) {
    CAPTURE(c.name);
    Plan plan = serving_plan("llama3-8b", 2, 130, 40);
    plan.model.layers = 4;
    plan.model.attention =
        c.flash ? memsim::sim::AttentionImpl::kFlash : memsim::sim::AttentionImpl::kEager;
    plan.parallel.tp.degree = c.tp;
    plan.parallel.pp.stages = c.pp;
    plan.cluster.gpus_per_node = c.tp * c.pp;
    plan.inference.prefill_chunk = c.chunk;
    plan.inference.kv_block = c.block;
    const CompiledInference compiled(memsim::strategies::serving_plan(plan));
    for (int64_t stage = 0; stage < c.pp; ++stage) {
      const auto every = compiled.walk(stage, memsim::strategies::kEveryStep);
      const auto last = compiled.walk(stage, memsim::strategies::kLastStepOnly);
      CHECK(every.peak == last.peak);
      CHECK(every.max_by_category[Category::kKvCache] == last.max_by_category[Category::kKvCache]);
    }
  }
}

TEST_CASE("a decode step's working memory, tensor by tensor (eager attention)") {
  // One layer, hidden 256 = 4 heads × 64, SwiGLU 512, vocabulary 1000; 2 sequences whose
  // step attends to 8192 tokens. While the attention core runs, these are live (bf16):
  // the residual stream x, Q, K and V of the new token, the output, and the 4 × 8192
  // scores and their softmax per sequence; the norm's output died with v_proj, its last
  // reader. Everything else in the step (MLP: 512 wide; logits: 1000 × 6 bytes) is smaller.
  memsim::sim::ModelSpec model{.name = "tiny",
                               .layers = 1,
                               .hidden = 256,
                               .heads = 4,
                               .kv_heads = 4,
                               .ffn = 512,
                               .vocab = 1000,
                               .ffn_type = memsim::sim::FfnType::kSwiGlu,
                               .norm = memsim::sim::NormType::kRmsNorm};
  Plan plan = memsim::testing::one_gpu_plan(model, 1);
  plan.mode = Mode::kInference;
  plan.inference.batch = 2;
  plan.inference.prompt_len = 8191;
  plan.inference.generate_len = 1;
  const int64_t b = 2;
  const int64_t expected = 5 * b * 256 * 2 + 2 * b * 4 * 8192 * 2;  // 267,264

  memsim::sim::Timeline timeline;
  CompiledInference(memsim::strategies::serving_plan(plan))
      .walk(0, memsim::strategies::kEveryStep, &timeline);
  const auto live = timeline.live_by_category();
  const auto column = static_cast<Eigen::Index>(Category::kTemporary);
  int64_t decode_peak = 0;
  for (size_t i = 0; i < timeline.events().size(); ++i) {
    if (timeline.events()[i].microbatch != 1) continue;  // pass 1: the decode step
    decode_peak = std::max<int64_t>(decode_peak, live(static_cast<Eigen::Index>(i), column));
  }
  CHECK(decode_peak == expected);
  // And the pass leaves nothing behind.
  CHECK(live(live.rows() - 1, column) == 0);
}

TEST_CASE("decode steps read the weights and the cache: the step time is memory-bound") {
  // qwen2.5-32b, bf16, one sequence at 4096 tokens: each step reads 65.5 GB of weights and
  // 1 GiB of cache over 2,039 GB/s of HBM: about 32.7 ms. Its 65 GFLOP take 0.4 ms at half of
  // 312 TFLOP/s.
  Plan plan = serving_plan("qwen2.5-32b", 1, 4095, 1);
  const auto report = memsim::evaluation::evaluate(plan);
  const double weights = 2.0 * static_cast<double>(report.parameters);
  const double expected = (weights + 262'144.0 * 4096) / 2039e9;
  CHECK(report.inference->last_decode_step_s == doctest::Approx(expected).epsilon(0.02));
}

TEST_CASE("the logits of every prompt position cost their vocabulary-wide tensors") {
  Plan plan = serving_plan("llama2-7b", 1, 512, 0);
  plan.model.attention = memsim::sim::AttentionImpl::kFlash;
  const auto last = memsim::evaluation::evaluate(plan);
  plan.inference.all_logits = true;
  const auto all = memsim::evaluation::evaluate(plan);
  // bf16 logits and their fp32 copy, 512 × 32000 each: 6 bytes per element at once.
  const int64_t logits = int64_t{512} * 32000 * 6;
  CHECK(all.ranks[0].memory.max_by_category[Category::kTemporary].value() >= logits);
  // With the last position's logits only, the MLP's three 512 × 11008 bf16 tensors (34 MB)
  // are the largest working set.
  CHECK(last.ranks[0].memory.max_by_category[Category::kTemporary].value() < logits / 2);
}

TEST_CASE("above 1,024 decode steps the steps between timed ones are interpolated") {
  // Timed one by one up to 1,024 steps; 1,025 steps time every second one (the last
  // included) and interpolate the rest. Decode steps grow linearly with the cache here
  // (memory-bound: weights plus a cache that grows by a token a step), so the interpolated
  // sum is the exact sum of 1,024 steps plus the last.
  Plan plan = serving_plan("llama2-7b", 8, 512, 1024);
  const auto exact = memsim::evaluation::evaluate(plan).inference.value();
  plan.inference.generate_len = 1025;
  const auto interpolated = memsim::evaluation::evaluate(plan).inference.value();
  CHECK(interpolated.generate_s ==
        doctest::Approx(exact.generate_s + interpolated.last_decode_step_s).epsilon(1e-4));
  CHECK(interpolated.last_decode_step_s > exact.last_decode_step_s);
  // A million steps cost about a thousand timed ones.
  plan.inference.generate_len = 1'000'000;
  const auto long_run = memsim::evaluation::evaluate(plan).inference.value();
  CHECK(long_run.generate_s > 1e6 * exact.last_decode_step_s);
}

TEST_CASE("a timeline of many decode steps walks every k-th, and still reaches the peak") {
  Plan plan = serving_plan("llama3-8b", 2, 64, 1000);
  plan.model.layers = 2;
  const CompiledInference compiled(memsim::strategies::serving_plan(plan));
  memsim::sim::Timeline timeline;
  const auto every_fourth = compiled.walk(0, 4, &timeline);
  CHECK(every_fourth.peak == compiled.summary(0).peak);
  int32_t passes = 0;
  int32_t last = -1;
  for (const auto& event : timeline.events()) {
    if (event.microbatch >= 0 && event.microbatch != last) {
      ++passes;
      last = event.microbatch;
    }
  }
  CHECK(passes == 1 + 250);  // the prefill, then steps 4, 8, ..., 1000
  CHECK(last == 1000);       // pass index of step 1000
}

TEST_CASE("pipeline stages hold the cache of their own layers") {
  // llama3-8b cut to 6 layers over 2 stages (3 + 3) and then 3 stages (2 + 2 + 2): each
  // stage caches 2 · layers · 8 KV heads · 128 · 2 bytes per token of 4 × 300 tokens.
  Plan plan = serving_plan("llama3-8b", 4, 300, 0);
  plan.model.layers = 6;
  for (const int64_t stages : {2, 3}) {
    plan.parallel.pp.stages = stages;
    plan.cluster.gpus_per_node = stages;
    const auto report = memsim::evaluation::evaluate(plan);
    REQUIRE(report.ranks.size() == static_cast<size_t>(stages));
    for (const auto& rank : report.ranks) {
      CHECK(rank.memory.max_by_category[Category::kKvCache] ==
            Bytes(2 * (6 / stages) * 8 * 128 * 2 * 4 * 300));
    }
  }
}
