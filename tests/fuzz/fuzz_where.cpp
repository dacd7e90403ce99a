// A sweep's `where:` constraint on arbitrary text, parsed and evaluated on a plan.

#include "fuzz_support.h"
#include "scenarios/scenario.h"
#include "scenarios/sweep.h"

namespace {

const memsim::strategies::Plan& sample_plan() {
  static const memsim::strategies::Plan plan = [] {
    const auto root = memsim::scenarios::parse_yaml(
        "model: {layers: 4, hidden: 256, heads: 8, ffn: 1024, vocab: 1000}\n"
        "hardware: {gpu: a100-80gb, gpus_per_node: 8}\ntraining: {seq_len: 256}\n",
        "fuzz.yaml");
    return memsim::scenarios::read_scenario(root, "fuzz.yaml").variants.front().plan;
  }();
  return plan;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memsim::fuzz::install_builtin_gpus();
  sample_plan();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = memsim::fuzz::text_of(data, size);
  memsim::scenarios::Diagnostics diagnostics;
  const auto constraint =
      memsim::scenarios::Constraint::parse(text, {"where", 1, 1}, diagnostics);
  if (diagnostics.empty()) constraint.holds(sample_plan());
  return 0;
}
