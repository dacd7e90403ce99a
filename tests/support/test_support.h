#pragma once
/// Helpers shared by the tests: plans built in code, one-rank simulations with their
/// timelines, and running the memsim binary.

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "sim/timeline.h"
#include "strategies/compiled_plan.h"
#include "strategies/training_plan.h"

namespace memsim::testing {

/// A one-GPU plan for `model` on an A100-80GB: bf16-mixed AdamW, one microbatch.
strategies::TrainingPlan one_gpu_plan(const sim::ModelSpec& model, int64_t seq_len,
                                      int64_t micro_batch = 1);

/// A preset's spec (REQUIREd to exist).
sim::ModelSpec preset(const std::string& name);

struct Walk {
  sim::RankResult result;
  sim::Timeline timeline;
};
/// Simulates rank `rank` of `plan`, recording its timeline.
Walk walk(const strategies::TrainingPlan& plan, int64_t rank = 0);

/// Bytes of activations saved during the first forward by the ops of `layer`.
int64_t forward_activation_bytes(const sim::Timeline& timeline, int32_t layer);

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
/// Runs the built memsim binary with `args` (shell-quoted here) from the source folder.
ProcessResult run_memsim(const std::vector<std::string>& args);

/// A file under the source tree.
std::string source_path(const std::string& relative);

/// Writes `text` to a fresh file in a temporary folder; returns its path.
std::string write_temp_file(const std::string& name, const std::string& text);

}  // namespace memsim::testing

namespace doctest {
template <>
struct StringMaker<memsim::sim::Bytes> {
  static String convert(const memsim::sim::Bytes& bytes) {
    return std::to_string(bytes.value()).c_str();
  }
};
}  // namespace doctest
