#pragma once
/// Reads a Hugging Face config.json into a ModelSpec, so users need not retype a model.
/// Families: LLaMA, Mistral, Qwen2 (SwiGLU, RMSNorm, rotary) and GPT-2. Every key of the file
/// is accounted for: read, knowingly ignored (each with the reason: it does not change what
/// memsim simulates), or refused because it changes the architecture in a way memsim does
/// not model (a mixture of experts, latent attention, ...). A key memsim does not know is a
/// warning, never silently ignored.

#include <string>
#include <vector>

#include "scenarios/diagnostics.h"
#include "sim/model_spec.h"

namespace memsim::scenarios {

/// Reads `path`; errors point into the JSON file where possible. Keys memsim does not know
/// are added to `warnings` (when given).
sim::ModelSpec read_hf_config(const std::string& path, std::vector<Diagnostic>* warnings = nullptr);

/// The same, from the file's text; `origin` names it in messages.
sim::ModelSpec parse_hf_config(const std::string& text, const std::string& origin,
                               std::vector<Diagnostic>* warnings = nullptr);

}  // namespace memsim::scenarios
