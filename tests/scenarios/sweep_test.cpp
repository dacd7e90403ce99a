// Reading a scenario's sweep: the grid's axes and values, `auto`, the points' plans,
// skipped points and `where:` constraints, and errors where they are written.

#include "scenarios/sweep.h"

#include <map>
#include <numeric>
#include <random>

#include <doctest/doctest.h>

#include "scenarios/scenario_keys.h"
#include "support/test_support.h"

namespace {

using memsim::scenarios::Diagnostic;
using memsim::scenarios::InputError;
using memsim::scenarios::VariantSweep;

// 8 heads, 2 KV heads, MLP 1536 on 8 GPUs.
const char* kBase = R"(name: sweep
model: {layers: 4, hidden: 512, heads: 8, kv_heads: 2, ffn: 1536, vocab: 1024}
hardware: {gpu: a100-80gb, gpus_per_node: 8}
training: {seq_len: 256, micro_batch: 1, global_batch: 32}
parallel: {dp: auto}
)";

/// The diagnostics of reading the sweep of `text` (fails the test if it reads).
std::vector<Diagnostic> errors_of(const std::string& text) {
  return memsim::testing::diagnostics_of([&] { memsim::testing::sweeps_from_text(text); });
}

bool has(const std::vector<Diagnostic>& errors, int line, int column, const std::string& part) {
  return memsim::testing::has_diagnostic(errors, line, column, part);
}

}  // namespace

TEST_CASE("auto expands tp and pp to every valid degree, the last key varying fastest") {
  const auto sweeps = memsim::testing::sweeps_from_text(std::string(kBase) + R"(sweep:
  parallel.tp: auto
  parallel.pp: auto
  training.micro_batch: [1, 2]
)");
  REQUIRE(sweeps.size() == 1);
  const auto& sweep = sweeps.front().sweep;
  REQUIRE(sweep.axes().size() == 3);
  // Divisors of 8 GPUs that divide 8 heads and 1536 and fit 2 KV heads: all of 1, 2, 4, 8.
  CHECK(sweep.axes()[0].labels == std::vector<std::string>{"1", "2", "4", "8"});
  // Divisors of 8 with at least one of the 4 layers per stage.
  CHECK(sweep.axes()[1].labels == std::vector<std::string>{"1", "2", "4"});
  CHECK(sweep.points() == 4 * 3 * 2);
  std::vector<size_t> at;
  sweep.coordinates(1, at);
  CHECK(at == std::vector<size_t>{0, 0, 1});
  sweep.coordinates(4 * 3 * 2 - 1, at);
  CHECK(at == std::vector<size_t>{3, 2, 1});
}

TEST_CASE("a point's plan is the base with each swept value, and dp: auto resolved") {
  const auto sweeps = memsim::testing::sweeps_from_text(std::string(kBase) + R"(sweep:
  parallel.tp: [2, 4]
  checkpointing: [none, {full: {every: 2}}]
  model: [llama2-7b, {layers: 4, hidden: 512, heads: 8, ffn: 1536, vocab: 1024}]
)");
  const auto& sweep = sweeps.front().sweep;
  CHECK(sweep.axes()[1].labels == std::vector<std::string>{"none", "{full: {every: 2}}"});
  auto plan = sweep.base();
  // Point (tp 4, full every 2, llama2-7b) = index 1·4 + 1·2 + 0.
  CHECK(sweep.prepare(6, plan).empty());
  CHECK(plan.parallel.tp.degree == 4);
  CHECK(plan.parallel.dp.degree == 2);  // 8 GPUs / tp 4
  CHECK(plan.model.name == "llama2-7b");
  CHECK(std::holds_alternative<memsim::strategies::FullCheckpointing>(
      plan.training.chunk_passes.checkpointing));
  // Back to an earlier point: every swept field, and the resolved dp, follow.
  CHECK(sweep.prepare(1, plan).empty());
  CHECK(plan.parallel.tp.degree == 2);
  CHECK(plan.parallel.dp.degree == 4);
  CHECK(plan.model.layers == 4);
}

TEST_CASE("invalid layouts and broken constraints are skipped with their reason") {
  const auto sweeps = memsim::testing::sweeps_from_text(std::string(kBase) + R"(sweep:
  parallel.tp: [1, 3, 8]
  training.micro_batch: [1, 64]
where:
  - parallel.tp * training.micro_batch <= 8
)");
  const auto& sweep = sweeps.front().sweep;
  std::map<std::string, int> skipped;
  int valid = 0;
  auto plan = sweep.base();
  for (uint64_t i = 0; i < sweep.points(); ++i) {
    const std::string_view reason = sweep.prepare(i, plan);
    reason.empty() ? ++valid : ++skipped[std::string(reason)];
  }
  // tp 3 divides neither 8 GPUs nor 8 heads (the first problem found counts); micro_batch 64
  // with dp 8 (tp 1) or dp 1 (tp 8) does not divide the global batch of 32; tp 8 with
  // micro_batch 1 breaks nothing; tp 1, micro_batch 1 is valid.
  CHECK(valid == 2);
  CHECK(skipped["tp × pp does not divide the GPUs"] == 2);
  CHECK(skipped["global batch not divisible by micro_batch × dp"] == 2);
  CHECK(skipped.size() == 2);

  const auto constrained = memsim::testing::sweeps_from_text(std::string(kBase) + R"(sweep:
  parallel.tp: [1, 2, 4, 8]
where:
  - parallel.tp * 2 < 9
  - parallel.tp != 2
)");
  const auto& s = constrained.front().sweep;
  plan = s.base();
  CHECK(s.prepare(0, plan).empty());
  CHECK(s.prepare(1, plan) == "where: parallel.tp != 2");
  CHECK(s.prepare(2, plan).empty());
  CHECK(s.prepare(3, plan) == "where: parallel.tp * 2 < 9");
}

TEST_CASE("every variant of compare: gets the sweep") {
  const auto sweeps = memsim::testing::sweeps_from_text(std::string(kBase) + R"(compare:
  - {name: zero3, parallel: {zero: 3}}
sweep:
  training.micro_batch: [1, 2]
)");
  REQUIRE(sweeps.size() == 2);
  CHECK(sweeps[0].name == "base");
  CHECK(sweeps[1].name == "zero3");
  CHECK(sweeps[1].sweep.base().parallel.dp.zero == 3);
}

TEST_CASE("sweep errors point at the key or value at fault") {
  // Line 6 is the first line after the base.
  auto errors = errors_of(std::string(kBase) + R"(sweep:
  parallel.tpp: [1, 2]
  training.micro_batch: 4
  parallel.zero: [1, 7]
  training.optimizer: auto
)");
  CHECK(has(errors, 7, 3, "unknown key 'parallel.tpp'; did you mean 'parallel.tp'?"));
  CHECK(has(errors, 8, 25, "training.micro_batch needs a non-empty list of values"));
  CHECK(has(errors, 9, 22, "parallel.zero"));
  CHECK(has(errors, 10, 23, "needs a non-empty list of values"));

  errors = errors_of(std::string(kBase) + R"(sweep: {parallel.tp: [1, 2]}
where:
  - parallel.tp <=
  - parallel.tpp < 4
  - parallel.schedule == 1
  - parallel.tp ~ 2
)");
  CHECK(has(errors, 8, 5, "expected two sides and a comparison"));
  CHECK(has(errors, 9, 5, "'parallel.tpp' is not a number or a numeric scenario key"));
  CHECK(has(errors, 10, 5, "'parallel.schedule' is not a number or a numeric scenario key"));
  CHECK(has(errors, 11, 5, "unexpected '~'"));

  CHECK_THROWS_AS(memsim::testing::sweeps_from_text(kBase), InputError);  // no sweep: at all
}

TEST_CASE("every scenario key can be swept") {
  // Sections and their keys, as docs/scenarios.md lists them.
  for (const auto& key : memsim::scenarios::scenario_keys()) {
    const std::string section = key.section;
    if (section.empty() || section == "compare") continue;
    const std::string dotted = key.key;
    CAPTURE(dotted);
    CHECK(memsim::scenarios::find_sweep_key(dotted) != nullptr);
  }
}

TEST_CASE("a section's axis and its keys' axes both hold at every point, in either order") {
  // `precision` copies the whole section: swept with `precision.gradients`, each point must
  // keep its recipe and its gradient dtype, whichever axis is written first.
  for (const char* axes : {"  precision: [fp32, bf16]\n  precision.gradients: [fp32, bf16]\n",
                           "  precision.gradients: [fp32, bf16]\n  precision: [fp32, bf16]\n"}) {
    CAPTURE(axes);
    const auto sweeps = memsim::testing::sweeps_from_text(std::string(kBase) + "sweep:\n" + axes);
    const auto& sweep = sweeps.front().sweep;
    REQUIRE(sweep.points() == 4);
    const bool recipe_first = sweep.axes()[0].key == "precision";
    memsim::strategies::Plan plan = sweep.base();
    for (uint64_t point = 0; point < 4; ++point) {
      CAPTURE(point);
      REQUIRE(sweep.prepare(point, plan).empty());
      const uint64_t recipe = recipe_first ? point / 2 : point % 2;
      const uint64_t gradients = recipe_first ? point % 2 : point / 2;
      CHECK(plan.precision.recipe == (recipe == 0 ? memsim::strategies::PrecisionRecipe::kFp32
                                                  : memsim::strategies::PrecisionRecipe::kBf16));
      CHECK(plan.precision.gradients ==
            (gradients == 0 ? memsim::strategies::Dtype::kFp32 : memsim::strategies::Dtype::kBf16));
    }
  }
}

TEST_CASE("framework is not swept: a profile applies to a whole configuration") {
  const auto errors = errors_of(std::string(kBase) + "sweep:\n  framework: [hf, megatron]\n");
  CHECK(has(errors, 7, 3, "sweep: framework is not swept; compare: variants may each name one"));
}

TEST_CASE("an optimizer's implementation sweeps with it, in either order") {
  for (const char* axes :
       {"  training.optimizer: [adamw, sgd]\n  training.optimizer.implementation: [fused, "
        "foreach]\n",
        "  training.optimizer.implementation: [fused, foreach]\n  training.optimizer: [adamw, "
        "sgd]\n"}) {
    CAPTURE(axes);
    const auto sweeps = memsim::testing::sweeps_from_text(std::string(kBase) + "sweep:\n" + axes);
    const auto& sweep = sweeps.front().sweep;
    REQUIRE(sweep.points() == 4);
    const bool name_first = sweep.axes()[0].key == "training.optimizer";
    memsim::strategies::Plan plan = sweep.base();
    for (uint64_t point = 0; point < 4; ++point) {
      CAPTURE(point);
      REQUIRE(sweep.prepare(point, plan).empty());
      const uint64_t name = name_first ? point / 2 : point % 2;
      const uint64_t implementation = name_first ? point % 2 : point / 2;
      CHECK(plan.training.optimizer.name == (name == 0 ? "adamw" : "sgd"));
      CHECK(plan.training.optimizer.implementation ==
            (implementation == 0 ? memsim::strategies::StepImplementation::kFused
                                 : memsim::strategies::StepImplementation::kForeach));
    }
  }
}

TEST_CASE("a sweep's values keep the shorthands a scenario's keys have") {
  // `training.optimizer: sgd` is `{name: sgd}`, as `model: NAME` is `{preset: NAME}`.
  const auto sweeps = memsim::testing::sweeps_from_text(
      std::string(kBase) + "sweep:\n  training.optimizer: [adamw, sgd]\n");
  const auto& axis = sweeps.front().sweep.axes().front();
  REQUIRE(axis.plans.size() == 2);
  CHECK(axis.plans[0].training.optimizer.name == "adamw");
  CHECK(axis.plans[1].training.optimizer.name == "sgd");
}

TEST_CASE("a sweep plan makes every point as prepare does, in order and after jumps") {
  // Sections with their keys (in either order), dp: auto and the global batch that
  // resolving fills in, a layout key and a skip reason; the last axis changes only the
  // global batch (the parallel layout kept from the point before).
  const auto sweeps = memsim::testing::sweeps_from_text(std::string(kBase) + R"(sweep:
  precision.gradients: [fp32, bf16]
  parallel: [{dp: auto, zero: 1}, {dp: 2, zero: 3}]
  parallel.tp: [1, 2, 3]
  training: [{seq_len: 128, micro_batch: 2, global_batch: 64}, {seq_len: 256}]
  precision: [fp32, bf16]
  training.global_batch: [16, 24, 32]
)");
  const auto& sweep = sweeps.front().sweep;
  memsim::scenarios::SweepPlan walked(sweep);
  std::mt19937_64 random(7);
  std::vector<uint64_t> order(sweep.points());
  std::iota(order.begin(), order.end(), uint64_t{0});
  std::vector<uint64_t> jumps(64);
  for (uint64_t& point : jumps)
    point = random() % sweep.points();
  order.insert(order.end(), jumps.begin(), jumps.end());
  std::map<std::string, int> reasons;
  for (const uint64_t point : order) {
    CAPTURE(point);
    memsim::strategies::Plan fresh = sweep.base();
    const std::string_view expected = sweep.prepare(point, fresh);
    CHECK(walked.prepare(point) == expected);
    CHECK(walked.plan() == fresh);
    ++reasons[std::string(expected)];
  }
  CHECK(reasons.size() >= 3);  // valid points and at least two kinds of skipped ones
}
