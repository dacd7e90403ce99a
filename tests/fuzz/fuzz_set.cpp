// `--set KEY=VALUE` on a valid scenario: each line of the input is one override.

#include "fuzz_support.h"
#include "scenarios/scenario.h"

namespace {

const char* kBase = R"(name: fuzz
model: {layers: 4, hidden: 256, heads: 8, kv_heads: 2, ffn: 1024, vocab: 1000}
hardware: {gpu: a100-80gb, gpus_per_node: 8}
training: {seq_len: 256, micro_batch: 1, global_batch: 32}
parallel: {tp: 2, pp: 2, dp: auto}
compare:
  - {name: other, checkpointing: full}
sweep: {parallel.zero: [0, 1]}
)";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  memsim::fuzz::install_builtin_gpus();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = memsim::fuzz::text_of(data, size);
  std::vector<std::string> overrides;
  size_t start = 0;
  while (start < text.size() && overrides.size() < 8) {
    const size_t end = std::min(text.find('\n', start), text.size());
    overrides.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  const auto base = memsim::scenarios::parse_yaml(kBase, "fuzz.yaml");
  for (const bool sweeping : {false, true}) {
    memsim::fuzz::expect_input_errors_only(
        [&] { memsim::scenarios::read_scenario(base, "fuzz.yaml", overrides, "", sweeping); });
  }
  return 0;
}
