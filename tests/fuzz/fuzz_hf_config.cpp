// The Hugging Face config.json reader on arbitrary text.

#include "fuzz_support.h"
#include "scenarios/hf_config.h"
#include "sim/layer_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = memsim::fuzz::text_of(data, size);
  memsim::fuzz::expect_input_errors_only([&] {
    std::vector<memsim::scenarios::Diagnostic> warnings;
    const memsim::sim::ModelSpec spec =
        memsim::scenarios::parse_hf_config(text, "config.json", &warnings);
    // What the reader accepts, the layer graph must build (and count) without complaint.
    if (spec.layers <= 64) memsim::sim::LayerGraph(spec).parameter_count();
  });
  return 0;
}
