#include "scenarios/model_presets.h"

namespace memsim::scenarios {

namespace {

using sim::AttentionImpl;
using sim::FfnType;
using sim::ModelSpec;
using sim::NormType;
using sim::PositionType;

// GPT-2 and GPT-3: GeLU MLP of 4h, LayerNorm with bias, biases everywhere, learned
// positions, LM head tied to the embedding, dropout 0.1 (GPT-2's config; Megatron's GPT-3
// recipe and Korthikanti et al. 2022 assume the same).
ModelSpec gpt(std::string name, int64_t layers, int64_t hidden, int64_t heads, int64_t positions) {
  ModelSpec spec;
  spec.name = std::move(name);
  spec.layers = layers;
  spec.hidden = hidden;
  spec.heads = heads;
  spec.kv_heads = heads;
  spec.ffn = 4 * hidden;
  spec.vocab = 50257;
  spec.ffn_type = FfnType::kGelu;
  spec.tied_embeddings = true;
  spec.norm = NormType::kLayerNorm;
  spec.bias = true;
  spec.positions = PositionType::kLearned;
  spec.max_positions = positions;
  spec.attention = AttentionImpl::kEager;
  spec.dropout = 0.1;
  return spec;
}

// LLaMA-family decoders: SwiGLU MLP, RMSNorm, no biases, rotary positions, untied head.
ModelSpec llama(std::string name, int64_t layers, int64_t hidden, int64_t heads, int64_t kv_heads,
                int64_t ffn, int64_t vocab, bool qkv_bias = false) {
  ModelSpec spec;
  spec.name = std::move(name);
  spec.layers = layers;
  spec.hidden = hidden;
  spec.heads = heads;
  spec.kv_heads = kv_heads;
  spec.ffn = ffn;
  spec.vocab = vocab;
  spec.ffn_type = FfnType::kSwiGlu;
  spec.tied_embeddings = false;
  spec.norm = NormType::kRmsNorm;
  spec.bias = false;
  spec.qkv_bias = qkv_bias;
  spec.positions = PositionType::kRope;
  spec.attention = AttentionImpl::kEager;
  spec.dropout = 0.0;
  return spec;
}

// Attention over the last `window` tokens only (Mistral 7B v0.1: Jiang et al. 2023, §2;
// its config.json's sliding_window).
ModelSpec windowed(ModelSpec spec, int64_t window) {
  spec.attention_window = window;
  return spec;
}

}  // namespace

// Dimensions from each model's Hugging Face config.json (reference/formulas.md §1).
const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"gpt2-124m", {"gpt2"}, "GPT-2 small (OpenAI, 2019)", gpt("gpt2-124m", 12, 768, 12, 1024)},
      {"gpt3-175b", {}, "GPT-3 175B (Brown et al. 2020)", gpt("gpt3-175b", 96, 12288, 96, 2048)},
      {"llama2-7b", {}, "Llama 2 7B", llama("llama2-7b", 32, 4096, 32, 32, 11008, 32000)},
      {"llama2-13b", {}, "Llama 2 13B", llama("llama2-13b", 40, 5120, 40, 40, 13824, 32000)},
      {"llama2-70b",
       {},
       "Llama 2 70B (grouped-query attention)",
       llama("llama2-70b", 80, 8192, 64, 8, 28672, 32000)},
      {"llama3-8b",
       {"llama3.1-8b"},
       "Llama 3 / 3.1 8B",
       llama("llama3-8b", 32, 4096, 32, 8, 14336, 128256)},
      {"llama3-70b",
       {"llama3.1-70b"},
       "Llama 3 / 3.1 70B",
       llama("llama3-70b", 80, 8192, 64, 8, 28672, 128256)},
      {"llama3.1-405b",
       {"llama3-405b"},
       "Llama 3.1 405B",
       llama("llama3.1-405b", 126, 16384, 128, 8, 53248, 128256)},
      {"mistral-7b",
       {},
       "Mistral 7B v0.1 (sliding-window attention over 4,096 tokens)",
       windowed(llama("mistral-7b", 32, 4096, 32, 8, 14336, 32000), 4096)},
      {"qwen2.5-7b",
       {},
       "Qwen2.5 7B (biases on q, k, v)",
       llama("qwen2.5-7b", 28, 3584, 28, 4, 18944, 152064, true)},
      {"qwen2.5-32b",
       {"deepseek-r1-distill-qwen-32b"},
       "Qwen2.5 32B; DeepSeek-R1-Distill-Qwen-32B has this architecture",
       llama("qwen2.5-32b", 64, 5120, 40, 8, 27648, 152064, true)},
      {"qwen2.5-72b",
       {},
       "Qwen2.5 72B",
       llama("qwen2.5-72b", 80, 8192, 64, 8, 29568, 152064, true)},
  };
  return presets;
}

const ModelPreset* find_preset(std::string_view name) {
  for (const ModelPreset& preset : model_presets()) {
    if (preset.name == name) return &preset;
    for (const std::string& alias : preset.aliases) {
      if (alias == name) return &preset;
    }
  }
  return nullptr;
}

std::vector<std::vector<std::string>> preset_names() {
  std::vector<std::vector<std::string>> names;
  for (const ModelPreset& preset : model_presets()) {
    names.push_back({preset.name});
    names.back().insert(names.back().end(), preset.aliases.begin(), preset.aliases.end());
  }
  return names;
}

}  // namespace memsim::scenarios
