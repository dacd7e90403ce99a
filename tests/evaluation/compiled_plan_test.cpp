#include "evaluation/compiled_plan.h"

#include <map>

#include <doctest/doctest.h>

#include "evaluation/evaluate.h"
#include "support/test_support.h"

namespace {

using memsim::strategies::Plan;

Plan layout(const std::string& model, int64_t tp, int64_t dp, int zero, bool sp = false) {
  auto plan = memsim::testing::one_gpu_plan(memsim::testing::preset(model), 256);
  plan.model.layers = std::min<int64_t>(plan.model.layers, 4);
  plan.cluster.gpus_per_node = tp * dp;
  plan.parallel.tp.degree = tp;
  plan.parallel.tp.sequence_parallel = sp;
  plan.parallel.dp.degree = dp;
  plan.parallel.dp.zero = zero;
  plan.training.global_batch = dp;
  return plan;
}

}  // namespace

TEST_CASE("ranks are numbered TP fastest, then DP, then PP") {
  const memsim::evaluation::CompiledPlan compiled(layout("llama2-7b", 4, 2, 0));
  CHECK(compiled.world_size() == 8);
  const auto r5 = compiled.placement(5);
  CHECK(r5.tp_rank == 1);
  CHECK(r5.dp_rank == 1);
  CHECK(r5.pp_stage == 0);
}

TEST_CASE("every rank's parameters add up, over the TP group and ZeRO shards, to the model") {
  struct Case {
    std::string model;
    int64_t tp, dp;
    int zero;
  };
  for (const Case& c :
       {Case{"qwen2.5-32b", 1, 4, 3}, Case{"qwen2.5-32b", 2, 2, 3}, Case{"qwen2.5-32b", 4, 1, 0},
        Case{"qwen2.5-32b", 8, 2, 3}, Case{"qwen2.5-32b", 2, 4, 1}, Case{"gpt2-124m", 4, 3, 3},
        Case{"llama3-70b", 16, 2, 2}, Case{"llama3-70b", 16, 3, 3}}) {
    CAPTURE(c.model);
    CAPTURE(c.tp);
    CAPTURE(c.dp);
    CAPTURE(c.zero);
    const memsim::evaluation::CompiledPlan compiled(layout(c.model, c.tp, c.dp, c.zero));
    const int64_t exact = compiled.graph().parameter_count();
    // ZeRO-3 splits one copy over the whole DP group; otherwise each DP replica holds one.
    const int64_t replicas = c.zero == 3 ? 1 : c.dp;
    int64_t sum = 0;
    for (int64_t rank = 0; rank < compiled.world_size(); ++rank) {
      sum += compiled.rank_parameters(rank);
    }
    CHECK(sum == exact * replicas);
  }
}

TEST_CASE("with layers of other kinds, each stage holds its own layers' parameters") {
  // Llama 2 7B's first two of four layers twice as wide, on two pipeline stages.
  Plan plan = layout("llama2-7b", 2, 1, 0);
  plan.model.layer_kinds = {{0, 1, 2 * plan.model.ffn}};
  plan.cluster.gpus_per_node = 4;
  plan.parallel.pp.stages = 2;
  const memsim::evaluation::CompiledPlan compiled(plan);
  const int64_t h = plan.model.hidden;
  const auto layer = [&](int64_t ffn) { return 4 * h * h + 3 * h * ffn + 2 * h; };
  // The vocabulary (32,000) is padded to a multiple of 128 × tp: 32,000 already is.
  const int64_t embedding = plan.model.vocab * h;
  CHECK(compiled.rank_parameters(0) + compiled.rank_parameters(1) ==
        embedding + 2 * layer(2 * plan.model.ffn));
  CHECK(compiled.rank_parameters(2) + compiled.rank_parameters(3) ==
        2 * layer(plan.model.ffn) + h + embedding);
}

TEST_CASE("all ranks of a data-parallel group report the same peak") {
  for (int zero : {0, 1, 2, 3}) {
    CAPTURE(zero);
    const auto report = memsim::evaluation::evaluate(layout("qwen2.5-7b", 2, 4, zero, true));
    REQUIRE(report.ranks.size() == 8);
    for (const auto& rank : report.ranks) {
      CHECK(rank.memory.peak == report.ranks[rank.placement.tp_rank].memory.peak);
      CHECK(rank.memory.at_peak == report.ranks[rank.placement.tp_rank].memory.at_peak);
    }
  }
}

TEST_CASE("the vocabulary is padded to a multiple of 128 × tp and split evenly") {
  // Qwen2.5's 152,064 rows with tp = 8 pad to 152,576 (149 × 1,024): 19,072 rows per rank.
  auto plan = layout("qwen2.5-32b", 8, 1, 0);
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& graph = compiled.graph();
  const auto& program = compiled.program(0);
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op) {
    if (graph.op(op).kind != memsim::sim::OpKind::kLmHead) continue;
    const auto logits = graph.op(op).outputs[0];
    CHECK(program.tensor_bytes(logits).value() == 2 * 256 * 19'072);
  }
  CHECK(memsim::strategies::padded_vocab(152'064, plan.parallel.tp) == 152'576);
  plan.parallel.tp.degree = 1;
  CHECK(memsim::strategies::padded_vocab(152'064, plan.parallel.tp) == 152'064);
}

TEST_CASE("ZeRO shards model states: optimizer (1), gradients (2), parameters (3)") {
  using memsim::sim::Category;
  std::map<int, memsim::sim::CategoryBytes> by_stage;
  for (int zero : {0, 1, 2, 3}) {
    auto plan = layout("llama2-7b", 1, 4, zero);
    plan.parallel.dp.persistence_threshold = 0;
    by_stage[zero] = memsim::evaluation::CompiledPlan(plan).program(0).resident;
  }
  const int64_t psi =
      memsim::evaluation::CompiledPlan(layout("llama2-7b", 1, 4, 0)).graph().parameter_count();
  // 16 bytes per parameter, quartered piece by piece (dp = 4; ⌈ψ / 4⌉ elements per rank).
  const int64_t quarter = (psi + 3) / 4;
  CHECK(by_stage[0][Category::kOptimizer].value() == 8 * psi);
  CHECK(by_stage[1][Category::kOptimizer].value() == 8 * psi / 4);
  CHECK(by_stage[1][Category::kMasterWeights].value() == 4 * quarter);
  CHECK(by_stage[1][Category::kGradients].value() == 2 * psi);
  CHECK(by_stage[2][Category::kGradients].value() == 2 * quarter);
  CHECK(by_stage[2][Category::kWeights].value() == 2 * psi);
  CHECK(by_stage[3][Category::kWeights].value() == 2 * quarter);
}

TEST_CASE("ZeRO-3 gathers each layer, and the next, around its forward and backward") {
  using memsim::sim::Category;
  auto plan = layout("llama2-7b", 1, 4, 3);
  plan.parallel.dp.persistence_threshold = 0;
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto w = memsim::testing::walk(plan);
  const int64_t resident = compiled.program(0).resident[Category::kWeights].value();
  // One LLaMA-2-7B layer: 4 × 4096² + 3 × 4096 × 11008 + 2 × 4096 elements, in bf16.
  const int64_t layer = 2 * (4LL * 4096 * 4096 + 3LL * 4096 * 11008 + 2 * 4096);
  int64_t live = 0;
  int64_t during_layer_1 = 0;
  for (const auto& e : w.timeline.events()) {
    if (e.category != Category::kWeights) continue;
    live += e.delta.value();
    if (e.phase == memsim::sim::Phase::kForward && e.microbatch == 0 && e.layer == 1) {
      during_layer_1 = std::max(during_layer_1, live);
    }
  }
  CHECK(during_layer_1 == resident + 2 * layer);  // layer 1 and the prefetched layer 2
  CHECK(live == resident);                        // everything gathered was released
}

TEST_CASE("offload keeps optimizer states, master weights and fp32 gradients in host memory") {
  using memsim::sim::Category;
  auto plan = layout("qwen2.5-7b", 1, 4, 2);
  plan.parallel.dp.offload = memsim::strategies::Offload::kOptimizer;
  const auto report = memsim::evaluation::evaluate(plan);
  const int64_t psi = report.parameters;
  const int64_t quarter = (psi + 3) / 4;
  const auto& rank = report.ranks[0];
  CHECK(rank.memory.max_by_category[Category::kOptimizer].value() == 0);
  CHECK(rank.memory.max_by_category[Category::kMasterWeights].value() == 0);
  // Per rank: fp32 master (4) and fp32 gradients (4) of its quarter, Adam moments (8/4).
  CHECK(rank.cpu_bytes.value() == 4 * quarter + 4 * quarter + 8 * psi / 4);
  CHECK(report.cpu_bytes_per_node.value() == 4 * rank.cpu_bytes.value());
  CHECK(report.cpu_fits);

  plan.cluster.cpu_memory_override = memsim::sim::Bytes(1);
  const auto starved = memsim::evaluation::evaluate(plan);
  CHECK_FALSE(starved.cpu_fits);
  CHECK_FALSE(starved.fits);
  CHECK(starved.ranks[0].fits);  // the GPU itself holds its peak
}

TEST_CASE("sequence parallelism gathers the full input of sharded layers while they run") {
  auto plan = layout("llama2-7b", 4, 1, 0, true);
  const memsim::evaluation::CompiledPlan compiled(plan);
  const auto& graph = compiled.graph();
  const int64_t full_sbh = 2 * 256 * 4096;
  for (memsim::sim::OpId op = 0; op < graph.op_count(); ++op) {
    const auto kind = graph.op(op).kind;
    const auto& program = compiled.program(0);
    const auto buffer = program.size(program.index->buffer(graph.twin_slot(op)));
    if (kind == memsim::sim::OpKind::kQProj || kind == memsim::sim::OpKind::kOutProj ||
        kind == memsim::sim::OpKind::kMlpDown || kind == memsim::sim::OpKind::kLmHead) {
      CHECK(buffer.value() == full_sbh);  // held while its forward, or its backward, runs
    }
    if (kind == memsim::sim::OpKind::kAttentionFlash ||
        kind == memsim::sim::OpKind::kAttentionEager || kind == memsim::sim::OpKind::kNorm) {
      CHECK(buffer.value() == 0);
    }
  }
  plan.parallel.tp.sequence_parallel = false;
  const memsim::evaluation::CompiledPlan plain(plan);
  const auto& index = plain.quantity_index();
  for (int slot = 0; slot < static_cast<int>(plain.graph().twins().size()); ++slot)
    CHECK(plain.program(0).size(index.buffer(slot)).value() == 0);
}

TEST_CASE("overheads: CUDA context, NCCL per process group, allocator reserve") {
  const memsim::evaluation::CompiledPlan single(layout("llama2-7b", 1, 1, 0));
  CHECK(single.overheads(0).process_groups == 0);
  const memsim::evaluation::CompiledPlan both(layout("llama2-7b", 2, 2, 0));
  const auto& parts = both.overheads(0);
  CHECK(parts.process_groups == 2);
  CHECK(parts.communication.value() == 2 * 688'000'000);
  CHECK(parts.cuda_context.value() == 1343LL << 20);
  CHECK(parts.allocator_reserve.value() > 0);
  CHECK(both.program(0).resident[memsim::sim::Category::kOverhead] ==
        parts.cuda_context + parts.communication + parts.allocator_reserve);
}

TEST_CASE("the optimizer step's temporaries are live while it steps, and can set the peak") {
  // A 4-layer Llama 2 7B on one GPU with full recomputation: small activations, so PyTorch's
  // foreach AdamW, one fp32 copy of every second moment, peaks in the step.
  Plan plan = layout("llama2-7b", 1, 1, 0);
  plan.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{};
  plan.training.gradient_buffers = memsim::strategies::GradientBuffers::kOnDemand;
  const auto fused = memsim::testing::walk(plan);
  CHECK(fused.result.peak_moment.phase != memsim::sim::Phase::kOptimizer);

  plan.training.optimizer.implementation = memsim::strategies::StepImplementation::kForeach;
  const auto foreach = memsim::testing::walk(plan);
  using memsim::sim::Category;
  CHECK(foreach.result.peak_moment.phase == memsim::sim::Phase::kOptimizer);
  // As large as one of AdamW's two moments.
  CHECK(foreach.result.at_peak[Category::kTemporary] * 2 ==
        foreach.result.at_peak[Category::kOptimizer]);
  // Gradients made on demand are all held in the step, and freed after it.
  CHECK(foreach.result.at_peak[Category::kGradients] ==
        foreach.result.max_by_category[Category::kGradients]);
  int64_t live = 0;
  for (const auto& e : foreach.timeline.events()) {
    if (e.category == Category::kTemporary) live += e.delta.value();
    if (e.phase == memsim::sim::Phase::kOptimizer) CHECK(e.category != Category::kActivations);
  }
  CHECK(live == 0);
}
