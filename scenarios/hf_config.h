#pragma once
/// Reads a Hugging Face config.json into a ModelSpec, so users need not retype a model.
/// Families: LLaMA, Mistral, Qwen2 (SwiGLU, RMSNorm, rotary) and GPT-2.

#include <string>

#include "scenarios/diagnostics.h"
#include "sim/model_spec.h"

namespace memsim::scenarios {

/// Reads `path`; errors point into the JSON file where possible.
sim::ModelSpec read_hf_config(const std::string& path);

}  // namespace memsim::scenarios
