#pragma once
/// Helpers shared by the tests: plans built in code, one-rank simulations with their
/// timelines, and running the memsim binary.

#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <doctest/doctest.h>

#include "evaluation/compiled_plan.h"
#include "evaluation/schedule_order.h"
#include "scenarios/scenario.h"
#include "scenarios/sweep.h"
#include "sim/microbatch_recipe.h"
#include "sim/timeline.h"
#include "strategies/plan.h"

namespace memsim::testing {

/// A one-GPU plan for `model` on an A100-80GB: bf16-mixed AdamW, one microbatch.
strategies::Plan one_gpu_plan(const sim::ModelSpec& model, int64_t seq_len,
                              int64_t micro_batch = 1);

/// Inference of preset `model` on one A100-80GB: `batch` sequences of `prompt` tokens, then
/// `generate` decode steps; bf16 weights and cache.
strategies::Plan serving_plan(const std::string& model, int64_t batch, int64_t prompt,
                              int64_t generate);

/// `schedule`'s order on p stages of v chunks with m microbatches, every step ordered one by
/// one (order_of extends long ones from short ones: this is what they must equal).
evaluation::ScheduleOrder order_every_step(const std::string& schedule, int64_t p, int64_t v,
                                           int64_t m);

/// Calls `check(schedule, p, v, m)` on the schedule shapes that derivations from shorter
/// schedules must reproduce: 1F1B and GPipe on 1 to 12 stages at every microbatch count up
/// to 8p + 40 and at 257 and 1,000 (1F1B); interleaved and zero-bubble with 2 to `most_v`
/// chunks per stage (zero-bubble also with one) at multiples of p up to `most_m(p)`.

void for_each_schedule_shape(
    const std::function<void(const std::string&, int64_t, int64_t, int64_t)>& check, int64_t most_v,
    const std::function<int64_t(int64_t)>& most_m);

/// A preset's spec (REQUIREd to exist).
sim::ModelSpec preset(const std::string& name);

struct Walk {
  sim::RankResult result;
  sim::Timeline timeline;
};
/// Simulates rank `rank` of `plan`, recording its timeline.
Walk walk(const strategies::Plan& plan, int64_t rank = 0);

/// Bytes of activations saved during the first forward by the ops of `layer`.
int64_t forward_activation_bytes(const sim::Timeline& timeline, int32_t layer);

/// The messages of the strategy passes' checks that `plan` fails.
std::vector<std::string> refusals(const strategies::Plan& plan);

/// The net bytes a pass of `recipe` (`ops`) allocates on the GPU, at `sizes`.
int64_t pass_net_bytes(const sim::MicrobatchRecipe& recipe, const std::vector<sim::RecipeOp>& ops,
                       const std::vector<sim::Bytes>& sizes);

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
/// Runs the built memsim binary with `args` (shell-quoted here) from the source folder, with
/// MEMSIM_HARDWARE set to `memsim_hardware` and COLUMNS empty (so that the caller's own
/// settings never leak in).
ProcessResult run_memsim(const std::vector<std::string>& args,
                         const std::string& memsim_hardware = "");

/// Runs `command` with bash from the source folder, with $MEMSIM naming the built binary
/// and MEMSIM_HARDWARE and COLUMNS empty.
ProcessResult run_shell(const std::string& command);

/// Starts the built memsim with `args` (its stderr to /dev/null) and returns its pid.
pid_t spawn_memsim(const std::vector<std::string>& args);

/// A file under the source tree.
std::string source_path(const std::string& relative);

/// Writes `text` to a fresh file in a temporary folder; returns its path.
std::string write_temp_file(const std::string& name, const std::string& text);

/// A scenario file (written under `folder` of the temporary folder) whose sweep of 11.5 million
/// points on a small model runs for many seconds: for stopping sweeps midway.
std::string long_sweep_scenario(const std::string& folder);

/// The temporary file that `memsim ... -o target` writes beside `target`, once it holds at
/// least `bytes` (waiting up to a minute); "" if none appeared.
std::string wait_for_temporary_file(const std::string& target, uintmax_t bytes);

/// One entry of a GPU profile file's `gpus:` list, with every required key.
std::string gpu_profile_yaml(const std::string& name, int64_t memory_mib);

/// The scenario in `text`, read as if from a file named `name`.
scenarios::Scenario scenario_from_text(const std::string& text, const std::string& name,
                                       const std::vector<std::string>& overrides = {});

/// The sweeps (one per variant) of the scenario in `text`.
std::vector<scenarios::VariantSweep> sweeps_from_text(const std::string& text);

/// The diagnostics `read` throws as an InputError (fails the test when it throws none).
std::vector<scenarios::Diagnostic> diagnostics_of(const std::function<void()>& read);

/// Whether one of `diagnostics` is at line:column and its message contains `part`.
bool has_diagnostic(const std::vector<scenarios::Diagnostic>& diagnostics, int line, int column,
                    const std::string& part);

}  // namespace memsim::testing

namespace doctest {
template <>
struct StringMaker<memsim::sim::Bytes> {
  static String convert(const memsim::sim::Bytes& bytes) {
    return std::to_string(bytes.value()).c_str();
  }
};
}  // namespace doctest
